import type { RequestAuth } from './authenticate.js'
import type { AuthenticatedUser } from './identity.js'
import type { AccountsCore } from './core.js'
import type { NameOf } from './decorator-names.js'
import type { AuthenticateHook } from './http/authenticate-hook.js'

export type { AuthenticatedUser } from './identity.js'


/** What the plugin adds to every request: the user (null until authenticated) and how it authenticated. */
export type AccountsRequestDecorators = { [P in NameOf<'user'>]: AuthenticatedUser | null } & { [P in NameOf<'auth'>]: RequestAuth | null }

/** What the plugin adds to the instance: the services and the onRequest hook that authenticates. */
export type AccountsInstanceDecorators = { [P in NameOf<'accounts'>]: AccountsCore } & { [P in NameOf<'authenticate'>]: AuthenticateHook }

declare module 'fastify' {
  interface FastifyRequest extends AccountsRequestDecorators {}
  interface FastifyInstance extends AccountsInstanceDecorators {}
}
