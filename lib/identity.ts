import type { DeclaredAuthenticateMode } from './decorator-names.js'
import type { AnyRequest } from './http/any-request.js'
import type { AccountUser } from './ports.js'
import type { RequestAuth, TokenClaims } from './token-claims.js'

/*
 * Who a request is, as the authenticators, the core and the Fastify decorators all name it: kept in a leaf
 * module so none of them imports another for a type.
 */

/**
 * `request.user` with `authenticate: 'stateless'`: the user as the verified access token describes it, with no
 * store lookup (simplejwt's TokenUser, behind JWTStatelessUserAuthentication). What it cannot know: whether the
 * user was deactivated or deleted since the token was signed, or whether a password change ended its session.
 */
export interface TokenUser {
  /** The user id claim (`jwt.userIdClaim`, simplejwt's `user_id`). */
  id: number
  /** The token's `username` claim, '' when it has none (simplejwt's TokenUser; the plugin's tokens carry none). */
  username: string
  /** The token's `is_staff` claim, false when it has none. */
  isStaff: boolean
  /** The token's `is_superuser` claim, false when it has none. */
  isSuperuser: boolean
  /** Always true: no token is signed for an inactive user (and a deactivation after it is not seen). */
  isActive: true
  /**
   * The access token's verified claims (also `request.auth.claims`), custom claims included. Empty for a user
   * that authenticated with an opaque token (`Token <key>`), which is looked up in the store as always.
   */
  claims: Readonly<TokenClaims>
}

/** Resolves a request's credentials to the user (loaded from the store), or throws the error DRF would answer with. */
export type Authenticator = (request: AnyRequest) => Promise<{ user: AccountUser, auth: RequestAuth }>

/** The same, with `request.user` built from the token's claims (`authenticate: 'stateless'`). */
export type TokenUserAuthenticator = (request: AnyRequest) => Promise<{ user: TokenUser, auth: RequestAuth }>

/**
 * The user `app.authenticate` puts on the request: the stored user (without its password hash), or with
 * `authenticate: 'stateless'` declared in AccountsAuthentication, the TokenUser of the token's claims.
 */
export type AuthenticatedUser = DeclaredAuthenticateMode extends 'stateless' ? TokenUser : AccountUser
