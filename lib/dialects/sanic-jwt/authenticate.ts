import { setIdentity, type AccountsCore } from '../../core.js'
import { markAuthFailure } from '../../auth-failure.js'
import { emitAuthFailure, type AuthenticateHook } from '../../http/authenticate-hook.js'
import { userIdFromClaim } from '../../tokens.js'
import { sendWire } from '../../http/wire.js'
import { toAccountUser } from '../../ports.js'
import { MESSAGES, SanicJwtException, sanicJwtErrorFormatter } from './errors.js'
import { resolveSanicJwtOptions, type SanicJwtOptions } from './options.js'
import { createSanicJwtCore } from './tokens.js'

/**
 * An onRequest hook for any route of the app, as sanic-jwt's @protected + @inject_user: fills
 * request.user (the active user the token names) and request.auth ({scheme: 'jwt', claims}) from the
 * header or, with cookieSet, the cookie; otherwise answers 401 {reasons, exception: 'Unauthorized'}.
 */
export function sanicJwtAuthenticator (decorator: AccountsCore, options: SanicJwtOptions = {}): AuthenticateHook {
  const o = resolveSanicJwtOptions(options)
  const core = createSanicJwtCore(decorator, o)
  const formatError = sanicJwtErrorFormatter()
  return async function sanicJwtAuthenticate (request, reply) {
    try {
      const claims = core.protect(request, true)
      const user = await core.userOf(claims)
      if (user === null) {
        const userId = userIdFromClaim(claims[o.userIdKey])
        throw markAuthFailure(new SanicJwtException('Unauthorized', 401, MESSAGES.userGone), { scheme: 'jwt', reason: 'no-user', userId })
      }
      setIdentity(request, decorator.names, toAccountUser(user), { scheme: 'jwt', claims })
    } catch (error) {
      emitAuthFailure(decorator.events, error, request)
      const answer = formatError(error)
      if (answer === null) throw error
      await sendWire(reply, answer)
    }
  }
}
