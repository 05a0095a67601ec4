import type { AccountsCore } from '../../core.js'
import { toAccountUser, type AccountUser, type User } from '../../ports.js'
import { SESSION_CLAIM } from '../../session-ids.js'
import { userIdFromClaim } from '../../tokens.js'
import type { DrfJwtPayload, ResolvedDrfJwtOptions } from './options.js'

/** Why a token did not decode, in PyJWT's terms: ExpiredSignatureError, DecodeError, another InvalidTokenError. */
export type DecodeFailure = 'expired' | 'decode' | 'invalid'
/**
 * Why a decoded payload names no usable user (drf-jwt's authenticate_credentials / _check_user), or names one
 * through a token of a session a password change ended (`revoked`).
 */
export type UserFailure = 'payload' | 'missing' | 'revoked' | 'inactive'

/** fast-jwt's codes for what PyJWT raises as an InvalidTokenError that is not a DecodeError. */
const INVALID_NOT_DECODE = new Set([
  'FAST_JWT_INVALID_ALGORITHM', 'FAST_JWT_MISSING_SIGNATURE', 'FAST_JWT_INVALID_CLAIM_VALUE', 'FAST_JWT_INVALID_CLAIM_TYPE',
  'FAST_JWT_INACTIVE', 'FAST_JWT_MISSING_REQUIRED_CLAIM'
])

/** Python's truthiness, for `if not username` and `if orig_iat`. */
export function pythonFalsy (value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return true
  if (Array.isArray(value)) return value.length === 0
  return typeof value === 'object' && Object.keys(value).length === 0
}

/** drf-jwt's utils.py on the core's signer: payload, encode, decode, and the user a payload names. */
export class DrfJwtTokens {
  readonly #d: AccountsCore
  readonly #o: ResolvedDrfJwtOptions

  constructor (accounts: AccountsCore, options: ResolvedDrfJwtOptions) {
    this.#d = accounts
    this.#o = options
  }

  /**
   * jwt_payload_handler: user_id, username, exp, email[, orig_iat][, aud][, iss], and `sid`, a new session
   * (a payloadHandler should keep it: a token without one ends at the user's next password change, whichever
   * session made it).
   */
  payload (user: User | AccountUser, now = Date.now()): Record<string, unknown> {
    const core = this.#d.options
    const seconds = Math.floor(now / 1000)
    const username = core.loginField === 'email' ? user.email : user.username
    const payload: DrfJwtPayload = { user_id: user.id, username, exp: seconds + this.#o.expirationDelta, email: user.email }
    if (this.#o.allowRefresh) payload.orig_iat = seconds
    if (core.jwt.audience !== undefined) payload.aud = core.jwt.audience
    if (core.jwt.issuer !== undefined) payload.iss = core.jwt.issuer
    payload[SESSION_CLAIM] = this.#d.tokens.startSession(user)
    return this.#o.payloadHandler === undefined ? payload : this.#o.payloadHandler('password' in user ? toAccountUser(user) : user, payload)
  }

  /** jwt_encode_handler: the core's key and algorithm; no `iat` (drf-jwt writes none). */
  encode (payload: Record<string, unknown>): string {
    return this.#d.jwt.sign(payload, { issuedAt: false })
  }

  /** A new token for `user` (drf-jwt's "creating a new token manually"). */
  issue (user: User | AccountUser): string {
    return this.encode(this.payload(user))
  }

  /** jwt_decode_handler: signature, algorithm, exp (unless verifyExpiration is off, with the core's leeway), aud, iss. */
  decode (token: string): { payload: Record<string, unknown> } | { failure: DecodeFailure } {
    if (token === '') return { failure: 'decode' }
    let claims: unknown
    try {
      claims = this.#d.jwt.verify(token, this.#o.verifyExpiration ? 'all' : 'ignore-expiration')
    } catch (error) {
      const code = (error as { code?: unknown }).code
      if (typeof code !== 'string' || !code.startsWith('FAST_JWT_')) throw error
      if (code === 'FAST_JWT_EXPIRED') return { failure: 'expired' }
      return { failure: INVALID_NOT_DECODE.has(code) ? 'invalid' : 'decode' }
    }
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return { failure: 'decode' }
    return { payload: claims as Record<string, unknown> }
  }

  /**
   * The active user the payload names, through a token of a live session. drf-jwt looks the user up by
   * `username` alone; here the user is found by `user_id` and must still have that `username`: the same
   * answer for drf-jwt's own tokens, and a renamed user's old token cannot open the account of whoever takes
   * the name later. A drf-jwt payload has no token type: a simplejwt token (which has) is "Invalid payload.",
   * as is a sanic-jwt token (which has no `username`). Api-token-refresh and api-token-verify go through here
   * as the authenticator does, so a token of an ended session is refreshed into nothing.
   */
  async user (payload: Record<string, unknown>): Promise<{ user: User } | { failure: UserFailure }> {
    const username = payload.username
    if (pythonFalsy(username) || this.#d.options.jwt.tokenTypeClaim in payload) return { failure: 'payload' }
    const id = userIdFromClaim(payload.user_id)
    const user = id === null || typeof username !== 'string' ? null : await this.#d.users.findUser(id)
    if (user === null || !this.#sameLogin(user, username as string)) return { failure: 'missing' }
    if (!this.#d.tokens.sessionAlive(payload, user)) return { failure: 'revoked' }
    if (!user.isActive) return { failure: 'inactive' }
    return { user }
  }

  #sameLogin (user: User, username: string): boolean {
    return this.#d.options.loginField === 'email' ? user.email.toLowerCase() === username.toLowerCase() : user.username === username
  }
}
