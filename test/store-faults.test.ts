/**
 * PostgreSQL and Redis failing under a running app: requests get 503 {detail} within a bounded time, the
 * process stays up, and it serves again once the service is back, without a restart.
 */
import type { LightMyRequestResponse } from 'fastify'
import { Redis } from 'ioredis'
import pg from 'pg'
import t, { type Test } from 'tap'
import { StoreUnavailableError } from '../lib/ports.js'
import { isUnavailableError, storeError } from '../lib/stores/sql-errors.js'
import { createPostgresStores } from '../lib/stores/postgres.js'
import { RedisTokenStore } from '../lib/stores/redis.js'
import { createSqliteStores } from '../lib/stores/sqlite.js'
import { PASSWORD } from './helpers/app.js'
import {
  body, buildInstance, FaultProxy, PG_URL, REDIS_URL, serviceTest, testKeyPrefix, testSchema, uniqueName, type Instance
} from './helpers/services.js'

/** The slowest a 503 may be: the defaults bound a connect at 1 s and a statement at 1.5 s (+0.5 s read timeout). */
const PG_BOUND_MS = 2500
/** Redis: connect and each command are bounded at 1 s. */
const REDIS_BOUND_MS = 1500

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

async function timed (request: () => Promise<LightMyRequestResponse>): Promise<{ res: LightMyRequestResponse, ms: number }> {
  const started = performance.now()
  const res = await request()
  return { res, ms: Math.round(performance.now() - started) }
}

const timings: string[] = []

/** Each request answers 503 {detail} as JSON, within `boundMs`. */
async function assertUnavailable (t: Test, what: string, requests: Record<string, () => Promise<LightMyRequestResponse>>, boundMs: number): Promise<void> {
  for (const [name, request] of Object.entries(requests)) {
    const { res, ms } = await timed(request)
    t.equal(res.statusCode, 503, `${what}: ${name} is 503 (${res.body})`)
    t.match(res.headers['content-type'], /^application\/json/, `${what}: ${name} answers JSON`)
    t.type(body(res).detail, 'string', `${what}: ${name} has a detail`)
    t.ok(ms <= boundMs, `${what}: ${name} answered in ${ms} ms (bound ${boundMs} ms)`)
    timings.push(`${what}: ${name} → ${res.statusCode} in ${ms} ms`)
  }
}

/** Polls `request` until it answers `status`; fails after `withinMs`. Returns how long it took. */
async function assertRecovers (t: Test, what: string, request: () => Promise<LightMyRequestResponse>, status: number, withinMs = 5000): Promise<void> {
  const started = performance.now()
  let last: LightMyRequestResponse | undefined
  while (performance.now() - started < withinMs) {
    last = await request()
    if (last.statusCode === status) break
    t.not(last.statusCode, 500, `${what}: never a 500 while recovering`)
    await sleep(50)
  }
  const ms = Math.round(performance.now() - started)
  t.equal(last?.statusCode, status, `${what}: serves again (${status}) after ${ms} ms, without a restart`)
  timings.push(`${what}: recovered in ${ms} ms`)
}

/** Runs `load` in waves for `durationMs` while `chaos` runs; returns every status seen. */
async function underLoad (load: () => Promise<LightMyRequestResponse>, durationMs: number, chaos: () => Promise<void>): Promise<number[]> {
  const seen: number[] = []
  let running = true
  const waves = (async () => {
    while (running) {
      const answers = await Promise.all(Array.from({ length: 10 }, load))
      seen.push(...answers.map((r) => r.statusCode))
      // Answers that fail at once are all microtasks: let timers (the chaos, the end) run.
      await sleep(1)
    }
  })()
  await chaos()
  await sleep(durationMs)
  running = false
  await waves
  return seen
}

function tcpSockets (): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length
}

/** The open TCP sockets once the previous tests' connections have finished closing. */
async function settledSockets (): Promise<number> {
  let count = tcpSockets()
  for (let i = 0; i < 20; i++) {
    await sleep(25)
    const now = tcpSockets()
    if (now === count) return now
    count = now
  }
  return count
}

t.test('driver errors are classified once: unavailable or not', async (t) => {
  const coded = (code: string, message = code): Error => Object.assign(new Error(message), { code })
  for (const error of [
    coded('ECONNREFUSED'), coded('ECONNRESET'), coded('ETIMEDOUT'), coded('57P01', 'terminating connection due to administrator command'),
    coded('57014', 'canceling statement due to statement timeout'), coded('53300', 'too many connections'),
    coded('08006'), coded('SQLITE_BUSY'), coded('SQLITE_IOERR_WRITE'),
    new Error('Connection terminated unexpectedly'), new Error('timeout exceeded when trying to connect'), new Error('Query read timeout'),
    new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')], ''),
    new Error('migration failed', { cause: coded('ECONNREFUSED') })
  ]) {
    t.ok(isUnavailableError(error), `${error.message || 'AggregateError'} → unavailable`)
    t.ok(storeError(error) instanceof StoreUnavailableError, 'mapped to StoreUnavailableError')
  }
  for (const error of [coded('23505', 'duplicate key'), coded('42P01', 'relation does not exist'), coded('SQLITE_CONSTRAINT_UNIQUE'), new TypeError('x'), 'text']) {
    t.notOk(isUnavailableError(error), `${String((error as Error).message ?? error)} → a bug or a constraint, left as is`)
    t.equal(storeError(error), error)
  }
})

t.test('sqlite: a database locked past the busy timeout answers 503', async (t) => {
  const { mkdtempSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const Database = (await import('better-sqlite3')).default
  const dir = mkdtempSync(join(tmpdir(), 'fastify-accounts-faults-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const file = join(dir, 'accounts.db')
  const stores = await createSqliteStores(file)
  t.teardown(stores.close)
  const app = await buildInstance(t, stores)
  const other = new Database(file)
  other.pragma('busy_timeout = 0')
  other.exec('begin exclusive')
  // 5 s of busy_timeout would make this test slow: shorten it on our connection.
  const { sql } = await import('kysely')
  await sql`pragma busy_timeout = 100`.execute(stores.db)
  await assertUnavailable(t, 'sqlite locked', {
    register: async () => await app.post('/users/', { username: 'locked', email: 'locked@example.com', password: PASSWORD })
  }, 2000)
  // The refresh path runs prepared statements outside Kysely: its failures are classified the same way.
  const record = { jti: 'locked-jti', userId: 1, family: 'locked-jti', expiresAt: new Date(Date.now() + 60_000) }
  await t.rejects(stores.tokens.saveRefreshToken(record), StoreUnavailableError, 'saving a refresh token: unavailable')
  await t.rejects(stores.tokens.claimRefreshToken('locked-jti', record, { jti: 'heir', expiresAt: record.expiresAt }), StoreUnavailableError,
    'a rotation: unavailable')
  other.exec('rollback')
  other.close()
  t.equal(await stores.tokens.findRefreshToken('heir'), null, 'the failed rotation recorded nothing')
  t.equal((await stores.tokens.claimRefreshToken('locked-jti', record, { jti: 'heir', expiresAt: record.expiresAt })).status, 'claimed',
    'and the token can still rotate')
  t.equal((await app.post('/users/', { username: 'locked', email: 'locked@example.com', password: PASSWORD })).statusCode, 201, 'serves again')
})

await serviceTest(t, 'postgres', ['postgres'], async (t) => {
  t.test('through a proxy that fails in every way', async (t) => {
    const proxy = await FaultProxy.start(PG_URL)
    t.teardown(async () => { await proxy.close() })
    const schema = testSchema(t)
    const stores = await createPostgresStores(proxy.urlFor(PG_URL), { schema })
    t.teardown(stores.close)
    const app = await buildInstance(t, stores)
    t.equal((await app.post('/users/', { username: 'alice', email: 'alice@example.com', password: PASSWORD })).statusCode, 201)
    const { access } = body(await app.post('/jwt/create/', { username: 'alice', password: PASSWORD })) as { access: string }
    const requests = {
      'POST /jwt/create/': async () => await app.post('/jwt/create/', { username: 'alice', password: PASSWORD }),
      'GET /users/me/': async () => await app.get('/users/me/', { authorization: `Bearer ${access}` })
    }
    const me = requests['GET /users/me/']

    t.test('nothing listens', async (t) => {
      await proxy.stopListening()
      await assertUnavailable(t, 'pg: nothing listens', requests, PG_BOUND_MS)
      await proxy.listenAgain()
      await assertRecovers(t, 'pg: nothing listens', me, 200)
    })

    t.test('the connection is dropped on connect', async (t) => {
      proxy.mode = 'drop'
      proxy.cut()
      await assertUnavailable(t, 'pg: connection dropped', requests, PG_BOUND_MS)
      proxy.restore()
      await assertRecovers(t, 'pg: connection dropped', me, 200)
    })

    t.test('the server accepts connections and never answers', async (t) => {
      proxy.mode = 'blackhole'
      proxy.cut()
      await assertUnavailable(t, 'pg: new connections hang', requests, PG_BOUND_MS)
      proxy.restore()
      await assertRecovers(t, 'pg: new connections hang', me, 200)
    })

    t.test('open connections stop answering mid-run', async (t) => {
      t.equal((await me()).statusCode, 200, 'a pooled connection is open')
      proxy.mode = 'blackhole'
      await assertUnavailable(t, 'pg: open connection hangs', requests, PG_BOUND_MS)
      proxy.restore()
      await assertRecovers(t, 'pg: open connection hangs', me, 200)
    })

    t.test('many requests at once while down: all 503, none waits past the bound', async (t) => {
      await proxy.stopListening()
      const started = performance.now()
      const answers = await Promise.all(Array.from({ length: 30 }, async (_, i) => await (i % 2 === 0 ? me() : requests['POST /jwt/create/']())))
      const ms = Math.round(performance.now() - started)
      t.same([...new Set(answers.map((r) => r.statusCode))], [503], 'every one 503')
      t.ok(ms <= PG_BOUND_MS, `30 requests answered in ${ms} ms`)
      timings.push(`pg: 30 concurrent requests while nothing listens → 503 in ${ms} ms in all`)
      await proxy.listenAgain()
      await assertRecovers(t, 'pg: after 30 concurrent', me, 200)
    })
  })

  t.test('pg_terminate_backend on the pool\'s connections mid-run', async (t) => {
    const applicationName = uniqueName('fa_kill')
    const schema = testSchema(t)
    const stores = await createPostgresStores(PG_URL, { schema, applicationName, poolSize: 5 })
    t.teardown(stores.close)
    const app = await buildInstance(t, stores)
    t.equal((await app.post('/users/', { username: 'bob', email: 'bob@example.com', password: PASSWORD })).statusCode, 201)
    const { access } = body(await app.post('/jwt/create/', { username: 'bob', password: PASSWORD })) as { access: string }
    const me = async (): Promise<LightMyRequestResponse> => await app.get('/users/me/', { authorization: `Bearer ${access}` })

    const admin = new pg.Client({ connectionString: PG_URL, application_name: 'fa_killer' })
    await admin.connect()
    t.teardown(async () => { await admin.end() })
    let killed = 0
    const kill = async (): Promise<void> => {
      const { rows } = await admin.query<{ ok: boolean }>(
        'select pg_terminate_backend(pid) as ok from pg_stat_activity where application_name = $1', [applicationName])
      killed += rows.filter((r) => r.ok).length
    }
    const seen = await underLoad(me, 300, async () => {
      for (let i = 0; i < 4; i++) {
        await sleep(100)
        await kill()
      }
    })
    t.ok(killed > 0, `${killed} backends terminated`)
    const counts = Object.fromEntries([...new Set(seen)].map((s) => [s, seen.filter((x) => x === s).length]))
    t.ok(seen.every((s) => s === 200 || s === 503), `only 200 or 503 while connections die (${JSON.stringify(counts)})`)
    timings.push(`pg_terminate_backend ×4 under load: ${killed} backends killed, answers ${JSON.stringify(counts)}`)

    await sleep(100)
    const after = await Promise.all(Array.from({ length: 20 }, me))
    t.same([...new Set(after.map((r) => r.statusCode))], [200], 'then every request succeeds, on fresh connections')
    await kill()
    await sleep(100)
    t.equal((await me()).statusCode, 200, 'idle connections killed between requests are replaced unnoticed')
  })

  t.test('close() ends the pool: no sockets left open', async (t) => {
    const before = await settledSockets()
    const schema = testSchema(t)
    const stores = await createPostgresStores(PG_URL, { schema })
    const app = await buildInstance(t, stores)
    await Promise.all(Array.from({ length: 8 }, async () => await app.post('/jwt/create/', { username: 'x', password: 'y' })))
    t.ok(tcpSockets() > before, 'the pool holds connections')
    await stores.close()
    t.equal(await settledSockets(), before, 'all closed')
  })
})

await serviceTest(t, 'redis', ['redis'], async (t) => {
  /** Users in SQLite (always up), tokens in Redis at `url`. */
  async function setup (t: Test, url: string, connectionName?: string): Promise<{ app: Instance, refresh: string, key: string, tokens: RedisTokenStore }> {
    const sqlite = await createSqliteStores(':memory:')
    t.teardown(sqlite.close)
    const tokens = new RedisTokenStore(url, { keyPrefix: testKeyPrefix(t), connectionName })
    await tokens.connect()
    t.teardown(async () => { await tokens.close() })
    const app = await buildInstance(t, { users: sqlite.users, tokens })
    t.equal((await app.post('/users/', { username: 'carol', email: 'carol@example.com', password: PASSWORD })).statusCode, 201)
    const { refresh } = body(await app.post('/jwt/create/', { username: 'carol', password: PASSWORD })) as { refresh: string }
    const key = body(await app.post('/token/login/', { username: 'carol', password: PASSWORD })).auth_token as string
    return { app, refresh, key, tokens }
  }

  t.test('through a proxy that fails in every way', async (t) => {
    const proxy = await FaultProxy.start(REDIS_URL)
    t.teardown(async () => { await proxy.close() })
    const { app, refresh, key } = await setup(t, proxy.urlFor(REDIS_URL))
    const requests = {
      'POST /jwt/create/': async () => await app.post('/jwt/create/', { username: 'carol', password: PASSWORD }),
      'POST /jwt/refresh/': async () => await app.post('/jwt/refresh/', { refresh }),
      'GET /users/me/ (Token)': async () => await app.get('/users/me/', { authorization: `Token ${key}` })
    }
    const tokenMe = requests['GET /users/me/ (Token)']

    t.test('nothing listens', async (t) => {
      await proxy.stopListening()
      await assertUnavailable(t, 'redis: nothing listens', requests, REDIS_BOUND_MS)
      await proxy.listenAgain()
      await assertRecovers(t, 'redis: nothing listens', tokenMe, 200)
    })

    t.test('the connection is dropped on connect', async (t) => {
      proxy.mode = 'drop'
      proxy.cut()
      await assertUnavailable(t, 'redis: connection dropped', requests, REDIS_BOUND_MS)
      proxy.restore()
      await assertRecovers(t, 'redis: connection dropped', tokenMe, 200)
    })

    t.test('the server accepts connections and never answers', async (t) => {
      proxy.mode = 'blackhole'
      proxy.cut()
      await assertUnavailable(t, 'redis: new connections hang', requests, REDIS_BOUND_MS)
      proxy.restore()
      await assertRecovers(t, 'redis: new connections hang', tokenMe, 200)
    })

    t.test('the open connection stops answering mid-run', async (t) => {
      t.equal((await tokenMe()).statusCode, 200, 'connected')
      proxy.mode = 'blackhole'
      await assertUnavailable(t, 'redis: open connection hangs', requests, REDIS_BOUND_MS)
      proxy.restore()
      await assertRecovers(t, 'redis: open connection hangs', tokenMe, 200)
    })

    t.test('nothing queued while down runs later', async (t) => {
      await proxy.stopListening()
      const logout = await app.post('/token/logout/', {}, { authorization: `Token ${key}` })
      t.equal(logout.statusCode, 503, 'a logout while down is 503')
      await proxy.listenAgain()
      await assertRecovers(t, 'redis: after a refused logout', tokenMe, 200)
      await sleep(200)
      t.equal((await tokenMe()).statusCode, 200, 'the refused logout did not run when Redis came back')
    })
  })

  t.test('CLIENT KILL on the store\'s connection mid-run', async (t) => {
    const connectionName = uniqueName('fa-kill').replace(/[^a-z0-9_-]/g, '')
    const { app, key } = await setup(t, REDIS_URL, connectionName)
    const tokenMe = async (): Promise<LightMyRequestResponse> => await app.get('/users/me/', { authorization: `Token ${key}` })
    const admin = new Redis(REDIS_URL)
    t.teardown(async () => { await admin.quit() })
    let killed = 0
    const kill = async (): Promise<void> => {
      const list = await admin.client('LIST') as string
      for (const line of list.split('\n')) {
        if (line.includes(` name=${connectionName} `)) {
          const id = /(?:^|\s)id=(\d+)/.exec(line)?.[1]
          if (id !== undefined) killed += Number(await admin.client('KILL', 'ID', id))
        }
      }
    }
    const seen = await underLoad(tokenMe, 300, async () => {
      for (let i = 0; i < 4; i++) {
        await sleep(100)
        await kill()
      }
    })
    t.ok(killed > 0, `${killed} connections killed`)
    const counts = Object.fromEntries([...new Set(seen)].map((s) => [s, seen.filter((x) => x === s).length]))
    t.ok(seen.every((s) => s === 200 || s === 503), `only 200 or 503 while the connection dies (${JSON.stringify(counts)})`)
    timings.push(`redis CLIENT KILL ×4 under load: ${killed} connections killed, answers ${JSON.stringify(counts)}`)
    await assertRecovers(t, 'redis: after CLIENT KILL', tokenMe, 200)
    const after = await Promise.all(Array.from({ length: 20 }, tokenMe))
    t.same([...new Set(after.map((r) => r.statusCode))], [200], 'then every request succeeds')
  })

  t.test('close() ends the Redis connection: no sockets left open', async (t) => {
    const before = await settledSockets()
    const tokens = new RedisTokenStore(REDIS_URL, { keyPrefix: testKeyPrefix(t) })
    await tokens.connect()
    await tokens.findAuthToken('x')
    t.ok(tcpSockets() > before, 'connected')
    await tokens.close()
    t.equal(tokens.client.status, 'end', 'the client is ended, it will not reconnect')
    t.equal(await settledSockets(), before, 'closed')
    const err = await tokens.findAuthToken('x').catch((e: unknown) => e)
    t.ok(err instanceof StoreUnavailableError, 'a closed store answers StoreUnavailableError, not a crash')
  })
})

t.teardown(() => {
  // The measured timings, for the record (tap shows comments of the root test).
  for (const line of timings) t.comment(line)
})
