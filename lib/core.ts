import type { FastifyInstance } from 'fastify'
import type { AccountService } from './accounts.js'
import type { DecoratorNames } from './decorator-names.js'
import { NotAuthenticatedError } from './errors.js'
import type { AnyRequest } from './http/any-request.js'
import type { AuthenticatedUser, Authenticator, TokenUser } from './identity.js'
import type { RequestAuth } from './token-claims.js'
import type { AccountsEventEmitter } from './events.js'
import type { Limit } from './http/limit.js'
import type { ResolvedOptions } from './options.js'
import type { AccountUser, TokenStore, UserStore } from './ports.js'
import type { JwtKeyRing } from './jwt.js'
import type { SocialLogin } from './social/runtime.js'
import type { MfaService } from './mfa/service.js'
import type { TokenService } from './tokens.js'

/** What `app.accounts` holds: the services, for the host's own routes and the dialects' route plugins. */
export interface AccountsCore {
  /** Users, passwords, activation and resets. */
  users: AccountService
  /** JWT access/refresh tokens and opaque tokens. */
  tokens: TokenService
  options: ResolvedOptions
  /** Resolves the request's credentials to a user, or throws the error to format. */
  authenticateRequest: Authenticator
  /**
   * The signing key (its `kid` in the header) and the verifying keys (chosen by `kid`; RFC 8725 `typ`
   * check), for the dialects whose tokens are not simplejwt's.
   */
  jwt: JwtKeyRing
  /** Audit events: `app.accounts.events.on('login.failed', …)`. */
  events: AccountsEventEmitter
  /** Rate-limit preHandlers shared by every dialect: `limit('login', (body) => body.username)`. */
  limit: Limit
  /** The stores in use (the in-memory defaults when none was given). */
  stores: { users: UserStore, tokens: TokenStore }
  /** The decorator names in use. */
  names: Readonly<DecoratorNames>
  /**
   * The CSRF check for credentials read from a cookie: throws a 403 when a request that may change
   * something comes from an origin other than the site's own or `trustedOrigins`. The cookie dialects call
   * it; a host route that authenticates by a cookie of its own can too.
   */
  checkOrigin: (request: AnyRequest) => void
  /**
   * Social login (the `social` option): the sign-in rules, the social accounts store and the providers (loaded
   * on the first social request); null when no provider is configured.
   */
  social: SocialLogin | null
  /** Two-factor sign-in (the `mfa` option, or `djRestAuth.mfa`): TOTP, recovery codes, ephemeral tokens; null when off. */
  mfa: MfaService | null
}

/** Where the core sits on the instance whatever its public name: the dialects and `requireUser` find it here. */
export const kAccounts = Symbol.for('fastify-accounts.core')

/** The core registered on `instance` (or an ancestor), or undefined when the plugin is not registered. */
export function coreOf (instance: FastifyInstance | AnyRequest['server']): AccountsCore | undefined {
  return (instance as unknown as Record<symbol, AccountsCore | undefined>)[kAccounts]
}

type Decorated = Record<string, unknown>

/** Puts the authenticated user and how it authenticated on the request, under the configured names. */
export function setIdentity (request: AnyRequest, names: Readonly<DecoratorNames>, user: AccountUser | TokenUser, auth: RequestAuth): void {
  (request as unknown as Decorated)[names.user] = user;
  (request as unknown as Decorated)[names.auth] = auth
}

/** Puts how the request authenticated on the request (a route that needs the token's claims, not the user). */
export function setAuth (request: AnyRequest, names: Readonly<DecoratorNames>, auth: RequestAuth): void {
  (request as unknown as Decorated)[names.auth] = auth
}

/** The request's user under the configured name; null before authentication. */
export function userOf (request: AnyRequest, names: Readonly<DecoratorNames>): AccountUser | null {
  return ((request as unknown as Decorated)[names.user] ?? null) as AccountUser | null
}

/** How the request authenticated, under the configured name; null before authentication. */
export function authOf (request: AnyRequest, names: Readonly<DecoratorNames>): RequestAuth | null {
  return ((request as unknown as Decorated)[names.auth] ?? null) as RequestAuth | null
}

/**
 * The authenticated user of a request behind `app.authenticate`, typed as present (a TokenUser when the app
 * declares `authenticate: 'stateless'`); throws a 401 (`ACCOUNTS_NOT_AUTHENTICATED`) when the request was not
 * authenticated, e.g. on a route without the hook.
 */
export function requireUser (request: AnyRequest): AuthenticatedUser {
  const core = coreOf(request.server)
  const user = core === undefined ? null : userOf(request, core.names)
  if (user === null) throw new NotAuthenticatedError('Authentication credentials were not provided.')
  // The dialects' routes authenticate with the stored user; only a host route behind a stateless app.authenticate gets a TokenUser.
  return user as AuthenticatedUser
}
