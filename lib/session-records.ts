import type { AccountsEventEmitter } from './events.js'
import type { SessionKind, SessionRecord, TokenStore, UserStore } from './ports.js'
import { RecentWrites } from './recent-writes.js'
import type { RequestContext } from './request-context.js'

/** A session as the sessions routes list it: its record, its end as the options now say, and whether the request is in it. */
export type SessionView = Omit<SessionRecord, 'userId'> & { current: boolean }

/** Where the session bookkeeping done off the request path (last-use writes, expired-token deletes) reports failures. */
export interface TokenServiceLogger {
  warn (obj: object, msg: string): void
}

/** Last-use writes are skipped while the recorded one is younger than this (ms): at most one a minute per session. */
export const TOUCH_INTERVAL_MS = 60_000

export interface SessionRecordsDeps {
  store: TokenStore
  /** To write the cut-off that ends every other session at once. */
  users: Pick<UserStore, 'updateUser'>
  events: AccountsEventEmitter
  /** `jwt.sessionLifetime`, seconds. */
  sessionLifetime: number
  /** `authTokenLifetime`, seconds; null: opaque tokens never expire. */
  authTokenLifetime: number | null
  /** Default: process warnings. */
  log?: TokenServiceLogger | undefined
}

/**
 * The session records behind the sessions routes (ASVS 3.3.2, 3.3.4), for TokenService: each session's end
 * (`jwt.sessionLifetime` after a login, `authTokenLifetime` after an opaque token's creation), its record
 * (saved when it starts, its last use noted off the request path at most once a minute), and ending one or all
 * but the current. A JWT session is a rotation family (its id the `sid` its tokens carry), an opaque token is
 * its own (its id the key's hash).
 */
export class SessionRecords {
  readonly #store: TokenStore
  readonly #users: Pick<UserStore, 'updateUser'>
  readonly #events: AccountsEventEmitter
  readonly #sessionMs: number
  readonly #authTokenMs: number | null
  readonly #log: TokenServiceLogger
  readonly #recentWrites = new RecentWrites(TOUCH_INTERVAL_MS)

  constructor (deps: SessionRecordsDeps) {
    this.#store = deps.store
    this.#users = deps.users
    this.#events = deps.events
    this.#sessionMs = deps.sessionLifetime * 1000
    this.#authTokenMs = deps.authTokenLifetime === null ? null : deps.authTokenLifetime * 1000
    this.#log = deps.log ?? {
      warn: (obj, msg) => { process.emitWarning(`${msg} ${JSON.stringify(obj, (_key, value: unknown) => value instanceof Error ? value.message : value)}`) }
    }
  }

  /** When a session that started at `startedAt` (ms) ends: `jwt.sessionLifetime` later. */
  sessionEnd (startedAt: number): number {
    return startedAt + this.#sessionMs
  }

  /** When an opaque token created at `createdAt` (ms) expires (`authTokenLifetime`), null for never. */
  authTokenEnd (createdAt: number): number | null {
    return this.#authTokenMs === null ? null : createdAt + this.#authTokenMs
  }

  authTokenExpired (createdAt: number, now: number): boolean {
    const end = this.authTokenEnd(createdAt)
    return end !== null && now >= end
  }

  /** The record of a session: its end from its kind, the IP and user agent from the request (null without one). */
  record (id: string, userId: number, kind: SessionKind, createdAt: number, usedAt: number, context: RequestContext | undefined): SessionRecord {
    const ends = kind === 'jwt' ? this.sessionEnd(createdAt) : this.authTokenEnd(createdAt)
    return {
      id,
      userId,
      kind,
      createdAt: new Date(createdAt),
      lastUsedAt: new Date(usedAt),
      expiresAt: ends === null ? null : new Date(ends),
      ip: context?.ip ?? null,
      userAgent: context?.userAgent ?? null
    }
  }

  /**
   * Notes a use of a session whose stored last use the caller has not read (a refresh): nothing when this
   * process wrote one within the minute (the store would turn the write down), else {@link touch}.
   */
  noteUse (id: string, userId: number, kind: SessionKind, createdAt: number, usedAt: number, context: RequestContext | undefined): void {
    if (this.#recentWrites.due(id, usedAt)) this.touch(this.record(id, userId, kind, createdAt, usedAt, context))
  }

  /** Notes a use of a session (the store writes at most once a minute), off the request path. */
  touch (record: SessionRecord): void {
    const staleBefore = new Date(record.lastUsedAt.getTime() - TOUCH_INTERVAL_MS)
    this.background(Promise.resolve().then(async () => { await this.#store.touchSession(record, staleBefore) }).catch((error: unknown) => {
      this.#recentWrites.forget(record.id)
      throw error
    }), 'fastify-accounts: recording the last use of a session failed')
  }

  /** Work no request waits for: its failure is logged, never thrown. */
  background (work: Promise<unknown>, message: string): void {
    work.catch((error: unknown) => { this.#log.warn({ err: error }, message) })
  }

  /** The user's live sessions, oldest first, `current` flagged; their end is the one the options say now. */
  async list (userId: number, current: string | null): Promise<SessionView[]> {
    const now = Date.now()
    const views: SessionView[] = []
    for (const r of await this.#store.listSessions(userId, new Date(now))) {
      const ends = r.kind === 'jwt' ? this.sessionEnd(r.createdAt.getTime()) : this.authTokenEnd(r.createdAt.getTime())
      if (ends !== null && ends <= now) continue
      views.push({
        id: r.id,
        kind: r.kind,
        createdAt: r.createdAt,
        lastUsedAt: r.lastUsedAt,
        expiresAt: ends === null ? null : new Date(ends),
        ip: r.ip,
        userAgent: r.userAgent,
        current: r.id === current
      })
    }
    return views
  }

  /**
   * Ends one session of the user: a rotation family is revoked (its access tokens live on until they expire,
   * minutes at most: no store holds them), an opaque token deleted. False when the user has no live session
   * of that id (another user's, unknown or already ended).
   */
  async endOne (userId: number, id: string, context?: RequestContext): Promise<boolean> {
    const session = (await this.#store.listSessions(userId, new Date())).find((s) => s.id === id)
    if (session === undefined) return false
    if (session.kind === 'jwt') await this.#store.revokeRefreshFamily(id)
    else await this.#store.deleteAuthToken(id)
    this.#events.emit('session.ended', { userId, count: 1, reason: 'user-ended-one' }, context)
    return true
  }

  /**
   * Ends every session of the user but `current` (null: all of them), as a password change does: a cut-off on
   * the user row first, so the access tokens of the ended sessions (in every dialect) are refused at once, then
   * their refresh tokens and opaque tokens go. Returns how many listed sessions ended.
   */
  async endOthers (userId: number, current: string | null, context?: RequestContext): Promise<number> {
    const listed = await this.#store.listSessions(userId, new Date())
    const updated = await this.#users.updateUser(userId, { sessionsValidAfter: new Date(Date.now()), keptSession: current })
    if (updated === null) return 0
    const except = current ?? undefined
    await Promise.all([this.#store.revokeUserRefreshTokens(userId, except), this.#store.deleteUserAuthTokens(userId, except)])
    const count = listed.filter((s) => s.id !== current).length
    this.#events.emit('session.ended', { userId, count, reason: 'user-ended-others' }, context)
    return count
  }
}
