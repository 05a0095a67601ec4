export * from '../../../schemas/dj-rest-auth.js'
