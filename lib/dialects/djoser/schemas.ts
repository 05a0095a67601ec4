export * from '../../../schemas/djoser.js'
