// The server under test, run by bench/run.js in its own process (child_process.fork, so it can be
// asked for its RSS, event-loop delay and store sizes over IPC without touching the measured routes).
//
// One Fastify instance holds:
//   POST /bare                 the reference: a bare route returning a small JSON
//   /auth/...                  the plugin (djoser routes), no rotation
//   GET /app/private           an app route behind app.authenticate whose handler does no database work
//   GET /stateless/private     the same behind the app.authenticate of a plugin registered with
//                              `authenticate: 'stateless'` (request.user from the token's claims, no store)
//   POST /app/sign             a bare route that signs one access token: the floor of a refresh
//   GET /floor/verify          an app route behind a hook of its own that only verifies the Bearer token with
//                              fast-jwt, configured as the plugin's verifier (no plugin code): the floor of an
//                              authenticated request, since verification stays with fast-jwt
//   GET /floor/lookup          (SQLite) the same, then the user's row read by id through a better-sqlite3
//                              prepared statement of its own: the floor of a request that loads its user
//   POST /floor/verify-body    (SQLite) the token in a JSON body (parsed and validated), verified as above, then the
//                              user's row: the floor of /jwt/verify/ (a POST, which reads the user for the session cut-off)
//   POST /floor/refresh        (SQLite) a refresh without rotation with no plugin code: fast-jwt's verification,
//                              the blacklist row and the user row read straight from SQLite, one HS256 signature
//   POST /floor-rot/jwt/refresh/  (SQLite) a rotation with no plugin code: the same verification and user row, the old
//                              token marked used and its successor recorded in one transaction, two HS256 signatures
//   /rot/auth/...              the plugin again (sibling scope, same stores), with refresh rotation
//                              (rotateRefreshTokens; reuse detection on, as by default)
//   /blocking/auth/...         the plugin with a hasher that blocks the event loop for as long as one
//                              argon2id verify takes (BENCH_BLOCK_MS): the control of the event-loop check
//
// Environment (set by run.js):
//   BENCH_STORE            memory | sqlite | postgres (users and tokens in PostgreSQL) | postgres-redis
//                          (users in PostgreSQL, tokens in Redis) | bare (only POST /bare: the reference in a
//                          process of its own, untouched by the plugin's heap and timers)
//   BENCH_USERS            users created besides the bench user (same password hash), whose ids go back to
//                          run.js: the many-token cases send one token per user
//   BENCH_DIR              scratch folder (the SQLite file)
//   BENCH_PG_URL           PostgreSQL URL; the tables go to schema BENCH_PG_SCHEMA, dropped first
//   BENCH_REDIS_URL        Redis URL; keys under BENCH_REDIS_PREFIX, deleted first and on exit
//   BENCH_REFRESH_LIFETIME refresh token lifetime, seconds (memory check: 2)
//   BENCH_GRACE            how long expired refresh records are kept (memory and Redis stores), seconds
//   BENCH_SWEEP            memory store sweep interval, seconds
//
// BENCH_CPU_PROF (run.js): the server profiles itself (node:inspector) from a `profile` start message to its
// stop, one case at a time, and writes the profile to the path the stop message names.
import { createHmac, randomUUID } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { join } from 'node:path'
import Fastify from 'fastify'
import pg from 'pg'
import Database from 'better-sqlite3'
import { createVerifier } from 'fast-jwt'
import { Redis } from 'ioredis'
import accounts, { Argon2Hasher, MemoryMailer, MemoryTokenStore, MemoryUserStore } from '../dist/lib/index.js'
import { createStores } from '../dist/lib/stores/factory.js'
import { PASSWORD, SECRET, USERNAME } from './common.js'


const env = process.env
const kind = env.BENCH_STORE ?? 'memory'
const refreshLifetime = Number(env.BENCH_REFRESH_LIFETIME ?? 86400)
/** simplejwt's jti: a uuid4 in hex. */
const newJti = () => randomUUID().replaceAll('-', '')
const grace = Number(env.BENCH_GRACE ?? 300)
const sweep = Number(env.BENCH_SWEEP ?? 60)
const redisPrefix = env.BENCH_REDIS_PREFIX ?? `fastify-accounts-bench:${process.pid}:`
const pgSchema = env.BENCH_PG_SCHEMA ?? 'fastify_accounts_bench'
/** The `sid` of the signing route's tokens: a session id as the plugin writes it (UUIDv7 in hex). */
const SESSION = '0193a8b27c3e7d4f8a1b2c3d4e5f6a7b'

async function deleteRedisKeys (client, prefix) {
  let cursor = '0'
  let n = 0
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) n += await client.del(...keys)
  } while (cursor !== '0')
  return n
}

async function countRedisKeys (client, pattern) {
  let cursor = '0'
  let n = 0
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = next
    n += keys.length
  } while (cursor !== '0')
  return n
}

async function openStores () {
  if (kind === 'memory') {
    const tokens = new MemoryTokenStore({ sweepIntervalSeconds: sweep, refreshGraceSeconds: grace })
    return { users: new MemoryUserStore(), tokens, close: async () => {} }
  }
  if (kind === 'sqlite') {
    return await createStores({ databaseUrl: `sqlite:${join(env.BENCH_DIR, 'bench.db')}` })
  }
  if (kind === 'postgres' || kind === 'postgres-redis') {
    const url = env.BENCH_PG_URL
    // A fresh schema of our own, so the bench neither sees nor disturbs the test suite's tables.
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    await client.query(`drop schema if exists ${pgSchema} cascade`)
    await client.end()
    const redisUrl = kind === 'postgres-redis' ? env.BENCH_REDIS_URL : undefined
    if (redisUrl !== undefined) {
      const redis = new Redis(redisUrl)
      await deleteRedisKeys(redis, redisPrefix)
      redis.disconnect()
    }
    return await createStores({
      databaseUrl: url,
      redisUrl,
      postgres: { schema: pgSchema },
      redis: { keyPrefix: redisPrefix, refreshGraceSeconds: grace }
    })
  }
  throw new Error(`BENCH_STORE: unknown store ${kind}`)
}

/** This process's CPU time so far, µs: all of it, and the kernel's part (socket writes on loopback land there). */
function cpu () {
  const { user, system } = process.cpuUsage()
  return { cpuMicros: user + system, systemMicros: system }
}

if (kind === 'bare') {
  // The reference alone: what a Fastify route costs in a process that holds nothing else.
  const bare = Fastify({ logger: false })
  bare.post('/bare', async () => ({ ok: true }))
  process.on('message', async (message) => {
    if (message.type === 'stats') {
      const mem = process.memoryUsage()
      process.send({ type: 'stats', id: message.id, stats: { rss: mem.rss, heapUsed: mem.heapUsed, ...cpu(), eld: null, records: null } })
    } else if (message.type === 'stop') {
      await bare.close()
      process.exit(0)
    }
  })
  process.send({ type: 'ready', address: await bare.listen({ port: 0, host: '127.0.0.1' }), kind, userIds: [] })
} else {
  await main()
}

async function main () {
  const stores = await openStores()
  // As an app passes a createStores() result: refreshStanding (SQLite, PostgreSQL without Redis) reads a refresh's two checks at once.
  const store = { users: stores.users, tokens: stores.tokens, refreshStanding: stores.refreshStanding }

  // The default hasher, as the plugin builds it without a passwordHasher option: argon2id at its defaults.
  const hasher = new Argon2Hasher()
  const encoded = await hasher.hash(PASSWORD)
  await stores.users.createUser({ username: USERNAME, email: 'bench@example.com', password: encoded, isActive: true })
  // The users of the many-token cases: one hash for all (hashing 5,000 passwords would take minutes).
  const userIds = []
  const users = Number(env.BENCH_USERS ?? 0)
  for (let start = 0; start < users; start += 100) {
    const batch = Array.from({ length: Math.min(100, users - start) }, (_, i) => start + i)
    const created = await Promise.all(batch.map((n) => stores.users.createUser({ username: `user${n}`, email: `user${n}@example.com`, password: encoded, isActive: true })))
    userIds.push(...created.map((u) => u.id))
  }

  const app = Fastify({ logger: false })
  app.post('/bare', async () => ({ ok: true }))

  const common = {
    store,
    mailer: new MemoryMailer(),
    sendActivationEmail: false,
    // One client hammering one account is what the login limits exist to stop: off, to measure the hashing.
    rateLimit: false
  }
  const jwt = { signingKey: SECRET, accessTokenLifetime: 3600, refreshTokenLifetime: refreshLifetime }

  // The sessions of the refresh-many cases: one login per user, as jwt/create/ opens one (the hashing aside).
  const sessionsOf = (scope) => async () => (await Promise.all(userIds.map((id) => scope.accounts.tokens.issuePair(id)))).map((pair) => pair.refresh)
  let plainSessions, rotatingSessions
  let floorRotatingSessions = async () => []
  await app.register(async function plain (scope) {
    await scope.register(accounts, { ...common, prefix: '/auth', jwt })
    plainSessions = sessionsOf(scope)
    scope.get('/app/private', { onRequest: scope.authenticate }, async (request) => ({ id: request.user.id }))
    // The same route without authentication: what the server under test costs before the plugin does anything.
    scope.get('/app/open', async () => ({ id: 1 }))
    // The floor of a refresh: a bare route (same body as a refresh) that signs one token shaped like the
    // plugin's access tokens, with the plugin's key, and answers it; no verification, no store.
    scope.post('/app/sign', async () => {
      const iat = Math.floor(Date.now() / 1000)
      return { access: scope.accounts.jwt.sign({ user_id: 1, sid: SESSION, token_type: 'access', exp: iat + 3600, iat, jti: newJti() }) }
    })
  })
  // The floors: what fast-jwt's verification (and, on SQLite, one user row) costs on a route with no plugin code.
  const verifyToken = createVerifier({ key: SECRET, algorithms: ['HS256'], requiredClaims: ['exp'] })
  const floorClaims = async (request) => { request.floorClaims = verifyToken(request.headers.authorization.slice('Bearer '.length)) }
  app.decorateRequest('floorClaims', null)
  app.get('/floor/verify', { onRequest: floorClaims }, async (request) => ({ id: request.floorClaims.user_id }))
  if (kind === 'sqlite') {
    // One read-only connection of the floors' own beside the store's.
    const floorDb = new Database(join(env.BENCH_DIR, 'bench.db'), { readonly: true })
    app.addHook('onClose', async () => { floorDb.close() })
    const userRow = floorDb.prepare('select * from accounts_user where id = ?').raw()
    const refreshRow = floorDb.prepare('select * from accounts_refresh_token where jti = ?').raw()
    app.get('/floor/lookup', { onRequest: floorClaims }, async (request) => {
      const row = userRow.get(request.floorClaims.user_id)
      return { id: row[0] }
    })
    // /jwt/verify/'s floor: the token comes in a JSON body (parsed and validated as the route's is), then the same
    // verification and the user's row (a verify reads it for the session cut-off); the answer is `{}`.
    const tokenBody = { type: 'object', required: ['token'], properties: { token: { type: 'string', minLength: 1 } } }
    app.post('/floor/verify-body', { schema: { body: tokenBody } }, async (request) => {
      const claims = verifyToken(request.body.token)
      const row = userRow.get(claims.user_id)
      return row === undefined ? { detail: 'no' } : {}
    })
    // A refresh without rotation as simplejwt 5.3+ makes it: the refresh token verified, its blacklist row and its
    // user's row read, one HS256 access token signed (header encoded once, one HMAC); nothing written.
    const header = `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')}.`
    const signed = (claims) => {
      const input = header + Buffer.from(JSON.stringify(claims)).toString('base64url')
      return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`
    }
    app.post('/floor/refresh', async (request, reply) => {
      const claims = verifyToken(request.body.refresh)
      const record = refreshRow.get(claims.jti)
      const user = userRow.get(claims.user_id)
      if (claims.token_type !== 'refresh' || record === undefined || user === undefined) return await reply.code(401).send({ detail: 'no' })
      const iat = Math.floor(Date.now() / 1000)
      return { access: signed({ user_id: claims.user_id, sid: claims.sid, token_type: 'access', exp: iat + 3600, iat, jti: newJti() }) }
    })
    // A rotation as simplejwt makes it with ROTATE_REFRESH_TOKENS and BLACKLIST_AFTER_ROTATION: the refresh token
    // verified, its user's row read, the old token marked and its successor recorded in one write transaction
    // (the same table and indexes as the plugin's), two HS256 tokens signed. Its sessions are its own (floorRotating).
    const floorWriter = new Database(join(env.BENCH_DIR, 'bench.db'))
    floorWriter.pragma('busy_timeout = 5000')
    app.addHook('onClose', async () => { floorWriter.close() })
    const markUsed = floorWriter.prepare('update accounts_refresh_token set used_at = ? where jti = ? and used_at is null and revoked_at is null returning user_id, family').raw()
    const insert = floorWriter.prepare('insert into accounts_refresh_token (jti, user_id, family, expires_at, used_at, revoked_at) values (?, ?, ?, ?, null, null)')
    const claim = floorWriter.transaction((jti, successor, expiresAt, now) => {
      const row = markUsed.get(now, jti)
      if (row !== undefined) insert.run(successor, row[0], row[1], expiresAt)
      return row !== undefined
    })
    app.post('/floor-rot/jwt/refresh/', async (request, reply) => {
      const claims = verifyToken(request.body.refresh)
      const user = userRow.get(claims.user_id)
      if (claims.token_type !== 'refresh' || user === undefined) return await reply.code(401).send({ detail: 'no' })
      const now = Date.now()
      const iat = Math.floor(now / 1000)
      const jti = newJti()
      if (!claim.immediate(claims.jti, jti, (iat + refreshLifetime) * 1000, now)) return await reply.code(401).send({ detail: 'no' })
      return {
        access: signed({ user_id: claims.user_id, sid: claims.sid, token_type: 'access', exp: iat + 3600, iat, jti: newJti() }),
        refresh: signed({ user_id: claims.user_id, sid: claims.sid, token_type: 'refresh', exp: iat + refreshLifetime, iat, jti })
      }
    })
    floorRotatingSessions = async () => {
      const iat = Math.floor(Date.now() / 1000)
      const sessions = userIds.map((id) => ({ user_id: id, sid: newJti(), token_type: 'refresh', exp: iat + refreshLifetime, iat, jti: newJti() }))
      floorWriter.transaction(() => { for (const c of sessions) insert.run(c.jti, c.user_id, c.sid, c.exp * 1000) })()
      return sessions.map(signed)
    }
  }

  await app.register(async function stateless (scope) {
    await scope.register(accounts, { ...common, prefix: '/stateless/auth', authenticate: 'stateless', jwt })
    scope.get('/stateless/private', { onRequest: scope.authenticate }, async (request) => ({ id: request.user.id }))
  })
  await app.register(async function rotating (scope) {
    await scope.register(accounts, { ...common, prefix: '/rot/auth', jwt: { ...jwt, rotateRefreshTokens: true } })
    rotatingSessions = sessionsOf(scope)
  })

  // The control of the event-loop check: a hasher that spends the time of one argon2id verify on the main
  // thread (a busy wait, then the answer of a real verify made once), i.e. what a synchronous hash would do.
  class BlockingHasher {
    #ms
    #answers = new Map()
    constructor (ms) { this.#ms = ms }
    async hash (password) { return await hasher.hash(password) }
    async verify (encoded, password) {
      const key = `${encoded}\n${password}`
      if (!this.#answers.has(key)) this.#answers.set(key, await hasher.verify(encoded, password))
      const end = performance.now() + this.#ms
      while (performance.now() < end) { /* blocks the event loop, as a synchronous hash would */ }
      return this.#answers.get(key)
    }
    needsRehash () { return false }
  }
  await app.register(async function blocking (scope) {
    await scope.register(accounts, { ...common, prefix: '/blocking/auth', jwt, passwordHasher: new BlockingHasher(Number(env.BENCH_BLOCK_MS ?? 30)) })
  })

  const eld = monitorEventLoopDelay({ resolution: 5 })
  eld.enable()

  const redisClient = stores.tokens.client

  async function recordCounts () {
    if (stores.tokens instanceof MemoryTokenStore) return stores.tokens.size
    if (redisClient !== undefined) {
      const [refresh, families, exp, user, info] = await Promise.all([
        countRedisKeys(redisClient, `${redisPrefix}rt:*`),
        countRedisKeys(redisClient, `${redisPrefix}rt-family:*`),
        redisClient.zcard(`${redisPrefix}rt-exp`),
        redisClient.zcard(`${redisPrefix}rt-user:1`),
        redisClient.info('memory')
      ])
      const usedMemory = Number(/used_memory:(\d+)/.exec(info)?.[1])
      return { refresh, families, expIndex: exp, userIndex: user, redisUsedMemory: usedMemory }
    }
    return null
  }

  const ms = (ns) => Math.round(ns / 1e4) / 100

  // The CPU profile of one case (BENCH_CPU_PROF): only its runs, not the start-up, the users' creation nor other cases.
  const profiler = new Session()
  process.on('message', async (message) => {
    try {
      if (message.type === 'profile') {
        if (message.action === 'start') {
          profiler.connect()
          await profiler.post('Profiler.enable')
          await profiler.post('Profiler.start')
        } else {
          const { profile } = await profiler.post('Profiler.stop')
          profiler.disconnect()
          writeFileSync(message.path, JSON.stringify(profile))
        }
        process.send({ type: 'stats', id: message.id, stats: null })
      } else if (message.type === 'stats') {
        if (message.gc === true && typeof globalThis.gc === 'function') {
          globalThis.gc()
          globalThis.gc()
        }
        const mem = process.memoryUsage()
        const stats = {
          rss: mem.rss,
          heapUsed: mem.heapUsed,
          ...cpu(),
          eld: { p50: ms(eld.percentile(50)), p99: ms(eld.percentile(99)), max: ms(eld.max), mean: ms(eld.mean) },
          records: await recordCounts()
        }
        if (message.resetEld === true) eld.reset()
        process.send({ type: 'stats', id: message.id, stats })
      } else if (message.type === 'stop') {
        await app.close()
        if (redisClient !== undefined) await deleteRedisKeys(redisClient, redisPrefix)
        await stores.close()
        // Normal exit, so --cpu-prof writes its profile.
        process.exit(0)
      }
    } catch (error) {
      process.send({ type: 'error', id: message.id, error: String(error?.stack ?? error) })
    }
  })

  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  process.send({
    type: 'ready', address, kind, userIds, refreshTokens: await plainSessions(), rotatingRefreshTokens: await rotatingSessions(), floorRotatingRefreshTokens: await floorRotatingSessions()
  })
}
