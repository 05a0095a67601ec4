import type { AnyRequest } from './http/any-request.js'
import type { Authenticator, TokenUser, TokenUserAuthenticator } from './identity.js'
import { markAuthFailure, type AuthFailure } from './auth-failure.js'
import { requestContext } from './request-context.js'
import type { AccountService } from './accounts.js'
import type { AccountsCore } from './core.js'
import { toAccountUser, type AccountUser, type User } from './ports.js'
import {
  BadAuthorizationHeaderError, InvalidAuthTokenError, NotAuthenticatedError, TokenNotValidError, UserInactiveError, UserNotFoundError
} from './errors.js'
import type { ResolvedJwtOptions } from './jwt-options.js'
import type { RequestAuth, TokenClaims, TokenService } from './tokens.js'

export type { RequestAuth } from './tokens.js'
export type { Authenticator, TokenUser, TokenUserAuthenticator } from './identity.js'



const NO_CLAIMS: Readonly<TokenClaims> = Object.freeze({})

/** The TokenUser of verified claims (simplejwt reads `username`, `is_staff`, `is_superuser` from them). */
function tokenUser (id: number, claims: TokenClaims): TokenUser {
  const username = claims.username
  return { id, username: typeof username === 'string' ? username : '', isStaff: claims.is_staff === true, isSuperuser: claims.is_superuser === true, isActive: true, claims }
}

/** The TokenUser of a user an opaque token named (its key is looked up anyway): what a stateless request.user holds. */
function tokenUserOf (user: User): TokenUser {
  return { id: user.id, username: user.username, isStaff: user.isStaff, isSuperuser: user.isSuperuser, isActive: true, claims: NO_CLAIMS }
}

export interface TokenMessage {
  token_class: string
  token_type: string
  message: string
}

const NO_CREDENTIALS = 'Authentication credentials were not provided.'

type FailureReason = AuthFailure['reason']
const jwtFailure = <E extends Error>(error: E, reason: FailureReason, userId: number | null = null): E => markAuthFailure(error, { scheme: 'jwt', reason, userId })
const tokenFailure = <E extends Error>(error: E, reason: FailureReason, userId: number | null = null): E => markAuthFailure(error, { scheme: 'token', reason, userId })

/** simplejwt's InvalidToken from JWTAuthentication.get_validated_token: one message per token class tried. */
function notValidForAnyType (message: string): InstanceType<typeof TokenNotValidError> & { tokenMessages: TokenMessage[] } {
  return Object.assign(new TokenNotValidError('Given token not valid for any token type'), {
    tokenMessages: [{ token_class: 'AccessToken', token_type: 'access', message }]
  })
}

interface AuthenticatorDeps { accounts: AccountService, tokens: TokenService, jwt: ResolvedJwtOptions }

/** simplejwt's JWTAuthentication.get_validated_token and the user id claim: the claims and the id, or the 401 to answer. */
function verifiedAccessToken (tokens: TokenService, parts: string[]): { claims: TokenClaims, userId: number } {
  if (parts.length !== 2) {
    throw jwtFailure(new BadAuthorizationHeaderError('Authorization header must contain two space-delimited values'), 'invalid')
  }
  let claims: TokenClaims
  try {
    claims = tokens.verify(parts[1], 'access')
  } catch (error) {
    throw jwtFailure(notValidForAnyType(error instanceof Error ? error.message : 'Token is invalid or expired'), 'invalid')
  }
  const userId = tokens.userIdOf(claims)
  if (userId === null) throw jwtFailure(new TokenNotValidError('Token contained no recognizable user identification'), 'invalid')
  return { claims, userId }
}

/**
 * DRF's authentication classes in the order a djoser project lists them: simplejwt's JWTAuthentication
 * (header types from `authHeaderTypes`), then authtoken's TokenAuthentication (`Token <key>`).
 * Returns the user or throws the error DRF would answer with.
 */
export function createAuthenticator (deps: AuthenticatorDeps): Authenticator {
  const { accounts, tokens } = deps

  async function fromJwt (parts: string[]): Promise<{ user: AccountUser, auth: RequestAuth }> {
    const { claims, userId } = verifiedAccessToken(tokens, parts)
    const user = await accounts.findUser(userId)
    if (user === null) throw jwtFailure(new UserNotFoundError('User not found'), 'no-user', userId)
    // The session cut-off of a password change: checked against the user just loaded, no other lookup.
    if (!tokens.sessionAlive(claims, user)) throw jwtFailure(notValidForAnyType('Token has been revoked'), 'revoked', userId)
    if (!user.isActive) throw jwtFailure(new UserInactiveError('User is inactive'), 'inactive', userId)
    return { user: toAccountUser(user), auth: { scheme: 'jwt', claims } }
  }

  return byScheme(deps, fromJwt, async (parts, request) => {
    const { user, key } = await opaqueTokenUser(deps, parts, request)
    return { user: toAccountUser(user), auth: { scheme: 'token', key } }
  })
}

/**
 * simplejwt's JWTStatelessUserAuthentication, then authtoken's TokenAuthentication: a JWT's user is a
 * {@link TokenUser} of its verified claims, with no store lookup, so neither a deactivation or deletion nor
 * the session cut-off of a password change is seen until the token expires. An opaque token is looked up
 * (and judged) as always; its user is given as a TokenUser too, so `request.user` has one type.
 */
export function createStatelessAuthenticator (deps: AuthenticatorDeps): TokenUserAuthenticator {
  const { tokens } = deps
  return byScheme(deps, async (parts) => {
    const { claims, userId } = verifiedAccessToken(tokens, parts)
    return { user: tokenUser(userId, claims), auth: { scheme: 'jwt', claims } }
  }, async (parts, request) => {
    const { user, key } = await opaqueTokenUser(deps, parts, request)
    return { user: tokenUserOf(user), auth: { scheme: 'token', key } }
  })
}

/**
 * The authenticator of `app.authenticate` in the djoser dialect: the stateless one with `authenticate:
 * 'stateless'`, else the core's (which the dialect's own routes always use: they need the stored user).
 */
export function hostAuthenticator (core: Pick<AccountsCore, 'authenticateRequest' | 'options' | 'users' | 'tokens'>): Authenticator | TokenUserAuthenticator {
  if (core.options.authenticate !== 'stateless') return core.authenticateRequest
  return createStatelessAuthenticator({ accounts: core.users, tokens: core.tokens, jwt: core.options.jwt })
}

/**
 * authtoken's TokenAuthentication: the user of an opaque key, or the 401 DRF answers. The request's IP and user
 * agent go to the session record when the lookup notes a use (a session from before the sessions table gets
 * its record then).
 */
async function opaqueTokenUser ({ accounts, tokens }: AuthenticatorDeps, parts: string[], request: AnyRequest): Promise<{ user: User, key: string }> {
  if (parts.length === 1) throw tokenFailure(new InvalidAuthTokenError('Invalid token header. No credentials provided.'), 'invalid')
  if (parts.length > 2) throw tokenFailure(new InvalidAuthTokenError('Invalid token header. Token string should not contain spaces.'), 'invalid')
  const key = parts[1]
  const record = await tokens.findAuthToken(key, requestContext(request))
  if (record === null) throw tokenFailure(new InvalidAuthTokenError('Invalid token.'), 'invalid')
  const user = await accounts.findUser(record.userId)
  if (user === null || !user.isActive) {
    throw tokenFailure(new InvalidAuthTokenError('User inactive or deleted.'), user === null ? 'no-user' : 'inactive', record.userId)
  }
  // A key of a session a password change ended (the change deletes them; this also covers a key created
  // while the change ran, and a store that kept it): as DRF answers a deleted key.
  if (!tokens.authTokenAlive(record, user)) throw tokenFailure(new InvalidAuthTokenError('Invalid token.'), 'revoked', user.id)
  return { user, key }
}

/** Reads the Authorization header and hands its parts to the scheme it names (`authHeaderTypes`, then `Token`). */
function byScheme<U> (
  deps: AuthenticatorDeps,
  fromJwt: (parts: string[]) => Promise<{ user: U, auth: RequestAuth }>,
  fromAuthToken: (parts: string[], request: AnyRequest) => Promise<{ user: U, auth: RequestAuth }>
): (request: AnyRequest) => Promise<{ user: U, auth: RequestAuth }> {
  const headerTypes = new Set(deps.jwt.authHeaderTypes)
  return async function authenticateRequest (request) {
    const header = request.headers.authorization
    if (typeof header !== 'string' || header.length === 0) throw new NotAuthenticatedError(NO_CREDENTIALS)
    const parts = header.trim().split(/\s+/)
    if (headerTypes.has(parts[0])) return fromJwt(parts)
    if (parts[0].toLowerCase() === 'token') return fromAuthToken(parts, request)
    throw new NotAuthenticatedError(NO_CREDENTIALS)
  }
}
