import type { Authenticator } from '../authenticate.js'
import type { AnyReply, AnyRequest } from './any-request.js'
import { setIdentity } from '../core.js'
import type { DecoratorNames } from '../decorator-names.js'
import { sendWire, type ErrorFormatter } from './wire.js'

/** The onRequest hook `app.authenticate` is: fills the request's user and auth, or answers in the dialect's shape. */
export type AuthenticateHook = (request: AnyRequest, reply: AnyReply) => Promise<void>

/** An onRequest hook that fills request.user and request.auth (under their configured names), or answers in the dialect's shape. */
export function authenticateHook (authenticateRequest: Authenticator, formatError: ErrorFormatter, names: Readonly<DecoratorNames>): AuthenticateHook {
  return async function authenticate (request, reply) {
    try {
      const { user, auth } = await authenticateRequest(request)
      setIdentity(request, names, user, auth)
    } catch (error) {
      const wire = formatError(error)
      if (wire === null) throw error
      await sendWire(reply, wire)
    }
  }
}
