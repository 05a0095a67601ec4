import { DuplicateUserError } from '../ports.js'
import type {
  AuthTokenRecord, NewRefreshToken, NewUser, RefreshClaim, RefreshSuccessor, RefreshTokenRecord, SessionKind, SessionRecord, TokenStore, User,
  UserExpectation, UserPatch, UserStore
} from '../ports.js'

// Dates are mutable, so a shallow spread is not a copy.
const copyDate = (d: Date | null): Date | null => (d === null ? null : new Date(d.getTime()))
const copyUser = (u: User): User => ({
  ...u, lastLogin: copyDate(u.lastLogin), dateJoined: new Date(u.dateJoined.getTime()), sessionsValidAfter: copyDate(u.sessionsValidAfter ?? null)
})
const copyRefresh = (r: RefreshTokenRecord): RefreshTokenRecord => ({
  ...r, expiresAt: new Date(r.expiresAt.getTime()), usedAt: copyDate(r.usedAt), revokedAt: copyDate(r.revokedAt)
})
const copyAuth = (a: AuthTokenRecord): AuthTokenRecord => ({ hash: a.hash, userId: a.userId, createdAt: new Date(a.createdAt.getTime()) })
const copySession = (r: SessionRecord): SessionRecord => ({
  id: r.id, userId: r.userId, kind: r.kind, createdAt: new Date(r.createdAt.getTime()), lastUsedAt: new Date(r.lastUsedAt.getTime()),
  expiresAt: copyDate(r.expiresAt), ip: r.ip, userAgent: r.userAgent
})
const newRefresh = (r: NewRefreshToken, jti: string): RefreshTokenRecord => ({
  jti, userId: r.userId, family: r.family, expiresAt: new Date(r.expiresAt.getTime()), usedAt: null, revokedAt: null
})

/** Process-local user store, for tests and single-process development. */
export class MemoryUserStore implements UserStore {
  #nextId = 1
  readonly #byId = new Map<number, User>()
  readonly #idByUsername = new Map<string, number>()
  readonly #idByEmail = new Map<string, number>()
  /** Lower-cased username → the ids holding it in some letter case (usernames are unique only exactly). */
  readonly #idsByUsernameLower = new Map<string, Set<number>>()

  async createUser (data: NewUser): Promise<User> {
    this.#checkUnique(data.username, data.email, null)
    if (data.id !== undefined && this.#byId.has(data.id)) throw new Error(`a user with id ${data.id} already exists`)
    const id = data.id ?? this.#nextId
    this.#nextId = Math.max(this.#nextId, id + 1)
    const user: User = {
      id,
      username: data.username,
      email: data.email,
      firstName: data.firstName ?? '',
      lastName: data.lastName ?? '',
      password: data.password,
      isActive: data.isActive,
      isStaff: data.isStaff ?? false,
      isSuperuser: data.isSuperuser ?? false,
      lastLogin: copyDate(data.lastLogin ?? null),
      dateJoined: data.dateJoined === undefined ? new Date() : new Date(data.dateJoined.getTime()),
      sessionsValidAfter: null,
      keptSession: null
    }
    this.#byId.set(user.id, user)
    this.#index(user)
    return copyUser(user)
  }

  async findUserById (id: number): Promise<User | null> {
    const user = this.#byId.get(id)
    return user === undefined ? null : copyUser(user)
  }

  async findUserByUsername (username: string): Promise<User | null> {
    return await this.#findById(this.#idByUsername.get(username))
  }

  async findUserByEmail (email: string): Promise<User | null> {
    return await this.#findById(this.#idByEmail.get(email.toLowerCase()))
  }

  async findUsersByUsernameIgnoringCase (username: string): Promise<User[]> {
    const ids = [...this.#idsByUsernameLower.get(username.toLowerCase()) ?? []].sort((a, b) => a - b)
    return ids.map((id) => copyUser(this.#byId.get(id) as User))
  }

  async #findById (id: number | undefined): Promise<User | null> {
    return id === undefined ? null : await this.findUserById(id)
  }

  async updateUser (id: number, patch: UserPatch, expect: UserExpectation = {}): Promise<User | null> {
    const user = this.#byId.get(id)
    if (user === undefined) return null
    for (const key of ['username', 'email', 'password', 'isActive'] as const) {
      if (expect[key] !== undefined && expect[key] !== user[key]) return null
    }
    this.#checkUnique(patch.username, patch.email, id)

    // Field by field, so nothing outside UserPatch (an id, say) can slip in at run time.
    const updated: User = {
      ...user,
      username: patch.username ?? user.username,
      email: patch.email ?? user.email,
      firstName: patch.firstName ?? user.firstName,
      lastName: patch.lastName ?? user.lastName,
      password: patch.password ?? user.password,
      isActive: patch.isActive ?? user.isActive,
      isStaff: patch.isStaff ?? user.isStaff,
      isSuperuser: patch.isSuperuser ?? user.isSuperuser,
      lastLogin: patch.lastLogin === undefined ? user.lastLogin : copyDate(patch.lastLogin),
      sessionsValidAfter: patch.sessionsValidAfter === undefined ? user.sessionsValidAfter : copyDate(patch.sessionsValidAfter),
      keptSession: patch.keptSession === undefined ? user.keptSession : patch.keptSession
    }
    this.#unindex(user)
    this.#byId.set(id, updated)
    this.#index(updated)
    return copyUser(updated)
  }

  async deleteUser (id: number): Promise<boolean> {
    const user = this.#byId.get(id)
    if (user === undefined) return false
    this.#byId.delete(id)
    this.#unindex(user)
    return true
  }

  #index (user: User): void {
    this.#idByUsername.set(user.username, user.id)
    this.#idByEmail.set(user.email.toLowerCase(), user.id)
    const lower = user.username.toLowerCase()
    const ids = this.#idsByUsernameLower.get(lower)
    if (ids === undefined) this.#idsByUsernameLower.set(lower, new Set([user.id]))
    else ids.add(user.id)
  }

  #unindex (user: User): void {
    this.#idByUsername.delete(user.username)
    this.#idByEmail.delete(user.email.toLowerCase())
    const lower = user.username.toLowerCase()
    const ids = this.#idsByUsernameLower.get(lower)
    ids?.delete(user.id)
    if (ids?.size === 0) this.#idsByUsernameLower.delete(lower)
  }

  async listUsers (): Promise<User[]> {
    return [...this.#byId.values()].sort((a, b) => a.id - b.id).map(copyUser)
  }

  #checkUnique (username: string | undefined, email: string | undefined, self: number | null): void {
    const taken = (owner: number | undefined): boolean => owner !== undefined && owner !== self
    if (username !== undefined && taken(this.#idByUsername.get(username))) throw new DuplicateUserError('username')
    if (email !== undefined && taken(this.#idByEmail.get(email.toLowerCase()))) throw new DuplicateUserError('email')
  }
}

export interface MemoryTokenStoreOptions {
  /**
   * At most this often (default 60 s), a write first drops the refresh records that expired more than
   * `refreshGraceSeconds` ago, so a long-running process does not keep every token it ever issued.
   * 0 turns the sweep off (then call `purgeExpired` yourself).
   */
  sweepIntervalSeconds?: number
  /**
   * How long a refresh record (and its blacklist mark) outlives its token (default 300 s, as the Redis
   * store). Keep it at least the `jwt.leeway`, so a blacklisted token cannot come back within the leeway.
   */
  refreshGraceSeconds?: number
}

function seconds (name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new TypeError(`fastify-accounts: ${name} must be a non-negative number of seconds, not ${String(value)}`)
  return value * 1000
}

/**
 * Process-local token store; claims are atomic because nothing awaits between the check and the write.
 * Expired refresh records are swept on write (see {@link MemoryTokenStoreOptions}); opaque tokens, as
 * DRF's, live until deleted.
 */
export class MemoryTokenStore implements TokenStore {
  readonly #refresh = new Map<string, RefreshTokenRecord>()
  readonly #auth = new Map<string, AuthTokenRecord>()
  readonly #sessions = new Map<string, SessionRecord>()
  readonly #sweepMs: number
  readonly #graceMs: number
  #nextSweep: number

  constructor (options: MemoryTokenStoreOptions = {}) {
    this.#sweepMs = seconds('sweepIntervalSeconds', options.sweepIntervalSeconds ?? 60)
    this.#graceMs = seconds('refreshGraceSeconds', options.refreshGraceSeconds ?? 300)
    this.#nextSweep = Date.now() + this.#sweepMs
  }

  /** How many records the store holds (for monitoring and the memory benchmark). */
  get size (): { refresh: number, auth: number } {
    return { refresh: this.#refresh.size, auth: this.#auth.size }
  }

  /** Before a write: one pass over the refresh records when the sweep is due. */
  #sweepIfDue (): void {
    if (this.#sweepMs === 0) return
    const now = Date.now()
    if (now < this.#nextSweep) return
    this.#nextSweep = now + this.#sweepMs
    this.#purge(now - this.#graceMs)
  }

  #purge (before: number): number {
    let count = 0
    for (const [jti, record] of this.#refresh) {
      if (record.expiresAt.getTime() < before && this.#refresh.delete(jti)) count++
    }
    return count
  }

  async saveRefreshToken (record: NewRefreshToken): Promise<void> {
    this.#sweepIfDue()
    this.#refresh.set(record.jti, newRefresh(record, record.jti))
  }

  async findRefreshToken (jti: string): Promise<RefreshTokenRecord | null> {
    const record = this.#refresh.get(jti)
    return record === undefined ? null : copyRefresh(record)
  }

  async claimRefreshToken (jti: string, fallback: NewRefreshToken, successor?: RefreshSuccessor): Promise<RefreshClaim> {
    this.#sweepIfDue()
    let record = this.#refresh.get(jti)
    if (record?.revokedAt != null) return { status: 'revoked', record: copyRefresh(record) }
    if (record?.usedAt != null) return { status: 'used', record: copyRefresh(record) }
    // As the SQL and Redis stores: a successor that cannot be recorded fails the claim, changing nothing.
    if (successor !== undefined && this.#refresh.has(successor.jti)) throw new Error(`fastify-accounts: refresh token ${successor.jti} is already recorded`)
    if (record === undefined) {
      record = newRefresh(fallback, jti)
      this.#refresh.set(jti, record)
    }
    record.usedAt = new Date()
    if (successor !== undefined) {
      this.#refresh.set(successor.jti, newRefresh({ ...successor, userId: record.userId, family: record.family }, successor.jti))
    }
    return { status: 'claimed', record: copyRefresh(record) }
  }

  async revokeRefreshToken (jti: string, fallback: NewRefreshToken): Promise<void> {
    this.#sweepIfDue()
    const record = this.#refresh.get(jti)
    if (record === undefined) this.#refresh.set(jti, { ...newRefresh(fallback, jti), revokedAt: new Date() })
    else record.revokedAt ??= new Date()
  }

  async revokeRefreshFamily (family: string): Promise<number> {
    if (this.#sessions.get(family)?.kind === 'jwt') this.#sessions.delete(family)
    return this.#revokeWhere((r) => r.family === family)
  }

  async revokeUserRefreshTokens (userId: number, exceptFamily?: string): Promise<number> {
    this.#deleteSessions(userId, 'jwt', exceptFamily)
    return this.#revokeWhere((r) => r.userId === userId && r.family !== exceptFamily)
  }

  #deleteSessions (userId: number, kind: SessionKind, except: string | undefined): void {
    for (const [id, session] of this.#sessions) {
      if (session.userId === userId && session.kind === kind && id !== except) this.#sessions.delete(id)
    }
  }

  #revokeWhere (match: (record: RefreshTokenRecord) => boolean): number {
    const now = new Date()
    let count = 0
    for (const record of this.#refresh.values()) {
      if (record.revokedAt === null && match(record)) {
        record.revokedAt = now
        count++
      }
    }
    return count
  }

  async saveAuthToken (record: AuthTokenRecord): Promise<void> {
    this.#auth.set(record.hash, copyAuth(record))
  }

  async findAuthToken (hash: string): Promise<AuthTokenRecord | null> {
    const record = this.#auth.get(hash)
    if (record === undefined) return null
    return { ...copyAuth(record), lastUsedAt: copyDate(this.#sessions.get(hash)?.lastUsedAt ?? null) }
  }

  async deleteAuthToken (hash: string): Promise<boolean> {
    if (this.#sessions.get(hash)?.kind === 'token') this.#sessions.delete(hash)
    return this.#auth.delete(hash)
  }

  async deleteUserAuthTokens (userId: number, exceptHash?: string): Promise<number> {
    this.#deleteSessions(userId, 'token', exceptHash)
    let count = 0
    for (const [hash, record] of this.#auth) {
      if (record.userId === userId && hash !== exceptHash && this.#auth.delete(hash)) count++
    }
    return count
  }

  async purgeExpired (now: Date): Promise<number> {
    const count = this.#purge(now.getTime())
    const families = new Set<string>()
    for (const record of this.#refresh.values()) families.add(record.family)
    for (const [id, session] of this.#sessions) {
      const expired = session.expiresAt !== null && session.expiresAt.getTime() < now.getTime()
      if (expired || !(session.kind === 'jwt' ? families.has(id) : this.#auth.has(id))) this.#sessions.delete(id)
    }
    return count
  }

  async saveSession (record: SessionRecord): Promise<void> {
    this.#sessions.set(record.id, copySession(record))
  }

  async touchSession (record: SessionRecord, staleBefore: Date): Promise<void> {
    const session = this.#sessions.get(record.id)
    if (session === undefined) this.#sessions.set(record.id, copySession(record))
    else if (session.lastUsedAt.getTime() < staleBefore.getTime()) session.lastUsedAt = new Date(record.lastUsedAt.getTime())
  }

  async listSessions (userId: number, now: Date): Promise<SessionRecord[]> {
    const at = now.getTime()
    const liveFamilies = new Set<string>()
    for (const r of this.#refresh.values()) {
      if (r.userId === userId && r.usedAt === null && r.revokedAt === null && r.expiresAt.getTime() > at) liveFamilies.add(r.family)
    }
    return [...this.#sessions.values()]
      .filter((s) => s.userId === userId && (s.expiresAt === null || s.expiresAt.getTime() > at) &&
        (s.kind === 'jwt' ? liveFamilies.has(s.id) : this.#auth.has(s.id)))
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : 1))
      .map(copySession)
  }
}
