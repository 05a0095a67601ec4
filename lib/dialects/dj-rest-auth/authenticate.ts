import type { AnyRequest } from '../../http/any-request.js'
import type { Authenticator } from '../../authenticate.js'
import type { AccountsCore } from '../../core.js'
import { authenticateHook, type AuthenticateHook } from '../../http/authenticate-hook.js'
import { requestCookie } from '../../http/cookies.js'
import { SAFE_METHODS } from '../../http/csrf.js'
import { requestContext } from '../../request-context.js'
import type { TokenClaims } from '../../tokens.js'
import { createCsrfTokens, type CsrfTokens } from './csrf-token.js'
import { djRestAuthErrorFormatter } from './errors.js'
import { resolveDjRestAuthOptions, type DjRestAuthOptions, type ResolvedDjRestAuthOptions } from './options.js'

/**
 * DRF's authentication as a dj-rest-auth project configures it: the `Authorization` header first (simplejwt's
 * `Bearer <jwt>` and authtoken's `Token <key>`, as the core reads them), then, with `jwtAuthCookie`, the
 * access token in that cookie (dj-rest-auth's JWTCookieAuthentication), refused with a 403 when an unsafe
 * request comes from a foreign origin (Django's CSRF check). Throws the error to format.
 */
export function djRestAuthAuthenticateRequest (
  core: Pick<AccountsCore, 'authenticateRequest' | 'options' | 'checkOrigin' | 'events'>,
  dj: Pick<ResolvedDjRestAuthOptions, 'useJwt' | 'jwtAuthCookie' | 'jwtAuthCookieUseCsrf' | 'csrfCookieName' | 'csrfHeaderName'>
): Authenticator {
  const scheme = core.options.jwt.authHeaderTypes[0]
  const cookieName = dj.useJwt ? dj.jwtAuthCookie : undefined
  const csrf = djRestAuthCsrf(core, dj)
  return async function authenticateRequest (request) {
    const header = request.headers.authorization
    if ((typeof header === 'string' && header !== '') || cookieName === undefined) return core.authenticateRequest(request)
    const raw = requestCookie(request, cookieName)
    if (raw === undefined || raw === '') return core.authenticateRequest(request)
    // Credentials a browser sends by itself: a state-changing request must come from the site (CSRF, 403).
    core.checkOrigin(request)
    // A cookie is one token: whitespace inside makes it an invalid token, not a malformed header.
    const token = /\s/.test(raw) ? '!' : raw
    const authenticated = await core.authenticateRequest({ headers: { authorization: `${scheme} ${token}` } } as unknown as AnyRequest)
    if (csrf !== null && !SAFE_METHODS.has(request.method) && authenticated.auth.scheme === 'jwt') {
      checkCsrfToken(core, csrf, request, authenticated.auth.claims)
    }
    return authenticated
  }
}

/** The double-submit tokens when `jwtAuthCookieUseCsrf` is on; null otherwise. */
export function djRestAuthCsrf (
  core: Pick<AccountsCore, 'options'>, dj: Pick<ResolvedDjRestAuthOptions, 'jwtAuthCookieUseCsrf' | 'csrfCookieName' | 'csrfHeaderName'>
): CsrfTokens | null {
  if (!dj.jwtAuthCookieUseCsrf) return null
  const o = core.options
  return createCsrfTokens({ secretKey: o.secretKey, cookieName: dj.csrfCookieName, headerName: dj.csrfHeaderName, userIdClaim: o.jwt.userIdClaim })
}

/** The double submit of a cookie-authenticated unsafe request (403 in Django's words, with `permission.denied`). */
export function checkCsrfToken (core: Pick<AccountsCore, 'events'>, csrf: CsrfTokens, request: AnyRequest, claims: TokenClaims): void {
  try {
    csrf.check(request, claims)
  } catch (error) {
    core.events.emit('permission.denied', { userId: null, reason: 'csrf-token' }, requestContext(request))
    throw error
  }
}

/**
 * The onRequest hook for `app.authenticate` when the app speaks dj-rest-auth: fills request.user and
 * request.auth from the header or the access cookie, or answers 401 in DRF's shape.
 */
export function djRestAuthAuthenticator (core: AccountsCore, options: DjRestAuthOptions = {}): AuthenticateHook {
  const dj = resolveDjRestAuthOptions(options)
  return authenticateHook(djRestAuthAuthenticateRequest(core, dj), djRestAuthErrorFormatter(dj, core.options.jwt.authHeaderTypes[0]), core)
}
