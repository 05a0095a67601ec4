import { Redis } from 'ioredis'
import { StoreUnavailableError } from '../ports.js'
import { CLAIM, DELETE_AUTH, DELETE_USER_AUTH, LIST_SESSIONS, PURGE, REVOKE, REVOKE_INDEXED, SAVE, SAVE_AUTH, SAVE_SESSION, type Script } from './redis-scripts.js'
import type { AuthTokenRecord, NewRefreshToken, RefreshClaim, RefreshSuccessor, RefreshTokenRecord, SessionKind, SessionRecord, StoreLogger, TokenStore } from '../ports.js'
import type { RedisClientOptions, RedisTokenStoreOptions } from './driver-options.js'

export type { RedisClientOptions, RedisTokenStoreOptions } from './driver-options.js'

/**
 * An ioredis client set up to fail fast and recover by itself: connecting and each command are bounded
 * (1 s by default); while Redis is unreachable commands fail at once instead of queueing (no offline
 * queue, no retry of commands cut off by a lost connection, so nothing stale runs when it comes back);
 * reconnection is tried at once, then every 100 ms to 1 s for as long as it takes. Connects on first `connect()`.
 */
export function createRedisClient (url: string, options: RedisClientOptions = {}): Redis {
  const commandTimeout = options.commandTimeoutMs ?? 1000
  return new Redis(url, {
    lazyConnect: true,
    connectionName: options.connectionName ?? 'fastify-accounts',
    connectTimeout: options.connectTimeoutMs ?? 1000,
    commandTimeout,
    // A connection that stops answering while commands wait is dropped and re-established.
    socketTimeout: commandTimeout * 2,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    // At once after a lost connection (a killed client, a failover), then backing off to once a second.
    retryStrategy: (times: number) => Math.min((times - 1) * 100, 1000)
  })
}

/** Redis answers that mean "not now" (loading, failing over, out of memory), not a bug. */
const TRANSIENT_REPLY = /^(LOADING|BUSY|MASTERDOWN|READONLY|TRYAGAIN|CLUSTERDOWN|NOREPLICAS|OOM|MISCONF)\b/

/** A failed command as the store throws it: StoreUnavailableError (503) unless Redis rejected the command itself. */
function redisError (error: unknown): unknown {
  if (error instanceof StoreUnavailableError) return error
  const message = error instanceof Error ? error.message : String(error)
  if (error instanceof Error && error.name === 'ReplyError' && !TRANSIENT_REPLY.test(message)) return error
  return new StoreUnavailableError(`fastify-accounts: Redis is unavailable: ${message}`, { cause: error })
}

const PURGE_BATCH = 500

type Reply = Array<string | null>

const millis = (value: string): Date => new Date(Number(value))
const optionalMillis = (value: string | null | undefined): Date | null =>
  value === null || value === undefined || value === '' ? null : millis(value)

function nonNegative (name: string, value: number, allowZero = true): number {
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new TypeError(`fastify-accounts: ${name} must be a ${allowZero ? 'non-negative' : 'positive'} number of seconds, not ${String(value)}`)
  }
  return value
}

/**
 * TokenStore on Redis (ioredis): refresh-token records, the blacklist and opaque tokens, shared by every
 * instance of the app. Claims and revocations are Lua scripts, atomic across instances. Refresh records
 * expire with their tokens (plus `refreshGraceSeconds`); the per-user and per-family indexes prune
 * themselves and expire with their newest token. Redis 5 or newer (tested with 7.0), standalone or a
 * Sentinel-managed primary through a client you pass; not Redis Cluster (the scripts touch keys they compute).
 *
 * Given a URL, the store owns its client (set up by {@link createRedisClient}) and closes it; given a
 * client, the caller keeps it (`close()` leaves it open) and should configure the same bounded timeouts.
 */
export class RedisTokenStore implements TokenStore {
  readonly #client: Redis
  readonly #ownsClient: boolean
  readonly #prefix: string
  readonly #graceMs: number
  readonly #authTtlMs: number | null
  readonly #connectTimeoutMs: number
  readonly #logger: StoreLogger | undefined
  #down = false
  #closed: Promise<void> | undefined

  constructor (clientOrUrl: Redis | string, options: RedisTokenStoreOptions = {}) {
    this.#prefix = options.keyPrefix ?? 'accounts:'
    this.#graceMs = nonNegative('refreshGraceSeconds', options.refreshGraceSeconds ?? 300) * 1000
    const authTtl = options.authTokenTtlSeconds ?? null
    this.#authTtlMs = authTtl === null ? null : nonNegative('authTokenTtlSeconds', authTtl, false) * 1000
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 1000
    this.#logger = options.logger
    if (typeof clientOrUrl === 'string') {
      this.#client = createRedisClient(clientOrUrl, options)
      this.#ownsClient = true
      this.#client.on('error', (error: Error) => { this.#reportDown(error) })
      this.#client.on('ready', () => { this.#reportUp() })
    } else {
      if (clientOrUrl.options.keyPrefix !== undefined && clientOrUrl.options.keyPrefix !== '') {
        throw new TypeError('fastify-accounts: give the RedisTokenStore a client without ioredis\' keyPrefix, and the prefix as its keyPrefix option (its scripts build keys themselves)')
      }
      this.#client = clientOrUrl
      this.#ownsClient = false
    }
  }

  /** The client in use (for health checks); do not close it while the store is in use. */
  get client (): Redis {
    return this.#client
  }

  #reportDown (error: Error): void {
    if (this.#down) return
    this.#down = true
    this.#logger?.warn({ err: error }, 'fastify-accounts: Redis connection lost; token requests get 503 until it is back')
  }

  #reportUp (): void {
    if (!this.#down) return
    this.#down = false
    this.#logger?.info({}, 'fastify-accounts: Redis connection is back')
  }

  /** Waits until the client is ready (at most the connect timeout); rejects with StoreUnavailableError. */
  async connect (): Promise<void> {
    const client = this.#client
    if (client.status === 'ready') return
    if (client.status === 'wait') {
      // ioredis rejects with "Connection is closed."; the 'error' event before it says why.
      let cause: Error | undefined
      const onError = (error: Error): void => { cause ??= error }
      client.on('error', onError)
      try {
        await client.connect()
      } catch (error) {
        throw redisError(cause ?? error)
      } finally {
        client.off('error', onError)
      }
      return
    }
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error): void => {
        clearTimeout(timer)
        client.off('ready', onReady)
        client.off('end', onEnd)
        if (error === undefined) resolve()
        else reject(redisError(error))
      }
      const onReady = (): void => { done() }
      const onEnd = (): void => { done(new Error('Connection is closed.')) }
      const timer = setTimeout(() => { done(new Error(`not ready after ${this.#connectTimeoutMs} ms`)) }, this.#connectTimeoutMs)
      client.once('ready', onReady)
      client.once('end', onEnd)
    })
  }

  async #guard<T> (work: Promise<T>): Promise<T> {
    try {
      return await work
    } catch (error) {
      throw redisError(error)
    }
  }

  async #run (script: Script, keys: string[], args: Array<string | number>): Promise<unknown> {
    const client = this.#client
    return await this.#guard((async () => {
      try {
        return await client.evalsha(script.sha, keys.length, ...keys, ...args)
      } catch (error) {
        if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error
        return await client.eval(script.source, keys.length, ...keys, ...args)
      }
    })())
  }

  #key (kind: 'rt' | 'rt-user' | 'rt-family' | 'at' | 'at-user' | 'ses' | 'ses-user', id: string | number): string {
    return `${this.#prefix}${kind}:${id}`
  }

  #createArgs (jti: string, record: NewRefreshToken): { keys: string[], args: Array<string | number> } {
    const now = Date.now()
    return {
      keys: [this.#key('rt', jti), `${this.#prefix}rt-exp`, this.#key('rt-user', record.userId), this.#key('rt-family', record.family)],
      args: [jti, record.userId, record.family, record.expiresAt.getTime(), now, now - this.#graceMs, this.#graceMs]
    }
  }

  async saveRefreshToken (record: NewRefreshToken): Promise<void> {
    const { keys, args } = this.#createArgs(record.jti, record)
    // As the SQL stores' primary key: a jti is recorded once.
    if (Number(await this.#run(SAVE, keys, args)) !== 1) throw new Error(`fastify-accounts: refresh token ${record.jti} is already recorded`)
  }

  async findRefreshToken (jti: string): Promise<RefreshTokenRecord | null> {
    const [u, f, e, ua, ra] = await this.#guard(this.#client.hmget(this.#key('rt', jti), 'u', 'f', 'e', 'ua', 'ra')) as Reply
    if (u === null || f === null || e === null) return null
    return { jti, userId: Number(u), family: f, expiresAt: millis(e), usedAt: optionalMillis(ua), revokedAt: optionalMillis(ra) }
  }

  async claimRefreshToken (jti: string, fallback: NewRefreshToken, successor?: RefreshSuccessor): Promise<RefreshClaim> {
    const { keys, args } = this.#createArgs(jti, fallback)
    if (successor !== undefined) {
      keys.push(this.#key('rt', successor.jti))
      args.push(this.#prefix, successor.jti, successor.expiresAt.getTime())
    }
    const [status, u, f, e, ua, ra] = await this.#run(CLAIM, keys, args) as string[]
    if (status === 'exists') throw new Error(`fastify-accounts: refresh token ${successor?.jti ?? ''} is already recorded`)
    const record: RefreshTokenRecord = {
      jti, userId: Number(u), family: f, expiresAt: millis(e), usedAt: optionalMillis(ua), revokedAt: optionalMillis(ra)
    }
    if (status !== 'claimed' && status !== 'used' && status !== 'revoked') throw new Error(`fastify-accounts: unexpected claim status ${String(status)}`)
    return { status, record }
  }

  async revokeRefreshToken (jti: string, fallback: NewRefreshToken): Promise<void> {
    const { keys, args } = this.#createArgs(jti, fallback)
    await this.#run(REVOKE, keys, args)
  }

  async revokeRefreshFamily (family: string): Promise<number> {
    return Number(await this.#run(REVOKE_INDEXED, [this.#key('rt-family', family)], [this.#prefix, Date.now(), 'f', family]))
  }

  async revokeUserRefreshTokens (userId: number, exceptFamily?: string): Promise<number> {
    const args = [this.#prefix, Date.now(), 'u', String(userId), ...(exceptFamily === undefined ? [] : [exceptFamily])]
    return Number(await this.#run(REVOKE_INDEXED, [this.#key('rt-user', userId)], args))
  }

  async saveAuthToken (record: AuthTokenRecord): Promise<void> {
    const created = record.createdAt.getTime()
    const expires = this.#authTtlMs === null ? '' : created + this.#authTtlMs
    await this.#run(SAVE_AUTH, [this.#key('at', record.hash), this.#key('at-user', record.userId)],
      [record.hash, record.userId, created, expires, Date.now()])
  }

  async findAuthToken (hash: string): Promise<AuthTokenRecord | null> {
    // One round trip for the token and its session's last use.
    const replies = await this.#guard(this.#client.pipeline().hmget(this.#key('at', hash), 'u', 'c').hget(this.#key('ses', hash), 'l').exec())
    const failed = replies?.find(([error]) => error !== null)
    if (replies === null || replies.length !== 2 || failed !== undefined) throw redisError(failed?.[0] ?? new Error('pipeline aborted'))
    const [u, c] = replies[0][1] as Reply
    if (u === null || c === null) return null
    return { hash, userId: Number(u), createdAt: millis(c), lastUsedAt: optionalMillis(replies[1][1] as string | null) }
  }

  async deleteAuthToken (hash: string): Promise<boolean> {
    return Number(await this.#run(DELETE_AUTH, [this.#key('at', hash)], [this.#prefix, hash])) === 1
  }

  async deleteUserAuthTokens (userId: number, exceptHash?: string): Promise<number> {
    const args = [this.#prefix, String(userId), ...(exceptHash === undefined ? [] : [exceptHash])]
    return Number(await this.#run(DELETE_USER_AUTH, [this.#key('at-user', userId)], args))
  }

  #sessionArgs (record: SessionRecord, mode: 'save' | 'touch', staleBefore = 0): { keys: string[], args: Array<string | number> } {
    const r = record
    return {
      keys: [this.#key('ses', r.id), this.#key('ses-user', r.userId)],
      args: [r.id, r.userId, r.kind, r.createdAt.getTime(), r.lastUsedAt.getTime(), r.expiresAt === null ? '' : r.expiresAt.getTime(),
        r.ip ?? '', r.userAgent ?? '', Date.now(), this.#prefix, mode, staleBefore]
    }
  }

  async saveSession (record: SessionRecord): Promise<void> {
    const { keys, args } = this.#sessionArgs(record, 'save')
    await this.#run(SAVE_SESSION, keys, args)
  }

  async touchSession (record: SessionRecord, staleBefore: Date): Promise<void> {
    const { keys, args } = this.#sessionArgs(record, 'touch', staleBefore.getTime())
    await this.#run(SAVE_SESSION, keys, args)
  }

  async listSessions (userId: number, now: Date): Promise<SessionRecord[]> {
    const flat = await this.#run(LIST_SESSIONS, [this.#key('ses-user', userId)], [this.#prefix, now.getTime(), String(userId)]) as string[]
    const sessions: SessionRecord[] = []
    for (let i = 0; i + 6 < flat.length; i += 7) {
      const [id, kind, c, l, e, ip, ua] = flat.slice(i, i + 7)
      sessions.push({
        id, userId, kind: kind as SessionKind, createdAt: millis(c), lastUsedAt: millis(l), expiresAt: optionalMillis(e), ip: ip === '' ? null : ip, userAgent: ua === '' ? null : ua
      })
    }
    return sessions.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : 1))
  }

  /** Records expire by themselves; this removes those that expired before `now` ahead of their TTL. */
  async purgeExpired (now: Date): Promise<number> {
    let total = 0
    for (;;) {
      const [deleted, seen] = await this.#run(PURGE, [`${this.#prefix}rt-exp`], [this.#prefix, now.getTime(), PURGE_BATCH]) as number[]
      total += Number(deleted)
      if (Number(seen) < PURGE_BATCH) return total
    }
  }

  /** Closes the connection when the store created it (a passed-in client is left to its owner). Idempotent. */
  async close (): Promise<void> {
    this.#closed ??= this.#close()
    await this.#closed
  }

  async #close (): Promise<void> {
    if (!this.#ownsClient) return
    const client = this.#client
    // Between two connection attempts there is no socket: disconnecting only cancels the next attempt.
    if (client.status === 'end') return
    if (client.status === 'reconnecting') {
      client.disconnect()
      return
    }
    // Resolved once the socket is closed and reconnection has stopped (bounded, should 'end' never come).
    const ended = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000)
      timer.unref()
      client.once('end', () => {
        clearTimeout(timer)
        resolve()
      })
    })
    if (client.status === 'ready') {
      // QUIT lets commands already sent finish first; fall back to dropping the connection.
      await client.quit().catch(() => { client.disconnect() })
    } else {
      client.disconnect()
    }
    await ended
  }
}
