import type { Dialect } from '../types.js'
import { djRestAuthAuthenticator } from './authenticate.js'
import type { DjRestAuthOptions } from './options.js'
import { djRestAuthRoutes } from './routes.js'

/** dj-rest-auth 5 (+ allauth registration): `login/`, `user/`, `password/…`, `registration/…`, JWT cookies. */
export const djRestAuth: Dialect<DjRestAuthOptions> = {
  routes: djRestAuthRoutes,
  routeOptions: (options) => options.djRestAuth,
  authenticator: djRestAuthAuthenticator
}

export { djRestAuthRoutes } from './routes.js'
export { djRestAuthAuthenticator, djRestAuthAuthenticateRequest } from './authenticate.js'
export { djRestAuthErrorFormatter } from './errors.js'
export { DJ_REST_AUTH_DEFAULTS, djRestAuthCoreDefaults, resolveDjRestAuthOptions, type DjRestAuthOptions, type ResolvedDjRestAuthOptions } from './options.js'
