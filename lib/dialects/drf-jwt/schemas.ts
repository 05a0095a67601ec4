export * from '../../../schemas/drf-jwt.js'
