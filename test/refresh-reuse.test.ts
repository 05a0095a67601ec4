/**
 * jwt.refreshReuseInterval: a rotated-out refresh token presented again within that many seconds of its
 * rotation is refused (401 token_not_valid) but is not taken for reuse, so the family lives on (two tabs
 * refreshing at once must not log the user out); past the interval, reuse revokes the family as before.
 */
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import type { TokenStore } from '../lib/ports.js'
import { createPostgresStores } from '../lib/stores/postgres.js'
import { RedisTokenStore } from '../lib/stores/redis.js'
import { json, PASSWORD } from './helpers/app.js'
import { decodeJwt, me, post, setup } from './helpers/jwt.js'
import { body, buildInstance, PG_URL, REDIS_URL, serviceTest, testKeyPrefix, testSchema, type Instance } from './helpers/services.js'

type Pair = { access: string, refresh: string }
const N = 50

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

function assertTokenNotValid (t: Test, res: LightMyRequestResponse, what: string): void {
  t.equal(res.statusCode, 401, `${what}: 401 (${res.body})`)
  t.equal((JSON.parse(res.body) as Record<string, unknown>).code, 'token_not_valid', `${what}: code token_not_valid`)
}

/** Exactly one 200 with a new pair, every other answer 401 token_not_valid; returns the winner's pair. */
function oneWinner (t: Test, answers: LightMyRequestResponse[]): Pair {
  const winners = answers.filter((r) => r.statusCode === 200)
  t.equal(winners.length, 1, `exactly one of ${answers.length} got a new pair`)
  const losers = answers.filter((r) => r.statusCode !== 200)
  t.ok(losers.every((r) => r.statusCode === 401 && (JSON.parse(r.body) as Record<string, unknown>).code === 'token_not_valid'),
    `the ${losers.length} others: 401 token_not_valid (${[...new Set(losers.map((r) => `${r.statusCode} ${r.body}`))].join(', ')})`)
  return JSON.parse(winners[0]?.body ?? '{}') as Pair
}

t.test('refreshReuseInterval defaults to 10 seconds', async t => {
  const { app } = await setup()
  t.equal(app.app.accounts.options.jwt.refreshReuseInterval, 10)
})

t.test('within the interval (default): a rotated-out token is refused, the family lives on', async t => {
  const { app, refresh: first } = await setup({ jwt: { rotateRefreshTokens: true } })
  const rotated = await post(app, '/jwt/refresh/', { refresh: first })
  t.equal(rotated.statusCode, 200)
  const second = json(rotated) as Pair
  assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh: first }), 'the rotated-out token, presented again at once')
  assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh: first }), 'and again')
  const record = await app.tokens.findRefreshToken(decodeJwt(second.refresh).payload.jti as string)
  t.equal(record?.revokedAt, null, 'the new token is not revoked')
  t.equal((await post(app, '/jwt/verify/', { token: second.refresh })).statusCode, 200, 'the new refresh token verifies')
  const third = await post(app, '/jwt/refresh/', { refresh: second.refresh })
  t.equal(third.statusCode, 200, 'and rotates')
  t.equal((await me(app, `Bearer ${(json(third) as Pair).access}`)).statusCode, 200, 'into a working access token')
})

t.test('within the interval with blacklistAfterRotation: refused, the family lives on', async t => {
  const { app, refresh: first } = await setup({ jwt: { rotateRefreshTokens: true, blacklistAfterRotation: true } })
  const second = json(await post(app, '/jwt/refresh/', { refresh: first })) as Pair
  assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh: first }), 'the rotated-out (and blacklisted) token')
  assertTokenNotValid(t, await post(app, '/jwt/verify/', { token: first }), '/jwt/verify/ of it (blacklisted)')
  t.equal((await post(app, '/jwt/refresh/', { refresh: second.refresh })).statusCode, 200, 'the new token still rotates')
})

t.test('after the interval: reuse revokes the whole family', async t => {
  const { app, refresh: first } = await setup({ jwt: { rotateRefreshTokens: true, refreshReuseInterval: 1 } })
  const second = json(await post(app, '/jwt/refresh/', { refresh: first })) as Pair
  assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh: first }), 'within the second: refused')
  t.equal((await post(app, '/jwt/verify/', { token: second.refresh })).statusCode, 200, 'within the second: the family lives')
  await sleep(1100)
  assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh: first }), 'past the interval: refused')
  assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh: second.refresh }), 'and the new token of the family is revoked')
  assertTokenNotValid(t, await post(app, '/jwt/verify/', { token: second.refresh }), '/jwt/verify/ of it')
})

t.test('the interval counts from the rotation, not from the login', async t => {
  const { app, refresh: first } = await setup({ jwt: { rotateRefreshTokens: true, refreshReuseInterval: 1 } })
  await sleep(1100) // the token is old, its rotation is not
  const second = json(await post(app, '/jwt/refresh/', { refresh: first })) as Pair
  assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh: first }), 'reused right after its rotation')
  t.equal((await post(app, '/jwt/refresh/', { refresh: second.refresh })).statusCode, 200, 'the family lives')
})

t.test('refreshReuseInterval: 0: any reuse revokes the family, however soon', async t => {
  const { app, refresh: first } = await setup({ jwt: { rotateRefreshTokens: true, refreshReuseInterval: 0 } })
  const second = json(await post(app, '/jwt/refresh/', { refresh: first })) as Pair
  assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh: first }), 'immediate reuse')
  assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh: second.refresh }), 'the new token of the family')
})

t.test('without reuse detection the interval changes nothing: the old token is refused only with blacklistAfterRotation', async t => {
  const { app, refresh: first } = await setup({ jwt: { rotateRefreshTokens: true, refreshReuseDetection: false, refreshReuseInterval: 0 } })
  t.equal((await post(app, '/jwt/refresh/', { refresh: first })).statusCode, 200)
  t.equal((await post(app, '/jwt/refresh/', { refresh: first })).statusCode, 200, 'simplejwt lets an un-blacklisted old token be used again')
})

t.test(`${N} concurrent presentations of one refresh token (memory store)`, async t => {
  t.test('default interval: one new pair, the others 401, and the winner\'s tokens go on working', async t => {
    const { app, refresh } = await setup({ jwt: { rotateRefreshTokens: true } })
    const answers = await Promise.all(Array.from({ length: N }, async () => await post(app, '/jwt/refresh/', { refresh })))
    const winner = oneWinner(t, answers)
    t.equal((await me(app, `Bearer ${winner.access}`)).statusCode, 200, 'the winner\'s access token')
    const next = await post(app, '/jwt/refresh/', { refresh: winner.refresh })
    t.equal(next.statusCode, 200, `the winner's refresh token rotates (${next.body})`)
    t.equal((await post(app, '/jwt/refresh/', { refresh: (json(next) as Pair).refresh })).statusCode, 200, 'and so on')
  })

  t.test('with blacklistAfterRotation too', async t => {
    const { app, refresh } = await setup({ jwt: { rotateRefreshTokens: true, blacklistAfterRotation: true } })
    const answers = await Promise.all(Array.from({ length: N }, async () => await post(app, '/jwt/refresh/', { refresh })))
    const winner = oneWinner(t, answers)
    t.equal((await post(app, '/jwt/refresh/', { refresh: winner.refresh })).statusCode, 200, 'the winner\'s refresh token rotates')
  })

  t.test('the same stampede past the interval is reuse: the family dies', async t => {
    const { app, refresh } = await setup({ jwt: { rotateRefreshTokens: true, refreshReuseInterval: 1 } })
    const winner = oneWinner(t, await Promise.all(Array.from({ length: N }, async () => await post(app, '/jwt/refresh/', { refresh }))))
    t.equal((await post(app, '/jwt/verify/', { token: winner.refresh })).statusCode, 200, 'within the interval the winner\'s token lives')
    await sleep(1100)
    const late = await Promise.all(Array.from({ length: 5 }, async () => await post(app, '/jwt/refresh/', { refresh })))
    t.ok(late.every((r) => r.statusCode === 401), 'the old token presented again later: 401')
    assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh: winner.refresh }), 'the winner\'s token, revoked with its family')
  })

  t.test('refreshReuseInterval: 0: the losers revoke the family, the winner\'s token too (the old behaviour)', async t => {
    const { app, refresh } = await setup({ jwt: { rotateRefreshTokens: true, refreshReuseInterval: 0 } })
    const winner = oneWinner(t, await Promise.all(Array.from({ length: N }, async () => await post(app, '/jwt/refresh/', { refresh }))))
    assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh: winner.refresh }), 'the winner\'s refresh token')
  })
})

// Two instances on one shared store, as behind a load balancer: the rotation time comes from the store.
for (const backend of ['postgres', 'redis'] as const) {
  await serviceTest(t, `${backend}: ${N} concurrent presentations across two instances`, backend === 'redis' ? ['postgres', 'redis'] : ['postgres'], async (t) => {
    const schema = testSchema(t)
    const pgA = await createPostgresStores(PG_URL, { schema })
    const pgB = await createPostgresStores(PG_URL, { schema })
    t.teardown(async () => { await Promise.all([pgA.close(), pgB.close()]) })
    let tokensA: TokenStore = pgA.tokens
    let tokensB: TokenStore = pgB.tokens
    if (backend === 'redis') {
      const keyPrefix = testKeyPrefix(t)
      const redisA = new RedisTokenStore(REDIS_URL, { keyPrefix })
      const redisB = new RedisTokenStore(REDIS_URL, { keyPrefix })
      await Promise.all([redisA.connect(), redisB.connect()])
      t.teardown(async () => { await Promise.all([redisA.close(), redisB.close()]) })
      tokensA = redisA
      tokensB = redisB
    }
    const build = async (jwt: Record<string, unknown>): Promise<[Instance, Instance]> => [
      await buildInstance(t, { users: pgA.users, tokens: tokensA }, { jwt }),
      await buildInstance(t, { users: pgB.users, tokens: tokensB }, { jwt })
    ]
    let serial = 0
    const loginNew = async (app: Instance): Promise<Pair> => {
      const username = `reuse${++serial}`
      t.equal((await app.post('/users/', { username, email: `${username}@example.com`, password: PASSWORD })).statusCode, 201)
      return body(await app.post('/jwt/create/', { username, password: PASSWORD })) as Pair
    }
    const stampede = async (apps: [Instance, Instance], refresh: string): Promise<LightMyRequestResponse[]> =>
      await Promise.all(Array.from({ length: N }, async (_, i) => await apps[i % 2].post('/jwt/refresh/', { refresh })))

    t.test('default interval: the winner\'s new refresh token works afterwards, on both instances', async (t) => {
      const apps = await build({ rotateRefreshTokens: true })
      const { refresh } = await loginNew(apps[0])
      const winner = oneWinner(t, await stampede(apps, refresh))
      t.equal((await apps[1].get('/users/me/', { authorization: `Bearer ${winner.access}` })).statusCode, 200, 'the winner\'s access token')
      const next = await apps[1].post('/jwt/refresh/', { refresh: winner.refresh })
      t.equal(next.statusCode, 200, `the winner's refresh token rotates on the other instance (${next.body})`)
      t.equal((await apps[0].post('/jwt/refresh/', { refresh: body(next).refresh as string })).statusCode, 200, 'and on the first')
    })

    t.test('past the interval, reuse on either instance revokes the family on both', async (t) => {
      const apps = await build({ rotateRefreshTokens: true, refreshReuseInterval: 1 })
      const { refresh } = await loginNew(apps[0])
      const winner = oneWinner(t, await stampede(apps, refresh))
      await sleep(1100)
      assertTokenNotValid(t, await apps[1].post('/jwt/refresh/', { refresh }), 'the rotated-out token, later')
      assertTokenNotValid(t, await apps[0].post('/jwt/refresh/', { refresh: winner.refresh }), 'the winner\'s token')
    })
  })
}
