export * from '../../../schemas/sanic-jwt.js'
