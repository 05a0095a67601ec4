import { Redis } from 'ioredis'
import t from 'tap'
import { StoreUnavailableError } from '../lib/ports.js'
import { createStores } from '../lib/stores/factory.js'
import { MemoryUserStore } from '../lib/stores/memory.js'
import { createRedisClient, RedisTokenStore } from '../lib/stores/redis.js'
import { storeContract } from '../lib/testing/index.js'
import { deleteKeys, keysWithTtl, REDIS_URL, serviceTest, testKeyPrefix, uniqueName } from './helpers/services.js'

const HOUR = 3_600_000
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

await serviceTest(t, 'redis', ['redis'], async (t) => {
  // Every contract case gets a key prefix of its own, whose keys are deleted when it closes.
  storeContract(t, 'redis', async () => {
    const keyPrefix = `${uniqueName('fa-contract')}:`
    const tokens = new RedisTokenStore(REDIS_URL, { keyPrefix })
    await tokens.connect()
    return {
      users: new MemoryUserStore(),
      tokens,
      close: async () => {
        await tokens.close()
        await deleteKeys(keyPrefix)
      }
    }
  })

  t.test('every refresh key expires with its token (plus the grace); opaque tokens do not', async (t) => {
    const keyPrefix = testKeyPrefix(t)
    const tokens = new RedisTokenStore(REDIS_URL, { keyPrefix, refreshGraceSeconds: 60 })
    t.teardown(async () => { await tokens.close() })
    await tokens.connect()
    const now = Date.now()
    await tokens.saveRefreshToken({ jti: 'a', userId: 1, family: 'a', expiresAt: new Date(now + HOUR) })
    await tokens.claimRefreshToken('b', { jti: 'b', userId: 1, family: 'a', expiresAt: new Date(now + 2 * HOUR) })
    await tokens.revokeRefreshToken('c', { jti: 'c', userId: 2, family: 'c', expiresAt: new Date(now + HOUR) })
    await tokens.saveAuthToken({ hash: 'f'.repeat(64), userId: 1, createdAt: new Date() })

    const ttls = await keysWithTtl(keyPrefix)
    const ttl = (key: string): number => ttls.get(keyPrefix + key) ?? -2
    const about = (actual: number, expected: number, what: string): void => {
      t.ok(Math.abs(actual - expected) < 5000, `${what}: TTL ${actual} ms, expected about ${expected} ms`)
    }
    about(ttl('rt:a'), HOUR + 60_000, 'record a')
    about(ttl('rt:b'), 2 * HOUR + 60_000, 'record b (recorded by a claim)')
    about(ttl('rt:c'), HOUR + 60_000, 'record c (recorded by a revoke)')
    about(ttl('rt-family:a'), 2 * HOUR + 60_000, 'a family index lives as long as its newest token')
    about(ttl('rt-user:1'), 2 * HOUR + 60_000, 'a user index lives as long as its newest token')
    about(ttl('rt-exp'), 2 * HOUR + 60_000, 'the expiry index too')
    t.equal(ttl(`at:${'f'.repeat(64)}`), -1, 'opaque tokens never expire by default (as DRF\'s)')
    t.equal(ttl('at-user:1'), -1)
    for (const [key, value] of ttls) {
      if (!key.startsWith(`${keyPrefix}at`)) t.ok(value > 0, `${key} has a TTL`)
    }
  })

  t.test('indexes drop tokens that have expired, so they stay bounded', async (t) => {
    const keyPrefix = testKeyPrefix(t)
    const tokens = new RedisTokenStore(REDIS_URL, { keyPrefix, refreshGraceSeconds: 0 })
    t.teardown(async () => { await tokens.close() })
    await tokens.connect()
    for (let i = 0; i < 20; i++) {
      await tokens.saveRefreshToken({ jti: `old-${i}`, userId: 1, family: 'fam', expiresAt: new Date(Date.now() + 30) })
    }
    await sleep(60)
    await tokens.saveRefreshToken({ jti: 'new', userId: 1, family: 'fam', expiresAt: new Date(Date.now() + HOUR) })
    const keys = [...(await keysWithTtl(keyPrefix)).keys()].map((k) => k.slice(keyPrefix.length)).sort()
    t.same(keys, ['rt-exp', 'rt-family:fam', 'rt-user:1', 'rt:new'], 'expired records are gone')
    const client = new Redis(REDIS_URL)
    t.teardown(async () => { await client.quit() })
    for (const index of ['rt-exp', 'rt-family:fam', 'rt-user:1']) {
      t.same(await client.zrange(keyPrefix + index, 0, '-1'), ['new'], `${index} holds only the live token`)
    }
    t.equal(await tokens.revokeUserRefreshTokens(1), 1)
    t.equal(await tokens.revokeRefreshFamily('fam'), 0)
  })

  t.test('authTokenTtlSeconds: opaque tokens expire that long after creation', async (t) => {
    const keyPrefix = testKeyPrefix(t)
    const tokens = new RedisTokenStore(REDIS_URL, { keyPrefix, authTokenTtlSeconds: 10 })
    t.teardown(async () => { await tokens.close() })
    await tokens.connect()
    const hash = 'a'.repeat(64)
    await tokens.saveAuthToken({ hash, userId: 1, createdAt: new Date(Date.now() - 9_900) })
    await tokens.saveAuthToken({ hash: 'b'.repeat(64), userId: 1, createdAt: new Date() })
    t.equal((await tokens.findAuthToken(hash))?.userId, 1)
    await sleep(200)
    t.equal(await tokens.findAuthToken(hash), null, 'expired')
    t.equal(await tokens.deleteUserAuthTokens(1), 1, 'only the live one is counted')
    const ttls = await keysWithTtl(keyPrefix)
    t.same([...ttls.keys()], [], 'nothing left')
  })

  t.test('a client passed in is left open; one with ioredis\' keyPrefix is refused', async (t) => {
    const keyPrefix = testKeyPrefix(t)
    const client = createRedisClient(REDIS_URL)
    t.teardown(() => { client.disconnect() })
    const tokens = new RedisTokenStore(client, { keyPrefix })
    await tokens.connect()
    await tokens.saveAuthToken({ hash: 'c'.repeat(64), userId: 3, createdAt: new Date() })
    await tokens.close()
    t.equal(client.status, 'ready', 'still connected')
    t.equal((await new RedisTokenStore(client, { keyPrefix }).findAuthToken('c'.repeat(64)))?.userId, 3)

    const prefixed = new Redis(REDIS_URL, { keyPrefix: 'x:', lazyConnect: true })
    t.throws(() => new RedisTokenStore(prefixed, { keyPrefix }), TypeError)
  })

  t.test('createStores: redisUrl puts the tokens in Redis', async (t) => {
    const keyPrefix = testKeyPrefix(t)
    const stores = await createStores({ databaseUrl: 'sqlite::memory:', redisUrl: REDIS_URL, redis: { keyPrefix } })
    t.same(stores.kind, { users: 'sqlite', tokens: 'redis' })
    t.ok(stores.tokens instanceof RedisTokenStore)
    await stores.tokens.saveAuthToken({ hash: 'd'.repeat(64), userId: 1, createdAt: new Date() })
    t.ok((await keysWithTtl(keyPrefix)).has(`${keyPrefix}at:${'d'.repeat(64)}`))
    await stores.close()
    await stores.close()
    t.pass('close is idempotent')
    await t.rejects(createStores({ databaseUrl: 'sqlite::memory:', redisUrl: 'http://localhost' }), /unsupported Redis URL/)
  })

  t.test('an unreachable Redis at open: StoreUnavailableError, quickly', async (t) => {
    const started = Date.now()
    const err = await createStores({ databaseUrl: 'sqlite::memory:', redisUrl: 'redis://127.0.0.1:1' }).catch((e: unknown) => e)
    t.ok(err instanceof StoreUnavailableError, `StoreUnavailableError (${String(err)})`)
    t.ok(Date.now() - started < 2000, `within 2 s (${Date.now() - started} ms)`)
  })
})
