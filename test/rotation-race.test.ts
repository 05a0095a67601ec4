/**
 * Refresh rotation, reuse detection and revocation on password change across two app instances sharing
 * PostgreSQL, and (separately) sharing Redis for tokens.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import type { TokenStore, UserStore } from '../lib/ports.js'
import { createPostgresStores } from '../lib/stores/postgres.js'
import { RedisTokenStore } from '../lib/stores/redis.js'
import { createSqliteStores } from '../lib/stores/sqlite.js'
import { linkFrom, PASSWORD } from './helpers/app.js'
import {
  body, buildInstance, PG_URL, REDIS_URL, serviceTest, testKeyPrefix, testSchema, type Instance, type InstanceOverrides,
  type Service
} from './helpers/services.js'

type Store = { users: UserStore, tokens: TokenStore }

const N = 50

/** Two stores on the same data, as two processes would open them. */
async function sharedStores (t: Test, backend: Service): Promise<[Store, Store]> {
  if (backend === 'postgres') {
    const schema = testSchema(t)
    const a = await createPostgresStores(PG_URL, { schema })
    const b = await createPostgresStores(PG_URL, { schema })
    t.teardown(async () => { await Promise.all([a.close(), b.close()]) })
    return [a, b]
  }
  // Redis keeps the tokens; the users sit in a SQLite file both instances open.
  const dir = mkdtempSync(join(tmpdir(), 'fastify-accounts-race-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const keyPrefix = testKeyPrefix(t)
  const file = join(dir, 'users.db')
  const usersA = await createSqliteStores(file)
  const usersB = await createSqliteStores(file)
  const tokensA = new RedisTokenStore(REDIS_URL, { keyPrefix })
  const tokensB = new RedisTokenStore(REDIS_URL, { keyPrefix })
  await Promise.all([tokensA.connect(), tokensB.connect()])
  t.teardown(async () => { await Promise.all([usersA.close(), usersB.close(), tokensA.close(), tokensB.close()]) })
  return [{ users: usersA.users, tokens: tokensA }, { users: usersB.users, tokens: tokensB }]
}

async function twoInstances (t: Test, stores: [Store, Store], overrides: InstanceOverrides): Promise<[Instance, Instance]> {
  return [await buildInstance(t, stores[0], overrides), await buildInstance(t, stores[1], overrides)]
}

let serial = 0
async function newUser (app: Instance): Promise<{ username: string, email: string }> {
  const username = `user${++serial}`
  const email = `${username}@example.com`
  const res = await app.post('/users/', { username, email, password: PASSWORD })
  if (res.statusCode !== 201) throw new Error(`register: ${res.statusCode} ${res.body}`)
  return { username, email }
}

async function login (app: Instance, username: string, password = PASSWORD): Promise<{ access: string, refresh: string }> {
  const res = await app.post('/jwt/create/', { username, password })
  if (res.statusCode !== 200) throw new Error(`login: ${res.statusCode} ${res.body}`)
  return body(res) as { access: string, refresh: string }
}

async function tokenLogin (app: Instance, username: string): Promise<string> {
  const res = await app.post('/token/login/', { username, password: PASSWORD })
  if (res.statusCode !== 200) throw new Error(`token login: ${res.statusCode} ${res.body}`)
  return body(res).auth_token as string
}

function assertTokenNotValid (t: Test, res: LightMyRequestResponse, what: string): void {
  t.equal(res.statusCode, 401, `${what}: 401 (${res.body})`)
  t.equal(body(res).code, 'token_not_valid', `${what}: code token_not_valid`)
}

/** Presents `refresh` N times at once, alternating between the instances; returns the answers. */
async function stampede (apps: [Instance, Instance], refresh: string): Promise<LightMyRequestResponse[]> {
  return await Promise.all(Array.from({ length: N }, async (_, i) => await apps[i % 2].post('/jwt/refresh/', { refresh })))
}

function assertOneWinner (t: Test, answers: LightMyRequestResponse[]): void {
  const winners = answers.filter((r) => r.statusCode === 200)
  t.equal(winners.length, 1, `exactly one of ${N} got a new pair`)
  const pair = winners.length === 1 ? body(winners[0]) : {}
  t.type(pair.access, 'string', 'with an access token')
  t.type(pair.refresh, 'string', 'and a refresh token')
  const losers = answers.filter((r) => r.statusCode !== 200)
  t.equal(losers.length, N - 1, `${N - 1} others`)
  t.ok(losers.every((r) => r.statusCode === 401 && body(r).code === 'token_not_valid'),
    `all of them 401 token_not_valid (${[...new Set(losers.map((r) => `${r.statusCode} ${String(body(r).code)}`))].join(', ')})`)
}

for (const backend of ['postgres', 'redis'] as const) {
  await serviceTest(t, `${backend}: two instances`, [backend], async (t) => {
    const stores = await sharedStores(t, backend)
    const apps = await twoInstances(t, stores, { jwt: { rotateRefreshTokens: true } })
    const [a, b] = apps

    t.test(`${N} concurrent refreshes of one token: one new pair, every other 401`, async (t) => {
      const { username } = await newUser(a)
      for (let round = 1; round <= 3; round++) {
        const { refresh } = await login(round % 2 === 0 ? a : b, username)
        const answers = await stampede(apps, refresh)
        t.test(`round ${round}`, async (t) => { assertOneWinner(t, answers) })
      }
    })

    t.test(`${N} concurrent refreshes with blacklistAfterRotation and no reuse detection`, async (t) => {
      const strict = await twoInstances(t, stores, { jwt: { rotateRefreshTokens: true, blacklistAfterRotation: true, refreshReuseDetection: false } })
      const { username } = await newUser(strict[0])
      const { refresh } = await login(strict[0], username)
      const answers = await stampede(strict, refresh)
      assertOneWinner(t, answers)
      const pair = body(answers.find((r) => r.statusCode === 200) ?? answers[0])
      t.equal((await strict[1].post('/jwt/refresh/', { refresh: pair.refresh })).statusCode, 200,
        'without reuse detection the winner\'s new token goes on working')
    })

    t.test('reuse of a rotated-out token revokes its whole family, on every instance', async (t) => {
      // refreshReuseInterval 0: a reuse counts at once, however soon after the rotation.
      const [a, b] = await twoInstances(t, stores, { jwt: { rotateRefreshTokens: true, refreshReuseInterval: 0 } })
      const { username } = await newUser(a)
      const first = await login(a, username)
      const other = await login(b, username) // another session: another family

      const r1 = await a.post('/jwt/refresh/', { refresh: first.refresh })
      t.equal(r1.statusCode, 200, 'rotate on a')
      const r2 = await b.post('/jwt/refresh/', { refresh: body(r1).refresh })
      t.equal(r2.statusCode, 200, 'rotate the new one on b')
      const latest = body(r2).refresh as string

      assertTokenNotValid(t, await b.post('/jwt/refresh/', { refresh: first.refresh }), 'the rotated-out token, presented again on b')
      assertTokenNotValid(t, await a.post('/jwt/refresh/', { refresh: latest }), 'the latest token of the family, on a')
      assertTokenNotValid(t, await b.post('/jwt/verify/', { token: latest }), '/jwt/verify/ of it, on b')
      assertTokenNotValid(t, await a.post('/jwt/refresh/', { refresh: body(r1).refresh }), 'the middle one')
      t.equal((await a.post('/jwt/refresh/', { refresh: other.refresh })).statusCode, 200, 'another family of the same user is untouched')
      t.equal((await b.get('/users/me/', { authorization: `Bearer ${first.access}` })).statusCode, 200,
        'access tokens already issued live out their short lifetime')
    })

    for (const how of ['change', 'reset'] as const) {
      t.test(`a password ${how} on one instance ends the user's sessions (refresh, opaque and access tokens) on both`, async (t) => {
        const { username, email } = await newUser(a)
        const victim = await newUser(a) // another user, untouched
        const pairA = await login(a, username)
        const pairB = await login(b, username)
        const keyA = await tokenLogin(a, username)
        const keyB = await tokenLogin(b, username)
        const otherPair = await login(b, victim.username)
        const otherKey = await tokenLogin(a, victim.username)
        const newPassword = `${PASSWORD}-${how}-2`

        if (how === 'change') {
          // From a session of its own: the others end (whether this one goes on: test/sessions-end.test.ts).
          const changer = await login(a, username)
          const res = await a.post('/users/set_password/', { new_password: newPassword, current_password: PASSWORD },
            { authorization: `Bearer ${changer.access}` })
          t.equal(res.statusCode, 204, `set_password on a (${res.body})`)
        } else {
          t.equal((await a.post('/users/reset_password/', { email })).statusCode, 204, 'reset_password on a')
          const res = await b.post('/users/reset_password_confirm/', { ...linkFrom(a.mailer, email), new_password: newPassword })
          t.equal(res.statusCode, 204, `reset_password_confirm on b (${res.body})`)
        }

        for (const [app, name] of [[a, 'a'], [b, 'b']] as const) {
          assertTokenNotValid(t, await app.post('/jwt/refresh/', { refresh: pairA.refresh }), `refresh token from a, on ${name}`)
          assertTokenNotValid(t, await app.post('/jwt/refresh/', { refresh: pairB.refresh }), `refresh token from b, on ${name}`)
          for (const key of [keyA, keyB]) {
            t.equal((await app.get('/users/me/', { authorization: `Token ${key}` })).statusCode, 401, `opaque token refused on ${name}`)
          }
          for (const [pair, from] of [[pairA, 'a'], [pairB, 'b']] as const) {
            assertTokenNotValid(t, await app.get('/users/me/', { authorization: `Bearer ${pair.access}` }), `access token from ${from}, on ${name}`)
          }
        }
        t.equal((await b.post('/jwt/refresh/', { refresh: otherPair.refresh })).statusCode, 200, 'another user\'s refresh token still works')
        t.equal((await b.get('/users/me/', { authorization: `Token ${otherKey}` })).statusCode, 200, 'and its opaque token')
        t.equal((await b.post('/jwt/create/', { username, password: newPassword })).statusCode, 200, 'the new password logs in')
      })
    }
  })
}
