import type { RequestAuth } from './authenticate.js'
import type { AccountsCore, DecoratorNames } from './core.js'
import type { AuthenticateHook } from './http/authenticate-hook.js'
import type { AccountUser } from './ports.js'

/**
 * The decorator names as the types see them; empty means the defaults (`request.user`, `request.auth`,
 * `app.authenticate`, `app.accounts`). To run beside a plugin that takes one of them (@fastify/jwt's
 * `request.user`, an app's own `authenticate`), rename it in both places:
 *
 * ```ts
 * declare module 'fastify-accounts' {
 *   interface AccountsDecoratorNames { user: 'account', authenticate: 'authenticateAccount' }
 * }
 * await app.register(accounts, { decorators: { user: 'account', authenticate: 'authenticateAccount' }, … })
 * ```
 * The `decorators` option only accepts the names declared here, so the types and the runtime agree.
 */
export interface AccountsDecoratorNames {} // eslint-disable-line @typescript-eslint/no-empty-interface

type NameOf<K extends keyof DecoratorNames> = AccountsDecoratorNames extends { [P in K]: infer N extends string } ? N : K

/** The `decorators` option: the names declared in AccountsDecoratorNames (each defaults to its own key). */
export interface DecoratorsOption {
  user?: NameOf<'user'>
  auth?: NameOf<'auth'>
  authenticate?: NameOf<'authenticate'>
  accounts?: NameOf<'accounts'>
}

/** What the plugin adds to every request: the user (null until authenticated) and how it authenticated. */
export type AccountsRequestDecorators = { [P in NameOf<'user'>]: AccountUser | null } & { [P in NameOf<'auth'>]: RequestAuth | null }

/** What the plugin adds to the instance: the services and the onRequest hook that authenticates. */
export type AccountsInstanceDecorators = { [P in NameOf<'accounts'>]: AccountsCore } & { [P in NameOf<'authenticate'>]: AuthenticateHook }

declare module 'fastify' {
  interface FastifyRequest extends AccountsRequestDecorators {}
  interface FastifyInstance extends AccountsInstanceDecorators {}
}
