import type { Dialect } from '../types.js'
import { sanicJwtAuthenticator } from './authenticate.js'
import type { SanicJwtOptions } from './options.js'
import { sanicJwtRoutes } from './routes.js'

/** sanic-jwt 1.8: `POST /auth`, `/auth/verify`, `/auth/me`, `/auth/refresh`; `{reasons, exception}` errors. */
export const sanicJwt: Dialect<SanicJwtOptions> = {
  routes: sanicJwtRoutes,
  routeOptions: (options) => options.sanicJwt,
  authenticator: sanicJwtAuthenticator
}

export { sanicJwtRoutes } from './routes.js'
export { sanicJwtAuthenticator } from './authenticate.js'
export { sanicJwtErrorFormatter, SanicJwtException, type SanicJwtExceptionName } from './errors.js'
export { sanicJwtRefreshKey } from './tokens.js'
export { resolveSanicJwtOptions, SANIC_JWT_DEFAULTS, type ResolvedSanicJwtOptions, type SanicJwtOptions } from './options.js'
