import type { FastifyPluginAsync } from 'fastify'
import type { AccountsCore } from '../core.js'
import type { AuthenticateHook } from '../http/authenticate-hook.js'
import type { ResolvedOptions } from '../options.js'

/** One wire format: its route set and how `app.authenticate` reads credentials and answers in it. */
export interface Dialect<O extends object = object> {
  /** The encapsulated route plugin (it declares its dependency on the core). */
  routes: FastifyPluginAsync<O>
  /** The route plugin's options when this dialect is the core's `dialect`: its block of the core's options. */
  routeOptions: (options: ResolvedOptions) => O
  /** The onRequest hook that authenticates in this dialect's way and answers in its shape. */
  authenticator: (core: AccountsCore, options: O) => AuthenticateHook
}
