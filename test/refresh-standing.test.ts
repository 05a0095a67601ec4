/**
 * A refresh (and a /jwt/verify/ of a refresh token) checks two things it has no user at hand for: the token's
 * blacklist entry and its user's session cut-off. Where one database holds both (SQLite, or PostgreSQL
 * without Redis), the stores' `refreshStanding` reads them in one statement; elsewhere each store is asked.
 * Either way a blacklisted token, or one of a session a cut-off ended, is refused with the same answer.
 */
import Fastify, { type LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import accounts, { MemoryMailer, StoreUnavailableError, type AccountsOptions } from '../lib/index.js'
import { createStores, type Stores } from '../lib/stores/factory.js'
import { fastHasher, json, PASSWORD, SECRET } from './helpers/app.js'
import { decodeJwt } from './helpers/jwt.js'
import { PG_URL, REDIS_URL, serviceTest, testKeyPrefix, testSchema } from './helpers/services.js'

type Store = NonNullable<AccountsOptions['store']>

interface Reads { standing: number, findRefreshToken: number, findSessionCutoff: number, findUserById: number }

/** Replaces a method of a store shared by the subtests, for the subtest `t` only. */
function replace<T extends object, K extends keyof T> (t: Test, target: T, key: K, replacement: T[K]): void {
  const own = Object.hasOwn(target, key)
  const original = target[key]
  target[key] = replacement
  t.teardown(() => { if (own) target[key] = original; else delete target[key] })
}

/** Counts the store reads the requests of subtest `t` make. */
function countReads (t: Test, store: Store): Reads {
  const reads: Reads = { standing: 0, findRefreshToken: 0, findSessionCutoff: 0, findUserById: 0 }
  const { users, tokens } = store
  const findRefreshToken = tokens.findRefreshToken.bind(tokens)
  replace(t, tokens, 'findRefreshToken', async (jti) => { reads.findRefreshToken++; return await findRefreshToken(jti) })
  const findUserById = users.findUserById.bind(users)
  replace(t, users, 'findUserById', async (id) => { reads.findUserById++; return await findUserById(id) })
  const findSessionCutoff = users.findSessionCutoff?.bind(users)
  if (findSessionCutoff !== undefined) replace(t, users, 'findSessionCutoff', async (id) => { reads.findSessionCutoff++; return await findSessionCutoff(id) })
  const standing = store.refreshStanding
  if (standing !== undefined) store.refreshStanding = async (jti, userId) => { reads.standing++; return await standing(jti, userId) }
  return reads
}

/** Usernames are unique across the file: the subtests of a backend share its stores. */
let usersMade = 0

async function appOn (t: Test, store: Store) {
  const app = Fastify({ logger: false })
  await app.register(accounts, { prefix: '/auth', store, mailer: new MemoryMailer(), passwordHasher: fastHasher, rateLimit: false, jwt: { signingKey: SECRET } })
  await app.ready()
  t.teardown(async () => { await app.close() })
  const refreshed: number[] = []
  app.accounts.events.on('token.refreshed', ({ userId }) => { refreshed.push(userId) })
  const post = async (url: string, payload: Record<string, string>): Promise<LightMyRequestResponse> => await app.inject({ method: 'POST', url: `/auth${url}`, payload })
  /** A new user, logged in `sessions` times: its id and each session's pair. */
  const user = async (sessions = 1) => {
    const username = `user${++usersMade}`
    const { id } = await store.users.createUser({ username, email: `${username}@example.com`, password: await fastHasher.hash(PASSWORD), isActive: true })
    const pairs: Array<{ access: string, refresh: string }> = []
    for (let i = 0; i < sessions; i++) {
      const res = await post('/jwt/create/', { username, password: PASSWORD })
      t.equal(res.statusCode, 200, 'logged in')
      pairs.push(json(res) as { access: string, refresh: string })
    }
    return { id, pairs }
  }
  return { app, post, user, refreshed }
}

function refused (t: Test, res: LightMyRequestResponse, detail: string, what: string): void {
  t.equal(res.statusCode, 401, `${what}: 401`)
  t.same(json(res), { detail, code: 'token_not_valid' }, `${what}: ${detail}`)
}

/** The same answers whichever way the store reads; `oneRead` says which way it must. */
function behaviour (t: Test, open: () => Promise<Store>, oneRead: boolean): void {
  t.test(oneRead ? 'a refresh makes one read: refreshStanding' : 'a refresh asks each store: findRefreshToken and the cut-off', async (t) => {
    const store = await open()
    const reads = countReads(t, store)
    const { post, user, refreshed } = await appOn(t, store)
    const { id, pairs: [pair] } = await user()
    Object.assign(reads, { standing: 0, findRefreshToken: 0, findSessionCutoff: 0, findUserById: 0 })
    const res = await post('/jwt/refresh/', { refresh: pair.refresh })
    t.equal(res.statusCode, 200, res.body)
    const { access } = json(res) as { access: string }
    t.equal(decodeJwt(access).payload.user_id, id, 'a new access token for the user')
    t.same(refreshed, [id], 'token.refreshed')
    const made = { standing: reads.standing, findRefreshToken: reads.findRefreshToken, cutoff: reads.findSessionCutoff + reads.findUserById }
    t.same(made, oneRead ? { standing: 1, findRefreshToken: 0, cutoff: 0 } : { standing: 0, findRefreshToken: 1, cutoff: 1 }, 'the reads made')
    t.equal((await post('/jwt/verify/', { token: pair.refresh })).statusCode, 200, 'verify of the refresh token: 200')
  })

  t.test('a blacklisted refresh token is refused at refresh and at verify', async (t) => {
    const store = await open()
    const { post, user, refreshed } = await appOn(t, store)
    const { pairs: [pair] } = await user()
    t.equal((await post('/jwt/blacklist/', { refresh: pair.refresh })).statusCode, 200, 'blacklisted')
    refused(t, await post('/jwt/refresh/', { refresh: pair.refresh }), 'Token is blacklisted', 'refresh')
    refused(t, await post('/jwt/verify/', { token: pair.refresh }), 'Token is blacklisted', 'verify')
    t.same(refreshed, [], 'no token.refreshed')
  })

  t.test('a session the cut-off ended is refused; the session it keeps goes on', async (t) => {
    const store = await open()
    const { post, user } = await appOn(t, store)
    const { id, pairs: [ended, kept] } = await user(2)
    const keptSession = decodeJwt(kept.refresh).payload.sid as string
    await store.users.updateUser(id, { sessionsValidAfter: new Date(), keptSession })
    refused(t, await post('/jwt/refresh/', { refresh: ended.refresh }), 'Token has been revoked', 'refresh of the ended session')
    refused(t, await post('/jwt/verify/', { token: ended.refresh }), 'Token has been revoked', 'verify of the ended session')
    t.equal((await post('/jwt/refresh/', { refresh: kept.refresh })).statusCode, 200, 'the kept session refreshes')
  })

  t.test('blacklisted and cut off: the blacklist answers first', async (t) => {
    const store = await open()
    const { post, user } = await appOn(t, store)
    const { id, pairs: [pair] } = await user()
    t.equal((await post('/jwt/blacklist/', { refresh: pair.refresh })).statusCode, 200)
    await store.users.updateUser(id, { sessionsValidAfter: new Date(), keptSession: null })
    refused(t, await post('/jwt/refresh/', { refresh: pair.refresh }), 'Token is blacklisted', 'refresh')
  })

  t.test('a store that cannot answer: 503 {detail}, no token, no event', async (t) => {
    const store = await open()
    const failing = new StoreUnavailableError('database unavailable')
    if (store.refreshStanding !== undefined) store.refreshStanding = async () => { throw failing }
    else replace(t, store.tokens, 'findRefreshToken', async () => { throw failing })
    const { post, user, refreshed } = await appOn(t, store)
    const { pairs: [pair] } = await user()
    const res = await post('/jwt/refresh/', { refresh: pair.refresh })
    t.equal(res.statusCode, 503)
    t.same(Object.keys(json(res) as object), ['detail'], 'djoser\'s shape')
    t.notMatch(res.body, /"access"/, 'no token')
    t.same(refreshed, [], 'no token.refreshed')
  })
}

/**
 * The stores of one backend, opened once for the subtests of `t` (opening PostgreSQL migrates a schema) and
 * closed at its end; each subtest gets a `store` object of its own over them.
 */
function opener (t: Test, create: () => Promise<Stores>, assemble: (stores: Stores) => Store = ({ users, tokens, refreshStanding }) => ({ users, tokens, refreshStanding })) {
  let stores: Promise<Stores> | undefined
  t.teardown(async () => { if (stores !== undefined) await (await stores).close() })
  return async (): Promise<Store> => assemble(await (stores ??= create()))
}

t.test('SQLite', async (t) => {
  const sqlite = async (): Promise<Stores> => await createStores({ databaseUrl: 'sqlite::memory:' })
  t.test('createStores gives a refreshStanding', async (t) => {
    const stores = await sqlite()
    t.teardown(stores.close)
    t.type(stores.refreshStanding, 'function')
  })
  behaviour(t, opener(t, sqlite), true)
  t.test('stores assembled by hand (no refreshStanding)', async (t) => {
    behaviour(t, opener(t, sqlite, ({ users, tokens }) => ({ users, tokens })), false)
  })
})

await serviceTest(t, 'PostgreSQL', ['postgres'], async (t) => {
  behaviour(t, opener(t, async () => await createStores({ databaseUrl: PG_URL, postgres: { schema: testSchema(t) } })), true)
})

await serviceTest(t, 'SQLite users, Redis tokens', ['redis'], async (t) => {
  const open = opener(t, async () => await createStores({ databaseUrl: 'sqlite::memory:', redisUrl: REDIS_URL, redis: { keyPrefix: testKeyPrefix(t) } }))
  t.test('no refreshStanding: the SQL database does not hold the tokens', async (t) => {
    t.equal((await open()).refreshStanding, undefined)
  })
  behaviour(t, open, false)
})
