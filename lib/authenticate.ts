import type { AnyRequest } from './http/any-request.js'
import { markAuthFailure, type AuthFailure } from './auth-failure.js'
import type { AccountService } from './accounts.js'
import { toAccountUser, type AccountUser } from './ports.js'
import {
  BadAuthorizationHeaderError, InvalidAuthTokenError, NotAuthenticatedError, TokenNotValidError, UserInactiveError, UserNotFoundError
} from './errors.js'
import type { ResolvedJwtOptions } from './options.js'
import type { RequestAuth, TokenClaims, TokenService } from './tokens.js'

export type { RequestAuth } from './tokens.js'

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

/**
 * DRF's authentication classes in the order a djoser project lists them: simplejwt's JWTAuthentication
 * (header types from `authHeaderTypes`), then authtoken's TokenAuthentication (`Token <key>`).
 * Returns the user or throws the error DRF would answer with.
 */
export function createAuthenticator (deps: { accounts: AccountService, tokens: TokenService, jwt: ResolvedJwtOptions }) {
  const { accounts, tokens } = deps
  const headerTypes = new Set(deps.jwt.authHeaderTypes)

  async function fromJwt (parts: string[]): Promise<{ user: AccountUser, auth: RequestAuth }> {
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
    const user = await accounts.findUser(userId)
    if (user === null) throw jwtFailure(new UserNotFoundError('User not found'), 'no-user', userId)
    // The session cut-off of a password change: checked against the user just loaded, no other lookup.
    if (!tokens.sessionAlive(claims, user)) throw jwtFailure(notValidForAnyType('Token has been revoked'), 'revoked', userId)
    if (!user.isActive) throw jwtFailure(new UserInactiveError('User is inactive'), 'inactive', userId)
    return { user: toAccountUser(user), auth: { scheme: 'jwt', claims } }
  }

  async function fromAuthToken (parts: string[]): Promise<{ user: AccountUser, auth: RequestAuth }> {
    if (parts.length === 1) throw tokenFailure(new InvalidAuthTokenError('Invalid token header. No credentials provided.'), 'invalid')
    if (parts.length > 2) throw tokenFailure(new InvalidAuthTokenError('Invalid token header. Token string should not contain spaces.'), 'invalid')
    const key = parts[1]
    const record = await tokens.findAuthToken(key)
    if (record === null) throw tokenFailure(new InvalidAuthTokenError('Invalid token.'), 'invalid')
    const user = await accounts.findUser(record.userId)
    if (user === null || !user.isActive) {
      throw tokenFailure(new InvalidAuthTokenError('User inactive or deleted.'), user === null ? 'no-user' : 'inactive', record.userId)
    }
    // A key of a session a password change ended (the change deletes them; this also covers a key created
    // while the change ran, and a store that kept it): as DRF answers a deleted key.
    if (!tokens.authTokenAlive(record, user)) throw tokenFailure(new InvalidAuthTokenError('Invalid token.'), 'revoked', user.id)
    return { user: toAccountUser(user), auth: { scheme: 'token', key } }
  }

  return async function authenticateRequest (request: AnyRequest): Promise<{ user: AccountUser, auth: RequestAuth }> {
    const header = request.headers.authorization
    if (typeof header !== 'string' || header.length === 0) throw new NotAuthenticatedError(NO_CREDENTIALS)
    const parts = header.trim().split(/\s+/)
    if (headerTypes.has(parts[0])) return fromJwt(parts)
    if (parts[0].toLowerCase() === 'token') return fromAuthToken(parts)
    throw new NotAuthenticatedError(NO_CREDENTIALS)
  }
}

export type Authenticator = ReturnType<typeof createAuthenticator>
