import type { Dialect } from '../types.js'
import { drfJwtAuthenticator } from './authenticate.js'
import type { DrfJwtOptions } from './options.js'
import { drfJwtRoutes } from './routes.js'

/**
 * django-rest-framework-jwt 1.11 (jpadilla/django-rest-framework-jwt): `api-token-auth/`,
 * `api-token-refresh/`, `api-token-verify/`, its payload, `Authorization: JWT <token>` and its messages.
 * Tokens are signed with the core's key and algorithm.
 */
export const drfJwt: Dialect<DrfJwtOptions> = {
  routes: drfJwtRoutes,
  routeOptions: (options) => options.drfJwt,
  authenticator: drfJwtAuthenticator
}

export { drfJwtRoutes } from './routes.js'
export { drfJwtAuthenticator, drfJwtAuthenticateRequest } from './authenticate.js'
export { drfJwtErrorFormatter } from './errors.js'
export { DrfJwtTokens } from './tokens.js'
export { DRF_JWT_DEFAULTS, resolveDrfJwtOptions, type DrfJwtOptions, type DrfJwtPayload, type ResolvedDrfJwtOptions } from './options.js'
