import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { TokenNotValidError } from './errors.js'
import type { AccountsEventEmitter, AccountsEvents } from './events.js'
import type { JwtKeyRing } from './jwt.js'
import type { ResolvedJwtOptions, ResolvedOptions } from './options.js'
import type { RequestContext } from './request-context.js'
import type { AuthTokenRecord, NewRefreshToken, RefreshStandingReader, SessionCutoff, TokenStore, User, UserStore } from './ports.js'
import { isSessionLive, newSessionId, SESSION_CLAIM, sessionOfClaims, sessionStartOf } from './session-ids.js'
import { SessionRecords, TOUCH_INTERVAL_MS, type SessionView, type TokenServiceLogger } from './session-records.js'
import { userIdFromClaim, type RefreshResult, type RequestAuth, type TokenClaims, type TokenPair, type TokenType } from './token-claims.js'
import { sessionAlive, TokenStanding } from './token-standing.js'
import { VerifiedTokens } from './verified-tokens.js'

export type { SessionView, TokenServiceLogger } from './session-records.js'
export { userIdFromClaim, type RefreshResult, type RequestAuth, type TokenClaims, type TokenPair, type TokenType } from './token-claims.js'

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

/** Claims an access token inherits from its refresh token: all but these (simplejwt). */
const NOT_CARRIED = ['exp', 'iat', 'nbf', 'aud', 'iss']

/** Who a token is issued to: the id, and the session cut-off a new session must start after. */
export type TokenSubject = Pick<User, 'id'> & SessionCutoff

/** Why tokens were revoked, as `token.revoked` reports it. */
export type RevokeReason = AccountsEvents['token.revoked']['reason']

export interface TokenServiceDeps {
  keys: JwtKeyRing
  store: TokenStore
  /**
   * To read the user's session cut-off on the routes that have no user at hand (refresh, verify), and to write
   * one when a user ends their other sessions.
   */
  users: Pick<UserStore, 'findUserById' | 'findSessionCutoff' | 'updateUser'>
  /** Where one database holds `store`'s tokens and `users`'s users: a refresh's two checks in one read. */
  refreshStanding?: RefreshStandingReader | undefined
  events: AccountsEventEmitter
  options: Pick<ResolvedOptions, 'jwt' | 'authTokenLifetime'>
  /** Default: process warnings. The plugin passes the app's logger. */
  log?: TokenServiceLogger
}

/** JWT access/refresh tokens as simplejwt issues them, plus DRF-style opaque tokens stored as hashes. */
export class TokenService {
  readonly #keys: JwtKeyRing
  readonly #store: TokenStore
  /** For issuePair given a bare id (the session checks read users through #standing, the writes through #sessions). */
  readonly #users: Pick<UserStore, 'findUserById'>
  /** The blacklist and session checks of refresh and /jwt/verify/ (lib/token-standing.ts). */
  readonly #standing: TokenStanding
  readonly #events: AccountsEventEmitter
  readonly #options: ResolvedJwtOptions
  /** The session records behind the sessions routes (lib/session-records.ts). */
  readonly #sessions: SessionRecords
  readonly #notCarried: Set<string>
  /** When a login read the user whose password it then checked (see {@link credentialsChecked}). */
  readonly #credentialsRead = new WeakMap<object, number>()
  /**
   * Tokens that passed verification (lib/verified-tokens.ts): the signature check runs once or twice per token. The
   * session check is against the user, so it runs on every request, hit or miss.
   */
  readonly #verified: VerifiedTokens

  constructor (deps: TokenServiceDeps) {
    const options = deps.options.jwt
    this.#keys = deps.keys
    this.#store = deps.store
    this.#users = deps.users
    this.#events = deps.events
    this.#options = options
    this.#notCarried = new Set([options.tokenTypeClaim, options.jtiClaim, ...NOT_CARRIED])
    this.#verified = new VerifiedTokens(options.leeway)
    this.#standing = new TokenStanding({
      store: deps.store, users: deps.users, refreshStanding: deps.refreshStanding, jtiClaim: options.jtiClaim, userIdOf: (claims) => this.userIdOf(claims)
    })
    this.#sessions = new SessionRecords({
      store: deps.store, users: deps.users, events: deps.events, log: deps.log,
      sessionLifetime: options.sessionLifetime, authTokenLifetime: deps.options.authTokenLifetime ?? null
    })
  }

  // ---- sessions -------------------------------------------------------------------------------------------

  /**
   * Notes that a login read `user` at `readAt` (ms) and found its password right: the session it opens starts
   * then, not when its tokens are signed, so a login that read the old password hash before a password change
   * committed cannot open a session that outlives the change. `AccountService.authenticateCredentials` calls it.
   */
  credentialsChecked (user: object, readAt: number): void {
    this.#credentialsRead.set(user, readAt)
  }

  /**
   * A new session id for `user` (a `sid`): it starts when the login read the user (else now), and always after
   * the user's cut-off, whatever the clocks of the instances say (the row read shows the change already made).
   */
  startSession (user?: object & SessionCutoff): string {
    return newSessionId(this.#sessionStart(user))
  }

  #sessionStart (user?: object & SessionCutoff): number {
    const started = (user === undefined ? undefined : this.#credentialsRead.get(user)) ?? Date.now()
    const cutoff = user?.sessionsValidAfter?.getTime() ?? -1
    return Math.max(started, cutoff + 1)
  }

  /** Whether the session of a JWT (its claims) outlives the user's cut-off (on every authenticated request: no cut-off, nothing parsed). */
  sessionAlive (claims: TokenClaims, user: SessionCutoff): boolean {
    return sessionAlive(claims, user)
  }

  /** Whether an opaque token (its own session, since its creation) outlives the user's cut-off. */
  authTokenAlive (record: AuthTokenRecord, user: SessionCutoff): boolean {
    return isSessionLive(user, { id: record.hash, startedAt: record.createdAt.getTime() })
  }

  /**
   * The id of the session a request authenticated with (`request.auth`): a JWT's `sid`, an opaque key's hash;
   * null when there is none (no authentication, or a token without `sid`).
   */
  sessionIdOf (auth: RequestAuth | null | undefined): string | null {
    if (auth === null || auth === undefined) return null
    if (auth.scheme === 'token') return hashAuthToken(auth.key)
    const sid = auth.claims[SESSION_CLAIM]
    return typeof sid === 'string' && sid !== '' ? sid : null
  }

  /**
   * After a password change or reset has written the cut-off: revokes in the store what the cut-off alone
   * cannot reach (refresh tokens could still be presented to a route that reads no user, opaque tokens never
   * expire), except the kept session's, and emits `token.revoked` (always: the access tokens of the ended
   * sessions died with the cut-off).
   */
  async endSessions (userId: number, reason: RevokeReason, kept: string | null, context?: RequestContext): Promise<void> {
    const except = kept ?? undefined
    await Promise.all([this.#store.revokeUserRefreshTokens(userId, except), this.#store.deleteUserAuthTokens(userId, except)])
    this.#events.emit('token.revoked', { userId, reason }, context)
  }

  /** The user's live sessions, oldest first, `current` (the id {@link sessionIdOf} gives for the request) flagged. */
  async listSessions (userId: number, current: string | null): Promise<SessionView[]> {
    return await this.#sessions.list(userId, current)
  }

  /**
   * Ends one session of the user (a family revoked: its access tokens live until they expire; an opaque token
   * deleted); false when the user has no live session of that id. Emits `session.ended`.
   */
  async endSession (userId: number, id: string, context?: RequestContext): Promise<boolean> {
    return await this.#sessions.endOne(userId, id, context)
  }

  /** Ends every session of the user but `current` (null: all), access tokens at once (a cut-off). Emits `session.ended`. */
  async endOtherSessions (userId: number, current: string | null, context?: RequestContext): Promise<number> {
    return await this.#sessions.endOthers(userId, current, context)
  }

  /**
   * Signs a token of `type` carrying `claims` (user id and custom claims) with fresh exp, iat and jti (or this
   * `jti`); its exp is never after `endsAt` (ms: the end of its session), when given.
   */
  #sign (type: TokenType, claims: TokenClaims, now = Date.now(), jti = newJti(), endsAt: number | null = null): { token: string, jti: string, expiresAt: Date } {
    const o = this.#options
    const iat = Math.floor(now / 1000)
    const lifetime = iat + (type === 'access' ? o.accessTokenLifetime : o.refreshTokenLifetime)
    const exp = endsAt === null ? lifetime : Math.min(lifetime, Math.floor(endsAt / 1000))
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
   * A new access and refresh token pair for a user: a new session (rotation family) both tokens name in `sid`,
   * its id the refresh token's jti. Pass the user (as a login has it); a bare id costs a store lookup (for the
   * cut-off the new session must start after). With `family`, the pair joins that session instead.
   */
  async issuePair (subject: number | TokenSubject, family?: string, context?: RequestContext): Promise<TokenPair> {
    const user = typeof subject === 'number' ? await this.#users.findUserById(subject) : subject
    const userId = typeof subject === 'number' ? subject : subject.id
    const session = family ?? this.startSession(user ?? undefined)
    const now = Date.now()
    const startedAt = sessionStartOf(session) ?? now
    const endsAt = this.#sessions.sessionEnd(startedAt)
    const claims: TokenClaims = { [this.#options.userIdClaim]: userId, [SESSION_CLAIM]: session }
    const refresh = this.#sign('refresh', claims, now, family === undefined ? session : undefined, endsAt)
    const saved = this.#store.saveRefreshToken({ jti: refresh.jti, userId, family: session, expiresAt: refresh.expiresAt })
    if (family === undefined) {
      // Both at once (no extra wait on login); a failure of either fails the login, so no token is handed out unlisted.
      const record = this.#sessions.record(session, userId, 'jwt', startedAt, now, context)
      await Promise.all([saved, this.#store.saveSession(record)])
    } else {
      await saved
    }
    return { access: this.#sign('access', claims, now).token, refresh: refresh.token }
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
    if (cached !== undefined) return cached
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
    this.#verified.remember(token, payload)
    return payload
  }

  /** The user id a token names, or null. */
  userIdOf (claims: TokenClaims): number | null {
    return userIdFromClaim(claims[this.#options.userIdClaim])
  }

  /** The record of a refresh token the store may not hold (issued elsewhere with the same key, or purged): its session is its family. */
  #recordOf (claims: TokenClaims): NewRefreshToken {
    return { jti: claims[this.#options.jtiClaim] as string, userId: this.userIdOf(claims) ?? 0, family: this.#familyOf(claims), expiresAt: new Date((claims.exp as number) * 1000) }
  }

  /** The session (rotation family) of a refresh token: its `sid`, else (simplejwt's tokens) its own jti. */
  #familyOf (claims: TokenClaims): string {
    const sid = claims[SESSION_CLAIM]
    return typeof sid === 'string' && sid !== '' ? sid : claims[this.#options.jtiClaim] as string
  }

  /** /jwt/verify/: any valid token of a live session; a refresh token is also checked against the blacklist. */
  async verifyForClient (token: string): Promise<void> {
    const claims = this.verify(token)
    await this.#standing.assertUsable(claims, claims[this.#options.tokenTypeClaim] === 'refresh')
  }

  /**
   * /jwt/refresh/. With rotation, a token already rotated out and presented again is refused; past
   * `refreshReuseInterval` seconds after its rotation it is taken for reuse (a stolen copy) and, with
   * reuse detection, revokes its whole family. Within the interval it is a client racing itself (two tabs
   * refreshing at once): refused, and the winner's new token goes on working.
   */
  async refresh (token: string, context?: RequestContext): Promise<RefreshResult> {
    const o = this.#options
    const claims = this.verify(token, 'refresh')
    const now = Date.now()
    // jwt.sessionLifetime: past its session's end a refresh token is dead, whatever its own exp says.
    const { startedAt } = sessionOfClaims(claims)
    const endsAt = startedAt === null ? null : this.#sessions.sessionEnd(startedAt)
    if (endsAt !== null && now >= endsAt) throw new TokenNotValidError(INVALID)
    const carried = this.#carriedClaims(claims)
    // A token without a sid of ours (simplejwt's, from before a move) is dated by its iat: its successor, which
    // gets a new iat, keeps the session's start in orig_iat, or each rotation would restart its lifetime.
    if (startedAt !== null && sessionStartOf(claims[SESSION_CLAIM]) === null && claims.orig_iat === undefined) {
      carried.orig_iat = Math.floor(startedAt / 1000)
    }
    if (!o.rotateRefreshTokens) {
      await this.#standing.assertUsable(claims, true)
      const userId = this.userIdOf(claims)
      const access = this.#sign('access', carried, now).token
      if (userId !== null) {
        this.#sessions.noteUse(this.#familyOf(claims), userId, 'jwt', startedAt ?? now, now, context)
        this.#events.emit('token.refreshed', { userId, rotated: false }, context)
      }
      return { access }
    }
    // Before the claim: a token of an ended session must not rotate (nor count as reuse).
    await this.#standing.assertSessionAlive(claims)
    const fallback = this.#recordOf(claims)
    // Signed before the claim so the store can record it in the same atomic step: a failure in between
    // cannot leave the old token used and no successor (the client's retry would look like reuse).
    const refresh = this.#sign('refresh', carried, now, newJti(), endsAt)
    const claim = await this.#store.claimRefreshToken(fallback.jti, fallback, { jti: refresh.jti, expiresAt: refresh.expiresAt })
    // A rotated-out token seen again is reuse, whether or not rotation also blacklisted it.
    const rotatedAt = claim.status === 'claimed' ? null : claim.record.usedAt
    if (rotatedAt !== null && o.refreshReuseDetection && Date.now() - rotatedAt.getTime() >= o.refreshReuseInterval * 1000) {
      await this.#store.revokeRefreshFamily(claim.record.family)
      this.#events.emit('token.reuseDetected', { userId: claim.record.userId, family: claim.record.family }, context)
    }
    if (claim.status === 'revoked' || (rotatedAt !== null && (o.blacklistAfterRotation || o.refreshReuseDetection))) {
      throw new TokenNotValidError('Token is blacklisted')
    }
    if (o.blacklistAfterRotation) await this.#store.revokeRefreshToken(fallback.jti, fallback)
    const access = this.#sign('access', carried, now).token
    this.#sessions.noteUse(claim.record.family, claim.record.userId, 'jwt', startedAt ?? now, now, context)
    this.#events.emit('token.refreshed', { userId: claim.record.userId, rotated: true }, context)
    return { access, refresh: refresh.token }
  }

  /** /jwt/blacklist/: a refresh token is blacklisted once; using it again is 401. */
  async blacklist (token: string, context?: RequestContext): Promise<void> {
    const claims = this.verify(token, 'refresh')
    await this.#standing.assertNotRevoked(claims)
    const record = this.#recordOf(claims)
    await this.#store.revokeRefreshToken(record.jti, record)
    this.#events.emit('token.revoked', { userId: this.userIdOf(claims), reason: 'blacklist' }, context)
  }

  /** Revokes every refresh token of the user and deletes its opaque tokens (account deletion, a logout); `token.revoked` when there were any. */
  async revokeUserTokens (userId: number, reason: RevokeReason = 'password-change', context?: RequestContext): Promise<void> {
    const [refresh, opaque] = await Promise.all([this.#store.revokeUserRefreshTokens(userId), this.#store.deleteUserAuthTokens(userId)])
    if (refresh + opaque > 0) this.#events.emit('token.revoked', { userId, reason }, context)
  }

  /**
   * A new opaque token (40 hex chars, as DRF's authtoken); only its hash is stored. It is a session of its
   * own, dated as {@link startSession} dates one when given the user (as a login has it); a bare id dates it now.
   */
  async createAuthToken (subject: number | TokenSubject, context?: RequestContext): Promise<string> {
    const key = randomBytes(20).toString('hex')
    const [userId, user] = typeof subject === 'number' ? [subject, undefined] : [subject.id, subject]
    const hash = hashAuthToken(key)
    const createdAt = this.#sessionStart(user)
    await this.#store.saveAuthToken({ hash, userId, createdAt: new Date(createdAt) })
    // After the token, not beside it: the Redis store gives the token's key the session's expiry.
    await this.#store.saveSession(this.#sessions.record(hash, userId, 'token', createdAt, createdAt, context))
    return key
  }

  /**
   * The record of an opaque token (its user, when it was created), or null; null too for one older than
   * `authTokenLifetime`, which is then deleted. Notes the use on its session record (at most once a minute,
   * off the request path: the record's `lastUsedAt` says when it is due, no lookup of its own).
   */
  async findAuthToken (key: string, context?: RequestContext): Promise<AuthTokenRecord | null> {
    if (!AUTH_TOKEN_PATTERN.test(key)) return null
    const hash = hashAuthToken(key)
    const record = await this.#store.findAuthToken(hash)
    if (record === null) return null
    const now = Date.now()
    const created = record.createdAt.getTime()
    if (this.#sessions.authTokenExpired(created, now)) {
      this.#sessions.background(this.#store.deleteAuthToken(hash), 'fastify-accounts: deleting an expired opaque token failed')
      return null
    }
    if (record.lastUsedAt == null || record.lastUsedAt.getTime() < now - TOUCH_INTERVAL_MS) {
      this.#sessions.touch(this.#sessions.record(hash, record.userId, 'token', created, now, context))
    }
    return record
  }

  /** Logout of one opaque token. Give the user id when known (the request's user); otherwise it is looked up for the event. */
  async deleteAuthToken (key: string, userId?: number, context?: RequestContext): Promise<void> {
    const hash = hashAuthToken(key)
    const owner = userId ?? (await this.#store.findAuthToken(hash))?.userId ?? null
    if (await this.#store.deleteAuthToken(hash)) this.#events.emit('token.revoked', { userId: owner, reason: 'logout' }, context)
  }

  /** Deletes every opaque token of the user (a logout with a JWT, or a password change); `token.revoked` when there were any. */
  async deleteUserAuthTokens (userId: number, reason: RevokeReason = 'logout', context?: RequestContext): Promise<void> {
    if (await this.#store.deleteUserAuthTokens(userId) > 0) this.#events.emit('token.revoked', { userId, reason }, context)
  }
}
