import type { Dialect } from '../types.js'
import { djoserAuthenticator } from './authenticate.js'
import { djoserRoutes } from './routes.js'

/** djoser 2.1 + simplejwt 5.2 (the default): `users/`, `jwt/`, `token/`; DRF's error shapes. */
export const djoser: Dialect = {
  routes: djoserRoutes,
  routeOptions: () => ({}),
  authenticator: djoserAuthenticator
}

export { djoserRoutes } from './routes.js'
export { djoserAuthenticator } from './authenticate.js'
export { djoserErrorFormatter } from './errors.js'
