import { createHash, randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import t from 'tap'
import accounts, { type AccountsOptions } from '../lib/index.js'
import { createSqliteStores } from '../lib/stores/sqlite.js'
import { activeUser, buildApp, fastHasher, json, PASSWORD, SECRET, type TestApp } from './helpers/app.js'
import { buildDjRestAuthApp, dra, registered } from './helpers/dj-rest-auth.js'
import { decodeJwt, signHmac } from './helpers/jwt.js'

// jwt.sessionLifetime and authTokenLifetime (issue 13 item 5, ASVS 3.3.2): sessions end, whatever the
// lifetime of the token presented.

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
const INVALID = { detail: 'Token is invalid or expired', code: 'token_not_valid' }
const refresh = async (w: TestApp, token: string) => await w.app.inject({ method: 'POST', url: '/auth/jwt/refresh/', payload: { refresh: token } })
const startOf = (token: string): number => Number.parseInt(String(decodeJwt(token).payload.sid).slice(0, 12), 16)

t.test('jwt.sessionLifetime, with rotation: refreshes work until the session\'s end, then 401 whatever the refresh token\'s exp', async (t) => {
  const w = await buildApp({ jwt: { rotateRefreshTokens: true, sessionLifetime: 3, refreshTokenLifetime: 86400 } })
  t.teardown(async () => { await w.app.close() })
  const login = await activeUser(w)
  const end = Math.floor((startOf(login.refresh) + 3000) / 1000)
  t.equal(decodeJwt(login.refresh).payload.exp, end, 'the first refresh token expires with its session, not a day later')
  const first = await refresh(w, login.refresh)
  t.equal(first.statusCode, 200)
  const rotated = json(first) as { access: string, refresh: string }
  t.equal(decodeJwt(rotated.refresh).payload.exp, end, 'a rotated refresh token never outlives its session')
  t.equal(decodeJwt(rotated.refresh).payload.sid, decodeJwt(login.refresh).payload.sid, 'same session')
  await sleep(Math.max(0, startOf(login.refresh) + 3000 - Date.now()) + 50)
  // Signed by hand with the session's sid and a fresh exp: the lifetime is judged from the session's start.
  const forged = signHmac({ ...decodeJwt(rotated.refresh).payload, exp: Math.floor(Date.now() / 1000) + 3600, jti: randomUUID().replaceAll('-', '') }, SECRET)
  const late = await refresh(w, forged)
  t.equal(late.statusCode, 401, 'a refresh token of the session, with hours left: 401')
  t.same(json(late), INVALID)
  t.equal((await w.app.inject({ method: 'POST', url: '/auth/jwt/create/', payload: { username: 'alice', password: PASSWORD } })).statusCode, 200, 'a new login starts a new session')
})

t.test('jwt.sessionLifetime without rotation: the same refresh token stops refreshing at the session\'s end', async (t) => {
  const w = await buildApp({ jwt: { sessionLifetime: 2 } })
  t.teardown(async () => { await w.app.close() })
  const login = await activeUser(w)
  t.equal((await refresh(w, login.refresh)).statusCode, 200)
  const forged = signHmac({ ...decodeJwt(login.refresh).payload, exp: Math.floor(Date.now() / 1000) + 3600 }, SECRET)
  await sleep(Math.max(0, startOf(login.refresh) + 2000 - Date.now()) + 50)
  const late = await refresh(w, forged)
  t.equal(late.statusCode, 401)
  t.same(json(late), INVALID)
})

t.test('tokens without a sid of ours (simplejwt\'s, from before a move) are dated by their iat, and keep that date through rotation', async (t) => {
  const w = await buildApp({ jwt: { rotateRefreshTokens: true, sessionLifetime: 3600 } })
  t.teardown(async () => { await w.app.close() })
  const { id } = await activeUser(w)
  const now = Math.floor(Date.now() / 1000)
  const simplejwt = (iat: number): string => signHmac({ token_type: 'refresh', exp: now + 86400, iat, jti: randomUUID().replaceAll('-', ''), user_id: id }, SECRET)
  const old = await refresh(w, simplejwt(now - 3601))
  t.equal(old.statusCode, 401, 'issued more than sessionLifetime ago: 401')
  t.same(json(old), INVALID)
  const recent = await refresh(w, simplejwt(now - 3500))
  t.equal(recent.statusCode, 200, 'issued within it: rotates')
  const successor = decodeJwt((json(recent) as { refresh: string }).refresh).payload
  t.equal(successor.orig_iat, now - 3500, 'its successor carries the session\'s start (orig_iat)')
  t.equal(successor.exp, now - 3500 + 3600, 'and expires with the session')
})

t.test('dj-rest-auth token/refresh/ past the session\'s end: 401 in its shape', async (t) => {
  const w = await buildDjRestAuthApp({ useJwt: true, jwtAuthHttpOnly: false }, { core: { jwt: { sessionLifetime: 2 } } })
  t.teardown(async () => { await w.app.close() })
  await registered(w)
  const pair = json(await dra(w, 'POST', '/login/', { username: 'alice', password: PASSWORD })) as { access: string, refresh: string }
  t.equal((await dra(w, 'POST', '/token/refresh/', { refresh: pair.refresh })).statusCode, 200)
  const forged = signHmac({ ...decodeJwt(pair.refresh).payload, exp: Math.floor(Date.now() / 1000) + 3600 }, SECRET)
  await sleep(Math.max(0, startOf(pair.refresh) + 2000 - Date.now()) + 50)
  const late = await dra(w, 'POST', '/token/refresh/', { refresh: forged })
  t.equal(late.statusCode, 401)
  t.same(json(late), INVALID)
})

const stores = {
  memory: async () => undefined,
  'SQLite (:memory:)': async () => await createSqliteStores(':memory:')
}

for (const [storeName, open] of Object.entries(stores)) {
  t.test(`authTokenLifetime on ${storeName}: an older opaque token is refused as invalid, and deleted`, async (t) => {
    const opened = await open()
    const w = await buildApp({ authTokenLifetime: 2, ...(opened === undefined ? {} : { store: opened }) })
    t.teardown(async () => { await w.app.close(); await opened?.close() })
    const { access } = await activeUser(w)
    const key = (json(await w.app.inject({ method: 'POST', url: '/auth/token/login/', payload: { username: 'alice', password: PASSWORD } })) as { auth_token: string }).auth_token
    const me = async () => await w.app.inject({ method: 'GET', url: '/auth/users/me/', headers: { authorization: `Token ${key}` } })
    t.equal((await me()).statusCode, 200, 'within its lifetime: works')
    const listed = json(await w.app.inject({ method: 'GET', url: '/auth/users/me/sessions/', headers: { authorization: `Bearer ${access}` } })) as Array<{ kind: string, created: string, expires: string | null }>
    const token = listed.find((s) => s.kind === 'token')
    t.equal(Date.parse(token?.expires ?? ''), Date.parse(token?.created ?? '') + 2000, 'listed with its end')
    const store = opened?.tokens ?? w.tokens
    const hash = createHash('sha256').update(key).digest('hex')
    await sleep(2100)
    const refused = await me()
    t.equal(refused.statusCode, 401, 'past it: 401')
    t.same(json(refused), { detail: 'Invalid token.' }, 'as an unknown token')
    await sleep(20)
    t.equal(await store.findAuthToken(hash), null, 'and deleted from the store')
    t.same((json(await w.app.inject({ method: 'GET', url: '/auth/users/me/sessions/', headers: { authorization: `Bearer ${access}` } })) as unknown[]).length, 1, 'no longer listed')
  })
}

t.test('authTokenLifetime defaults to none, as DRF: opaque tokens are listed without an end', async (t) => {
  const w = await buildApp()
  t.teardown(async () => { await w.app.close() })
  const { access } = await activeUser(w)
  await w.app.inject({ method: 'POST', url: '/auth/token/login/', payload: { username: 'alice', password: PASSWORD } })
  const listed = json(await w.app.inject({ method: 'GET', url: '/auth/users/me/sessions/', headers: { authorization: `Bearer ${access}` } })) as Array<{ kind: string, expires: string | null }>
  t.same(listed.map((s) => [s.kind, s.expires === null]), [['jwt', false], ['token', true]])
})

t.test('the options are checked at registration', async (t) => {
  const register = async (options: Record<string, unknown>): Promise<void> => {
    const app = Fastify({ logger: false })
    t.teardown(async () => { await app.close() })
    await app.register(accounts, { passwordHasher: fastHasher, ...options, jwt: { signingKey: SECRET, ...(options.jwt as object) } } as AccountsOptions)
    await app.ready()
  }
  for (const bad of [0, -1, 1.5, '60', true]) {
    await t.rejects(register({ authTokenLifetime: bad }), { name: 'OptionsError', message: /authTokenLifetime/ }, `authTokenLifetime ${JSON.stringify(bad)}`)
    await t.rejects(register({ jwt: { sessionLifetime: bad } }), { name: 'OptionsError', message: /sessionLifetime/ }, `jwt.sessionLifetime ${JSON.stringify(bad)}`)
  }
  await t.resolves(register({ authTokenLifetime: null, jwt: { sessionLifetime: 60 } }), 'null and a positive whole number are fine')
})
