import type { Authenticator, TokenUserAuthenticator } from '../identity.js'
import { authFailureOf } from '../auth-failure.js'
import type { AnyReply, AnyRequest } from './any-request.js'
import { setIdentity, type AccountsCore } from '../core.js'
import { requestContext } from '../request-context.js'
import { sendWire, type ErrorFormatter } from './wire.js'

/** The onRequest hook `app.authenticate` is: fills the request's user and auth, or answers in the dialect's shape. */
export type AuthenticateHook = (request: AnyRequest, reply: AnyReply) => Promise<void>

/** An onRequest hook that fills request.user and request.auth (under their configured names), or answers in the dialect's shape. */
export function authenticateHook (authenticateRequest: Authenticator | TokenUserAuthenticator, formatError: ErrorFormatter, core: Pick<AccountsCore, 'names' | 'events'>): AuthenticateHook {
  const { names, events } = core
  return async function authenticate (request, reply) {
    try {
      const { user, auth } = await authenticateRequest(request)
      setIdentity(request, names, user, auth)
    } catch (error) {
      emitAuthFailure(events, error, request)
      const wire = formatError(error)
      if (wire === null) throw error
      await sendWire(reply, wire)
    }
  }
}

/** `auth.failed` for an error an authenticator marked as refused credentials (lib/auth-failure.ts). */
export function emitAuthFailure (events: AccountsCore['events'], error: unknown, request: AnyRequest): void {
  const failure = authFailureOf(error)
  if (failure !== null) events.emit('auth.failed', failure, requestContext(request))
}
