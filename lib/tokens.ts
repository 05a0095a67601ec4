import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto'
import { TokenNotValidError } from './errors.js'
import type { AccountsEventEmitter, AccountsEvents } from './events.js'
import type { JwtKeyRing } from './jwt.js'
import type { ResolvedJwtOptions, ResolvedOptions } from './options.js'
import type { NewRefreshToken, TokenStore, User, UserStore } from './ports.js'

export type TokenType = 'access' | 'refresh'

/** A verified JWT payload: simplejwt's claims plus whatever else the token carries. */
export type TokenClaims = Record<string, unknown>

export interface TokenPair {
  access: string
  refresh: string
}

export interface RefreshResult {
  access: string
  /** Present when refresh tokens rotate. */
  refresh?: string
}

const INVALID = 'Token is invalid or expired'

/** simplejwt's `jti`: a uuid4 in hex. */
function newJti (): string {
  return randomUUID().replaceAll('-', '')
}

export function hashAuthToken (key: string): string {
  return createHash('sha256').update(key).digest('hex')
}

/** A user id claim's value as a user id: a positive integer, or its decimal digits as a string; else null. */
export function userIdFromClaim (claim: unknown): number | null {
  const value = typeof claim === 'string' && /^\d{1,15}$/.test(claim) ? Number(claim) : claim
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : null
}

/** DRF authtoken keys are 40 hex characters. */
const AUTH_TOKEN_PATTERN = /^[0-9a-f]{40}$/

/** How many verified access tokens are remembered (a few MB at most). */
const VERIFIED_CACHE_SIZE = 4096

/** Claims an access token inherits from its refresh token: all but these (simplejwt). */
const NOT_CARRIED = ['exp', 'iat', 'nbf', 'aud', 'iss']

/**
 * The claim carrying the version of the user's credentials a token was issued under: a keyed hash of the
 * password hash, so a password change (any change of the stored hash) makes every older token stale.
 */
export const TOKEN_VERSION_CLAIM = 'ver'

/** How many password hashes' versions are remembered (authentication computes one per request otherwise). */
const VERSION_CACHE_SIZE = 4096

/** Who a token is issued to: the id, and the password hash its `ver` claim is made from. */
export type TokenSubject = Pick<User, 'id' | 'password'>

/** Why tokens were revoked, as `token.revoked` reports it. */
export type RevokeReason = AccountsEvents['token.revoked']['reason']

export interface TokenServiceDeps {
  keys: JwtKeyRing
  store: TokenStore
  /** To read the user's password hash when a token's `ver` claim must be made or checked without the caller's user at hand. */
  users: Pick<UserStore, 'findUserById'>
  events: AccountsEventEmitter
  options: Pick<ResolvedOptions, 'jwt' | 'secretKey' | 'revokeAccessOnPasswordChange'>
}

interface VerifiedEntry {
  /** The payload as JSON: every hit parses a fresh copy, as a full verification would decode one. */
  json: string
  /** Last millisecond at which the token is still valid: `exp` plus the leeway, as the verifier counts. */
  until: number
}

/** JWT access/refresh tokens as simplejwt issues them, plus DRF-style opaque tokens stored as hashes. */
export class TokenService {
  readonly #keys: JwtKeyRing
  readonly #store: TokenStore
  readonly #users: Pick<UserStore, 'findUserById'>
  readonly #events: AccountsEventEmitter
  readonly #options: ResolvedJwtOptions
  readonly #checkVersion: boolean
  /** HMAC key of the `ver` claim, derived from secretKey (and apart from the one-time links' MACs). */
  readonly #versionKey: Buffer
  /** `ver` by password hash: authentication needs it on every request when the option is on (an HMAC each time otherwise). */
  readonly #versions = new Map<string, string>()
  readonly #notCarried: Set<string>
  /**
   * Access tokens that passed verification, by their exact text, until they expire. A client sends the same
   * access token with every request of its lifetime; the signature check and decoding (most of the cost of
   * authenticating) then run once per token. Only the outcome of a successful verification is kept, and
   * only while its one time-bound check (`exp` + leeway) still holds: the keys (and which kid names which),
   * algorithms, audience and issuer are fixed for this service, and `nbf` (once reached) stays reached. The
   * `ver` check (revokeAccessOnPasswordChange) is against the user, so it runs on every request, hit or miss.
   */
  readonly #verified = new Map<string, VerifiedEntry>()

  constructor (deps: TokenServiceDeps) {
    const options = deps.options.jwt
    this.#keys = deps.keys
    this.#store = deps.store
    this.#users = deps.users
    this.#events = deps.events
    this.#options = options
    this.#checkVersion = deps.options.revokeAccessOnPasswordChange
    this.#versionKey = createHmac('sha256', deps.options.secretKey).update('fastify-accounts.token-version').digest()
    this.#notCarried = new Set([options.tokenTypeClaim, options.jtiClaim, ...NOT_CARRIED])
  }

  /** The `ver` claim of tokens issued under this password hash: 72 bits of an HMAC, readable by anyone holding the token, useful to none. */
  versionOf (passwordHash: string): string {
    let version = this.#versions.get(passwordHash)
    if (version === undefined) {
      version = createHmac('sha256', this.#versionKey).update(passwordHash).digest('base64url').slice(0, 12)
      if (this.#versions.size >= VERSION_CACHE_SIZE) this.#versions.delete(this.#versions.keys().next().value as string)
      this.#versions.set(passwordHash, version)
    }
    return version
  }

  /**
   * False when revokeAccessOnPasswordChange is on and the token was not issued under the user's current
   * password hash (a token without `ver`, from simplejwt, counts as stale then); always true when it is off.
   */
  isCurrentVersion (claims: TokenClaims, user: Pick<User, 'password'>): boolean {
    return !this.#checkVersion || claims[TOKEN_VERSION_CLAIM] === this.versionOf(user.password)
  }

  /** For the routes that have no user at hand (refresh, verify): loads it, only when the option is on. */
  async #assertCurrentVersion (claims: TokenClaims): Promise<void> {
    if (!this.#checkVersion) return
    const id = this.userIdOf(claims)
    const user = id === null ? null : await this.#users.findUserById(id)
    if (user === null || !this.isCurrentVersion(claims, user)) throw new TokenNotValidError('Token has been revoked')
  }

  /** Signs a token of `type` carrying `claims` (user id and custom claims) with fresh exp, iat and jti. */
  #sign (type: TokenType, claims: TokenClaims, now = Date.now()): { token: string, jti: string, expiresAt: Date } {
    const o = this.#options
    const iat = Math.floor(now / 1000)
    const exp = iat + (type === 'access' ? o.accessTokenLifetime : o.refreshTokenLifetime)
    const jti = newJti()
    const payload: TokenClaims = { ...claims, [o.tokenTypeClaim]: type, exp, iat, [o.jtiClaim]: jti }
    if (o.audience !== undefined) payload.aud = o.audience
    if (o.issuer !== undefined) payload.iss = o.issuer
    return { token: this.#keys.sign(payload), jti, expiresAt: new Date(exp * 1000) }
  }

  /** The claims an access token inherits from its refresh token (simplejwt copies all but these). */
  #carriedClaims (claims: TokenClaims): TokenClaims {
    // Copied key by key rather than spread then deleted (deleting makes a slow dictionary object); no
    // prototype, so a `__proto__` claim stays a plain property, as the spread kept it.
    const carried = Object.create(null) as TokenClaims
    for (const key of Object.keys(claims)) {
      if (!this.#notCarried.has(key)) carried[key] = claims[key]
    }
    return carried
  }

  /**
   * A new access and refresh token pair for a user. Pass the user (id and password hash, as a login has it);
   * a bare id costs a store lookup for the `ver` claim.
   */
  async issuePair (subject: number | TokenSubject, family?: string): Promise<TokenPair> {
    const user = typeof subject === 'number' ? await this.#users.findUserById(subject) : subject
    const userId = typeof subject === 'number' ? subject : subject.id
    const claims: TokenClaims = { [this.#options.userIdClaim]: userId }
    if (user !== null) claims[TOKEN_VERSION_CLAIM] = this.versionOf(user.password)
    const refresh = this.#sign('refresh', claims)
    await this.#store.saveRefreshToken({ jti: refresh.jti, userId, family: family ?? refresh.jti, expiresAt: refresh.expiresAt })
    return { access: this.#sign('access', claims).token, refresh: refresh.token }
  }

  /** Checks signature, algorithm, expiry (with leeway), audience, issuer and, when given, the type. */
  verify (token: string, expectedType?: TokenType): TokenClaims {
    const o = this.#options
    const payload = this.#verifiedClaims(token)
    const type = payload[o.tokenTypeClaim]
    if (type === undefined) throw new TokenNotValidError('Token has no type')
    if (type !== 'access' && type !== 'refresh') throw new TokenNotValidError('Token has wrong type')
    if (expectedType !== undefined && type !== expectedType) throw new TokenNotValidError('Token has wrong type')
    if (typeof payload[o.jtiClaim] !== 'string') throw new TokenNotValidError('Token has no id')
    return payload
  }

  /** The payload of a token whose signature, algorithm and registered claims check out; else TokenNotValidError. */
  #verifiedClaims (token: string): TokenClaims {
    const cached = this.#verified.get(token)
    if (cached !== undefined) {
      if (Date.now() <= cached.until) return JSON.parse(cached.json) as TokenClaims
      this.#verified.delete(token)
    }
    let claims: unknown
    try {
      claims = this.#keys.verify(token)
    } catch {
      throw new TokenNotValidError(INVALID)
    }
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw new TokenNotValidError(INVALID)
    const payload = claims as TokenClaims
    // Access tokens are presented again and again, and so is a refresh token when rotation is off. A
    // cached refresh token still goes to the store for its blacklist or claim on every use.
    if (typeof payload.exp === 'number') {
      if (this.#verified.size >= VERIFIED_CACHE_SIZE) this.#verified.delete(this.#verified.keys().next().value as string)
      this.#verified.set(token, { json: JSON.stringify(payload), until: payload.exp * 1000 + this.#options.leeway * 1000 })
    }
    return payload
  }

  /** The user id a token names, or null. */
  userIdOf (claims: TokenClaims): number | null {
    return userIdFromClaim(claims[this.#options.userIdClaim])
  }

  #recordOf (claims: TokenClaims): NewRefreshToken {
    const jti = claims[this.#options.jtiClaim] as string
    return { jti, userId: this.userIdOf(claims) ?? 0, family: jti, expiresAt: new Date((claims.exp as number) * 1000) }
  }

  /** /jwt/verify/: any valid token; a refresh token is also checked against the blacklist. */
  async verifyForClient (token: string): Promise<void> {
    const claims = this.verify(token)
    await this.#assertCurrentVersion(claims)
    if (claims[this.#options.tokenTypeClaim] === 'refresh') await this.#assertNotRevoked(claims)
  }

  async #assertNotRevoked (claims: TokenClaims): Promise<void> {
    const record = await this.#store.findRefreshToken(claims[this.#options.jtiClaim] as string)
    if (record?.revokedAt != null) throw new TokenNotValidError('Token is blacklisted')
  }

  /**
   * /jwt/refresh/. With rotation, a token already rotated out and presented again is refused; past
   * `refreshReuseInterval` seconds after its rotation it is taken for reuse (a stolen copy) and, with
   * reuse detection, revokes its whole family. Within the interval it is a client racing itself (two tabs
   * refreshing at once): refused, and the winner's new token goes on working.
   */
  async refresh (token: string): Promise<RefreshResult> {
    const o = this.#options
    const claims = this.verify(token, 'refresh')
    await this.#assertCurrentVersion(claims)
    const carried = this.#carriedClaims(claims)
    if (!o.rotateRefreshTokens) {
      await this.#assertNotRevoked(claims)
      const userId = this.userIdOf(claims)
      const access = this.#sign('access', carried).token
      if (userId !== null) this.#events.emit('token.refreshed', { userId, rotated: false })
      return { access }
    }
    const fallback = this.#recordOf(claims)
    // Signed before the claim so the store can record it in the same atomic step: a failure in between
    // cannot leave the old token used and no successor (the client's retry would look like reuse).
    const refresh = this.#sign('refresh', carried)
    const claim = await this.#store.claimRefreshToken(fallback.jti, fallback, { jti: refresh.jti, expiresAt: refresh.expiresAt })
    // A rotated-out token seen again is reuse, whether or not rotation also blacklisted it.
    const rotatedAt = claim.status === 'claimed' ? null : claim.record.usedAt
    if (rotatedAt !== null && o.refreshReuseDetection && Date.now() - rotatedAt.getTime() >= o.refreshReuseInterval * 1000) {
      await this.#store.revokeRefreshFamily(claim.record.family)
      this.#events.emit('token.reuseDetected', { userId: claim.record.userId, family: claim.record.family })
    }
    if (claim.status === 'revoked' || (rotatedAt !== null && (o.blacklistAfterRotation || o.refreshReuseDetection))) {
      throw new TokenNotValidError('Token is blacklisted')
    }
    if (o.blacklistAfterRotation) await this.#store.revokeRefreshToken(fallback.jti, fallback)
    const access = this.#sign('access', carried).token
    this.#events.emit('token.refreshed', { userId: claim.record.userId, rotated: true })
    return { access, refresh: refresh.token }
  }

  /** /jwt/blacklist/: a refresh token is blacklisted once; using it again is 401. */
  async blacklist (token: string): Promise<void> {
    const claims = this.verify(token, 'refresh')
    await this.#assertNotRevoked(claims)
    const record = this.#recordOf(claims)
    await this.#store.revokeRefreshToken(record.jti, record)
    this.#events.emit('token.revoked', { userId: this.userIdOf(claims), reason: 'blacklist' })
  }

  /** Revokes every refresh token of the user and deletes its opaque tokens; `token.revoked` when there were any. */
  async revokeUserTokens (userId: number, reason: RevokeReason = 'password-change'): Promise<void> {
    const [refresh, opaque] = await Promise.all([this.#store.revokeUserRefreshTokens(userId), this.#store.deleteUserAuthTokens(userId)])
    if (refresh + opaque > 0) this.#events.emit('token.revoked', { userId, reason })
  }

  /** A new opaque token (40 hex chars, as DRF's authtoken); only its hash is stored. */
  async createAuthToken (userId: number): Promise<string> {
    const key = randomBytes(20).toString('hex')
    await this.#store.saveAuthToken({ hash: hashAuthToken(key), userId, createdAt: new Date() })
    return key
  }

  /** The user id an opaque token belongs to, or null. */
  async findAuthTokenUser (key: string): Promise<number | null> {
    if (!AUTH_TOKEN_PATTERN.test(key)) return null
    const record = await this.#store.findAuthToken(hashAuthToken(key))
    return record?.userId ?? null
  }

  /** Logout of one opaque token. Give the user id when known (the request's user); otherwise it is looked up for the event. */
  async deleteAuthToken (key: string, userId?: number): Promise<void> {
    const hash = hashAuthToken(key)
    const owner = userId ?? (await this.#store.findAuthToken(hash))?.userId ?? null
    if (await this.#store.deleteAuthToken(hash)) this.#events.emit('token.revoked', { userId: owner, reason: 'logout' })
  }

  /** Deletes every opaque token of the user (a logout with a JWT, or a password change); `token.revoked` when there were any. */
  async deleteUserAuthTokens (userId: number, reason: RevokeReason = 'logout'): Promise<void> {
    if (await this.#store.deleteUserAuthTokens(userId) > 0) this.#events.emit('token.revoked', { userId, reason })
  }
}
