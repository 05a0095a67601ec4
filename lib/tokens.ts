import { createHash, randomBytes, randomUUID } from 'node:crypto'
import type { JWT } from '@fastify/jwt'
import { TokenNotValidError } from './errors.js'
import type { ResolvedJwtOptions } from './options.js'
import type { NewRefreshToken, TokenStore } from './ports.js'

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

/** DRF authtoken keys are 40 hex characters. */
const AUTH_TOKEN_PATTERN = /^[0-9a-f]{40}$/

/** How many verified access tokens are remembered (a few MB at most). */
const VERIFIED_CACHE_SIZE = 4096

/** Claims an access token inherits from its refresh token: all but these (simplejwt). */
const NOT_CARRIED = ['exp', 'iat', 'nbf', 'aud', 'iss']

interface VerifiedEntry {
  /** The payload as JSON: every hit parses a fresh copy, as a full verification would decode one. */
  json: string
  /** Last millisecond at which the token is still valid: `exp` plus the leeway, as the verifier counts. */
  until: number
}

/** JWT access/refresh tokens as simplejwt issues them, plus DRF-style opaque tokens stored as hashes. */
export class TokenService {
  readonly #jwt: JWT
  readonly #store: TokenStore
  readonly #options: ResolvedJwtOptions
  readonly #notCarried: Set<string>
  /**
   * Access tokens that passed verification, by their exact text, until they expire. A client sends the same
   * access token with every request of its lifetime; the signature check and decoding (most of the cost of
   * authenticating) then run once per token. Only the outcome of a successful verification is kept, and
   * only while its one time-bound check (`exp` + leeway) still holds: the signing key, algorithm, audience
   * and issuer are fixed for this service, and `nbf` (once reached) stays reached.
   */
  readonly #verified = new Map<string, VerifiedEntry>()

  constructor (jwt: JWT, store: TokenStore, options: ResolvedJwtOptions) {
    this.#jwt = jwt
    this.#store = store
    this.#options = options
    this.#notCarried = new Set([options.tokenTypeClaim, options.jtiClaim, ...NOT_CARRIED])
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
    return { token: this.#jwt.sign(payload), jti, expiresAt: new Date(exp * 1000) }
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

  async issuePair (userId: number, family?: string): Promise<TokenPair> {
    const claims = { [this.#options.userIdClaim]: userId }
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
      claims = this.#jwt.verify(token)
    } catch {
      throw new TokenNotValidError(INVALID)
    }
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw new TokenNotValidError(INVALID)
    const payload = claims as TokenClaims
    // Access tokens only: they are the ones presented again and again (a rotated refresh token is seen once).
    if (payload[this.#options.tokenTypeClaim] === 'access' && typeof payload.exp === 'number') {
      if (this.#verified.size >= VERIFIED_CACHE_SIZE) this.#verified.delete(this.#verified.keys().next().value as string)
      this.#verified.set(token, { json: JSON.stringify(payload), until: payload.exp * 1000 + this.#options.leeway * 1000 })
    }
    return payload
  }

  /** The user id a token names, or null. */
  userIdOf (claims: TokenClaims): number | null {
    const id = claims[this.#options.userIdClaim]
    const value = typeof id === 'string' && /^\d{1,15}$/.test(id) ? Number(id) : id
    return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : null
  }

  #recordOf (claims: TokenClaims): NewRefreshToken {
    const jti = claims[this.#options.jtiClaim] as string
    return { jti, userId: this.userIdOf(claims) ?? 0, family: jti, expiresAt: new Date((claims.exp as number) * 1000) }
  }

  /** /jwt/verify/: any valid token; a refresh token is also checked against the blacklist. */
  async verifyForClient (token: string): Promise<void> {
    const claims = this.verify(token)
    if (claims[this.#options.tokenTypeClaim] === 'refresh') await this.#assertNotRevoked(claims)
  }

  async #assertNotRevoked (claims: TokenClaims): Promise<void> {
    const record = await this.#store.findRefreshToken(claims[this.#options.jtiClaim] as string)
    if (record?.revokedAt != null) throw new TokenNotValidError('Token is blacklisted')
  }

  async refresh (token: string): Promise<RefreshResult> {
    const o = this.#options
    const claims = this.verify(token, 'refresh')
    const carried = this.#carriedClaims(claims)
    if (!o.rotateRefreshTokens) {
      await this.#assertNotRevoked(claims)
      return { access: this.#sign('access', carried).token }
    }
    const fallback = this.#recordOf(claims)
    const claim = await this.#store.claimRefreshToken(fallback.jti, fallback)
    // A rotated-out token seen again is reuse, whether or not rotation also blacklisted it.
    const reused = claim.record.usedAt !== null && claim.status !== 'claimed'
    if (reused && o.refreshReuseDetection) await this.#store.revokeRefreshFamily(claim.record.family)
    if (claim.status === 'revoked' || (reused && (o.blacklistAfterRotation || o.refreshReuseDetection))) {
      throw new TokenNotValidError('Token is blacklisted')
    }
    if (o.blacklistAfterRotation) await this.#store.revokeRefreshToken(fallback.jti, fallback)
    const refresh = this.#sign('refresh', carried)
    await this.#store.saveRefreshToken({
      jti: refresh.jti, userId: claim.record.userId, family: claim.record.family, expiresAt: refresh.expiresAt
    })
    return { access: this.#sign('access', carried).token, refresh: refresh.token }
  }

  /** /jwt/blacklist/: a refresh token is blacklisted once; using it again is 401. */
  async blacklist (token: string): Promise<void> {
    const claims = this.verify(token, 'refresh')
    await this.#assertNotRevoked(claims)
    const record = this.#recordOf(claims)
    await this.#store.revokeRefreshToken(record.jti, record)
  }

  async revokeUserTokens (userId: number): Promise<void> {
    await Promise.all([this.#store.revokeUserRefreshTokens(userId), this.#store.deleteUserAuthTokens(userId)])
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

  async deleteAuthToken (key: string): Promise<void> {
    await this.#store.deleteAuthToken(hashAuthToken(key))
  }

  async deleteUserAuthTokens (userId: number): Promise<void> {
    await this.#store.deleteUserAuthTokens(userId)
  }
}
