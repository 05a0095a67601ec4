import type { AnyRequest } from '../../http/any-request.js'
import type { Authenticator, RequestAuth } from '../../authenticate.js'
import type { AccountsCore } from '../../core.js'
import { NotAuthenticatedError } from '../../errors.js'
import { authenticateHook, type AuthenticateHook } from '../../http/authenticate-hook.js'
import { requestCookie } from '../../http/cookies.js'
import { toAccountUser, type AccountUser } from '../../ports.js'
import { AUTHENTICATION_MESSAGES, drfJwtErrorFormatter, NO_CREDENTIALS } from './errors.js'
import { resolveDrfJwtOptions, type DrfJwtOptions, type ResolvedDrfJwtOptions } from './options.js'
import { DrfJwtTokens, type DecodeFailure, type UserFailure } from './tokens.js'
import { markAuthFailure, type AuthFailure } from '../../auth-failure.js'
import { userIdFromClaim } from '../../tokens.js'

/** What `auth.failed` says of each of drf-jwt's failures. */
const FAILURE_REASONS: Record<DecodeFailure | UserFailure, AuthFailure['reason']> = {
  expired: 'invalid', decode: 'invalid', invalid: 'invalid', payload: 'invalid', missing: 'no-user', revoked: 'revoked', inactive: 'inactive'
}

const MALFORMED: AuthFailure = { scheme: 'jwt', reason: 'invalid', userId: null }

function refused (failure: DecodeFailure | UserFailure, userId: number | null): Error {
  return markAuthFailure(new NotAuthenticatedError(AUTHENTICATION_MESSAGES[failure]), { scheme: 'jwt', reason: FAILURE_REASONS[failure], userId })
}

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
    if (parts.length === 1) throw markAuthFailure(new NotAuthenticatedError('Invalid Authorization header. No credentials provided.'), MALFORMED)
    if (parts.length > 2) throw markAuthFailure(new NotAuthenticatedError('Invalid Authorization header. Credentials string should not contain spaces.'), MALFORMED)
    return parts[1]
  }

  return async function authenticateRequest (request: AnyRequest): Promise<{ user: AccountUser, auth: RequestAuth }> {
    const token = tokenOf(request)
    if (token === null) throw new NotAuthenticatedError(NO_CREDENTIALS)
    const decoded = tokens.decode(token)
    if ('failure' in decoded) throw refused(decoded.failure, null)
    const found = await tokens.user(decoded.payload)
    if ('failure' in found) throw refused(found.failure, userIdFromClaim(decoded.payload.user_id))
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
  return authenticateHook(drfJwtAuthenticateRequest(core, o), drfJwtErrorFormatter(o.authHeaderPrefix), core)
}
