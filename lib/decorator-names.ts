/** The names the plugin decorates Fastify with; each can be changed (`decorators` option) to sit beside other plugins. */
export interface DecoratorNames {
  /** The authenticated user on the request (default `user`). */
  user: string
  /** How the request authenticated (default `auth`). */
  auth: string
  /** The onRequest hook on the instance (default `authenticate`). */
  authenticate: string
  /** The services on the instance (default `accounts`). */
  accounts: string
}

export const DEFAULT_DECORATOR_NAMES: Readonly<DecoratorNames> = { user: 'user', auth: 'auth', authenticate: 'authenticate', accounts: 'accounts' }

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

export type NameOf<K extends keyof DecoratorNames> = AccountsDecoratorNames extends { [P in K]: infer N extends string } ? N : K

/** The `decorators` option: the names declared in AccountsDecoratorNames (each defaults to its own key). */
export interface DecoratorsOption {
  user?: NameOf<'user'>
  auth?: NameOf<'auth'>
  authenticate?: NameOf<'authenticate'>
  accounts?: NameOf<'accounts'>
}

/**
 * What `app.authenticate` puts on `request.user`, as the types see it; empty means `'store'` (the user loaded
 * from the store on every request, simplejwt's JWTAuthentication). An app that registers the plugin with
 * `authenticate: 'stateless'` declares it here too, and `request.user` becomes a {@link TokenUser} built from
 * the token's claims (simplejwt's JWTStatelessUserAuthentication):
 *
 * ```ts
 * declare module 'fastify-accounts' {
 *   interface AccountsAuthentication { authenticate: 'stateless' }
 * }
 * await app.register(accounts, { authenticate: 'stateless', … })
 * ```
 * The `authenticate` option only accepts the mode declared here, so the types and the runtime agree.
 */
export interface AccountsAuthentication {} // eslint-disable-line @typescript-eslint/no-empty-interface

/** How `app.authenticate` finds the user: `store` loads it, `stateless` reads it from the verified token. */
export type AuthenticateMode = 'store' | 'stateless'

/** The `authenticate` option's type: the mode declared in AccountsAuthentication (default `store`). */
export type DeclaredAuthenticateMode = AccountsAuthentication extends { authenticate: infer M extends AuthenticateMode } ? M : 'store'
