import { authenticateHook } from '../../http/authenticate-hook.js'
import type { Dialect } from '../types.js'
import { djoserErrorFormatter } from './errors.js'
import { djoserRoutes } from './routes.js'

/** djoser 2.1 + simplejwt 5.2 (the default): `users/`, `jwt/`, `token/`; DRF's error shapes. */
export const djoser: Dialect = {
  routes: djoserRoutes,
  routeOptions: () => ({}),
  authenticator: (core) => authenticateHook(core.authenticateRequest, djoserErrorFormatter(core.options.jwt.authHeaderTypes[0]), core.names)
}

export { djoserRoutes } from './routes.js'
export { djoserErrorFormatter } from './errors.js'
