import { hostAuthenticator } from '../../authenticate.js'
import type { AccountsCore } from '../../core.js'
import { authenticateHook, type AuthenticateHook } from '../../http/authenticate-hook.js'
import { djoserErrorFormatter } from './errors.js'

/**
 * DRF's authentication as a djoser project lists it (simplejwt's `Bearer <jwt>`, then authtoken's
 * `Token <key>`), as an onRequest hook answering 401 in simplejwt's shape: what `app.authenticate` is
 * with the default dialect (`authenticate: 'stateless'`: simplejwt's JWTStatelessUserAuthentication instead).
 * The same arguments as the other dialects' authenticators (djoser has no options).
 */
export function djoserAuthenticator (core: AccountsCore, _options: object = {}): AuthenticateHook {
  return authenticateHook(hostAuthenticator(core), djoserErrorFormatter(core.options.jwt.authHeaderTypes[0]), core)
}
