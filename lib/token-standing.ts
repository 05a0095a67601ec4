import { TokenNotValidError } from './errors.js'
import type { RefreshStandingReader, SessionCutoff, TokenStore, UserStore } from './ports.js'
import { isSessionLive, sessionOfClaims } from './session-ids.js'
import type { TokenClaims } from './token-claims.js'

export interface TokenStandingDeps {
  store: Pick<TokenStore, 'findRefreshToken'>
  users: Pick<UserStore, 'findUserById' | 'findSessionCutoff'>
  /** Where one database holds `store`'s tokens and `users`'s users: a refresh's two checks in one read. */
  refreshStanding?: RefreshStandingReader | undefined
  jtiClaim: string
  userIdOf: (claims: TokenClaims) => number | null
}

/** Whether the session of a JWT (its claims) outlives the user's cut-off (on every authenticated request: no cut-off, nothing parsed). */
export function sessionAlive (claims: TokenClaims, user: SessionCutoff): boolean {
  return user.sessionsValidAfter == null || isSessionLive(user, sessionOfClaims(claims))
}

/**
 * The checks of the routes that have no user at hand (refresh, /jwt/verify/): a verified token's session
 * against its user's cut-off and, for a refresh token, the blacklist. Each refused token is a
 * TokenNotValidError.
 */
export class TokenStanding {
  readonly #store: Pick<TokenStore, 'findRefreshToken'>
  readonly #users: Pick<UserStore, 'findUserById' | 'findSessionCutoff'>
  readonly #read: RefreshStandingReader | undefined
  readonly #jtiClaim: string
  readonly #userIdOf: (claims: TokenClaims) => number | null

  constructor (deps: TokenStandingDeps) {
    this.#store = deps.store
    this.#users = deps.users
    this.#read = deps.refreshStanding
    this.#jtiClaim = deps.jtiClaim
    this.#userIdOf = deps.userIdOf
  }

  /** One lookup of the user the token names; a token naming no user, or a user no longer there, passes. */
  async assertSessionAlive (claims: TokenClaims): Promise<void> {
    const id = this.#userIdOf(claims)
    if (id === null) return
    const users = this.#users
    const user = users.findSessionCutoff === undefined ? await users.findUserById(id) : await users.findSessionCutoff(id)
    if (user !== null && !sessionAlive(claims, user)) throw new TokenNotValidError('Token has been revoked')
  }

  /** The session check and, with `recorded`, the blacklist: in one read or two at once, the blacklist's verdict first. */
  async assertUsable (claims: TokenClaims, recorded: boolean): Promise<void> {
    // An access token has only the session check: no settling of a pair on every verify.
    if (!recorded) return await this.assertSessionAlive(claims)
    const read = this.#read
    const userId = read === undefined ? null : this.#userIdOf(claims)
    if (read !== undefined && userId !== null) {
      const standing = await read(claims[this.#jtiClaim] as string, userId)
      if (standing.revoked) throw new TokenNotValidError('Token is blacklisted')
      if (standing.cutoff !== null && !sessionAlive(claims, standing.cutoff)) throw new TokenNotValidError('Token has been revoked')
      return
    }
    const checks = await Promise.allSettled([this.assertNotRevoked(claims), this.assertSessionAlive(claims)])
    for (const check of checks) if (check.status === 'rejected') throw check.reason
  }

  async assertNotRevoked (claims: TokenClaims): Promise<void> {
    const record = await this.#store.findRefreshToken(claims[this.#jtiClaim] as string)
    if (record?.revokedAt != null) throw new TokenNotValidError('Token is blacklisted')
  }
}
