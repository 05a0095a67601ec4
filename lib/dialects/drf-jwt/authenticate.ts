import type { AnyRequest } from '../../http/any-request.js'
import type { Authenticator, RequestAuth } from '../../authenticate.js'
import type { AccountsCore } from '../../core.js'
import { NotAuthenticatedError } from '../../errors.js'
import { authenticateHook, type AuthenticateHook } from '../../http/authenticate-hook.js'
import { requestCookie } from '../../http/cookies.js'
import { toAccountUser, type AccountUser } from '../../ports.js'
import { AUTHENTICATION_MESSAGES, drfJwtErrorFormatter, NO_CREDENTIALS } from './errors.js'
import { resolveDrfJwtOptions, type DrfJwtOptions, type ResolvedDrfJwtOptions } from './options.js'
import { DrfJwtTokens } from './tokens.js'

/** bytes.split(): ASCII whitespace. */
const WHITESPACE = /[ \t\n\r\v\f]+/

/**
 * drf-jwt's JSONWebTokenAuthentication.authenticate: `Authorization: <prefix> <token>` (the prefix in any
 * letter case) or, with no Authorization header at all, the `authCookie` cookie (an unsafe request carrying
 * it from a foreign origin is a 403, as Django's CSRF check answers). Resolves to the user and
 * `{ scheme: 'jwt', claims }`, or throws the 401 to format (drf-jwt's words). Another scheme in the
 * header is "not provided", as in DRF. The shape of `app.accounts.authenticateRequest`.
 */
export function drfJwtAuthenticateRequest (core: AccountsCore, options: ResolvedDrfJwtOptions): Authenticator {
  const tokens = new DrfJwtTokens(core, options)
  const prefix = options.authHeaderPrefix.toLowerCase()
  const cookie = options.authCookie

  function tokenOf (request: AnyRequest): string | null {
    const header = request.headers.authorization
    const parts = typeof header === 'string' ? header.split(WHITESPACE).filter((part) => part !== '') : []
    if (parts.length === 0) {
      const found = cookie === undefined ? undefined : requestCookie(request, cookie)
      if (found === undefined) return null
      // Credentials a browser sends by itself: a state-changing request must come from the site (CSRF, 403).
      core.checkOrigin(request)
      return found
    }
    if (parts[0].toLowerCase() !== prefix) return null
    if (parts.length === 1) throw new NotAuthenticatedError('Invalid Authorization header. No credentials provided.')
    if (parts.length > 2) throw new NotAuthenticatedError('Invalid Authorization header. Credentials string should not contain spaces.')
    return parts[1]
  }

  return async function authenticateRequest (request: AnyRequest): Promise<{ user: AccountUser, auth: RequestAuth }> {
    const token = tokenOf(request)
    if (token === null) throw new NotAuthenticatedError(NO_CREDENTIALS)
    const decoded = tokens.decode(token)
    if ('failure' in decoded) throw new NotAuthenticatedError(AUTHENTICATION_MESSAGES[decoded.failure])
    const found = await tokens.user(decoded.payload)
    if ('failure' in found) throw new NotAuthenticatedError(AUTHENTICATION_MESSAGES[found.failure])
    return { user: toAccountUser(found.user), auth: { scheme: 'jwt', claims: decoded.payload } }
  }
}

/**
 * drf-jwt's authentication as an onRequest hook (what `app.authenticate` is with `dialect: 'drf-jwt'`):
 * fills `request.user` and `request.auth`, or answers 401 {detail} in drf-jwt's words with
 * `WWW-Authenticate: <prefix> realm="api"`.
 */
export function drfJwtAuthenticator (core: AccountsCore, options: DrfJwtOptions = {}): AuthenticateHook {
  const o = resolveDrfJwtOptions(options)
  return authenticateHook(drfJwtAuthenticateRequest(core, o), drfJwtErrorFormatter(o.authHeaderPrefix), core.names)
}
