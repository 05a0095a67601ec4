import { createHash } from 'node:crypto'
import Fastify, { type LightMyRequestResponse } from 'fastify'
import t from 'tap'
import type { AccountsEventPayload } from '../lib/events.js'
import accounts, { MemoryMailer } from '../lib/index.js'
import { MemoryTokenStore, MemoryUserStore } from '../lib/stores/memory.js'
import { createSqliteStores } from '../lib/stores/sqlite.js'
import { activeUser, buildApp, fastHasher, json, PASSWORD, SECRET, type TestApp } from './helpers/app.js'
import { buildDjRestAuthApp, dra, registered } from './helpers/dj-rest-auth.js'

// The sessions routes (issue 13 item 5, ASVS 3.3.4): djoser's users/me/sessions/ and dj-rest-auth's sessions/.

interface Item { id: string, kind: string, created: string, last_used: string, expires: string | null, ip: string | null, user_agent: string | null, current: boolean }
type Headers = Record<string, string>

const bearer = (token: string): Headers => ({ authorization: `Bearer ${token}` })
const tokenAuth = (key: string): Headers => ({ authorization: `Token ${key}` })
const sidOf = (jwt: string): string => (JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as { sid: string }).sid
const hashOf = (key: string): string => createHash('sha256').update(key).digest('hex')
const DAY = 86_400_000

/** A login from `ip` with `agent`: jwt/create/ (a JWT session) or token/login/ (an opaque token). */
async function login (w: TestApp, kind: 'jwt' | 'token', ip: string, agent: string, username = 'alice'): Promise<{ access: string, refresh: string, key: string, id: string }> {
  const url = kind === 'jwt' ? '/auth/jwt/create/' : '/auth/token/login/'
  const res = await w.app.inject({ method: 'POST', url, payload: { username, password: PASSWORD }, remoteAddress: ip, headers: { 'user-agent': agent } })
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.body}`)
  const body = json(res) as { access?: string, refresh?: string, auth_token?: string }
  if (kind === 'token') return { access: '', refresh: '', key: body.auth_token as string, id: hashOf(body.auth_token as string) }
  return { access: body.access as string, refresh: body.refresh as string, key: '', id: sidOf(body.access as string) }
}

const list = async (w: TestApp, headers: Headers): Promise<LightMyRequestResponse> =>
  await w.app.inject({ method: 'GET', url: '/auth/users/me/sessions/', headers })
const items = async (w: TestApp, headers: Headers): Promise<Item[]> => json(await list(w, headers)) as Item[]
const me = async (w: TestApp, headers: Headers): Promise<number> => (await w.app.inject({ method: 'GET', url: '/auth/users/me/', headers })).statusCode
const refresh = async (w: TestApp, token: string): Promise<LightMyRequestResponse> =>
  await w.app.inject({ method: 'POST', url: '/auth/jwt/refresh/', payload: { refresh: token } })

const stores = {
  memory: async () => undefined,
  'SQLite (:memory:)': async () => await createSqliteStores(':memory:')
}

for (const [storeName, open] of Object.entries(stores)) {
  t.test(`djoser users/me/sessions/ on ${storeName}`, async (t) => {
    const opened = await open()
    const w = await buildApp(opened === undefined ? {} : { store: opened })
    t.teardown(async () => { await w.app.close(); await opened?.close() })
    const ended: Array<AccountsEventPayload<'session.ended'>> = []
    w.app.accounts.events.on('session.ended', (e) => { ended.push(e) })
    const first = await activeUser(w)
    const laptop = await login(w, 'jwt', '203.0.113.5', 'Laptop/1.0')
    const phone = await login(w, 'jwt', '198.51.100.7', 'Phone/2.0')
    const script = await login(w, 'token', '2001:db8::9', 'curl/8.5.0')
    const bob = await activeUser(w, 'bob')

    t.test('GET lists the caller\'s sessions, oldest first, with the IP and user agent of each login; the current one flagged', async (t) => {
      const res = await list(w, bearer(laptop.access))
      t.equal(res.statusCode, 200)
      const got = json(res) as Item[]
      t.same(got.map((s) => s.id), [sidOf(first.access), laptop.id, phone.id, script.id], 'alice\'s four, not bob\'s')
      t.match(got[1], { id: laptop.id, kind: 'jwt', ip: '203.0.113.5', user_agent: 'Laptop/1.0', current: true })
      t.match(got[2], { id: phone.id, kind: 'jwt', ip: '198.51.100.7', user_agent: 'Phone/2.0', current: false })
      t.match(got[3], { id: script.id, kind: 'token', ip: '2001:db8::9', user_agent: 'curl/8.5.0', current: false, expires: null })
      t.same(Object.keys(got[1]).sort(), ['created', 'current', 'expires', 'id', 'ip', 'kind', 'last_used', 'user_agent'], 'those fields and no other')
      const created = Date.parse(got[1].created)
      t.ok(Math.abs(created - Date.now()) < 60_000, 'created: an ISO date, now')
      t.equal(Date.parse(got[1].expires as string), created + 30 * DAY, 'expires: jwt.sessionLifetime (30 days) after the login')
      t.ok(Date.parse(got[1].last_used) >= created, 'last_used: an ISO date, not before its creation')
      t.same((await items(w, tokenAuth(script.key))).filter((s) => s.current).map((s) => s.id), [script.id], 'an opaque token\'s request: its own session is current')
      t.same((await items(w, bearer(bob.access))).map((s) => s.id), [sidOf(bob.access)], 'bob sees his one')
    })

    t.test('a refresh is recorded as a use, and without a new session', async (t) => {
      const rotated = await refresh(w, phone.refresh)
      t.equal(rotated.statusCode, 200)
      t.same((await items(w, bearer(laptop.access))).map((s) => s.id), [sidOf(first.access), laptop.id, phone.id, script.id])
    })

    t.test('without credentials, or with bad ones: 401 in djoser\'s shape, nothing listed or ended', async (t) => {
      for (const [method, url] of [['GET', '/auth/users/me/sessions/'], ['DELETE', '/auth/users/me/sessions/'], ['DELETE', `/auth/users/me/sessions/${phone.id}/`]] as const) {
        const anonymous = await w.app.inject({ method, url })
        t.equal(anonymous.statusCode, 401, `${method} ${url} anonymous`)
        t.same(json(anonymous), { detail: 'Authentication credentials were not provided.' })
        const forged = await w.app.inject({ method, url, headers: bearer(`${laptop.access}x`) })
        t.equal(forged.statusCode, 401, `${method} ${url} with a bad token`)
        t.match(json(forged), { code: 'token_not_valid' })
        const wrongKey = await w.app.inject({ method, url, headers: tokenAuth('0'.repeat(40)) })
        t.equal(wrongKey.statusCode, 401, `${method} ${url} with an unknown opaque token`)
        t.same(json(wrongKey), { detail: 'Invalid token.' })
      }
      t.equal((await items(w, bearer(laptop.access))).length, 4, 'all four still there')
    })

    t.test('DELETE of an id that is not one of the caller\'s live sessions: 404 {detail}, nothing ended', async (t) => {
      for (const id of [sidOf(bob.access), 'f'.repeat(32), hashOf('0'.repeat(40)), 'x'.repeat(99), '..%2F..%2Fusers']) {
        const res = await w.app.inject({ method: 'DELETE', url: `/auth/users/me/sessions/${id}/`, headers: bearer(laptop.access) })
        t.equal(res.statusCode, 404, `${id.slice(0, 40)}: 404`)
        t.same(json(res), { detail: 'Not found.' })
      }
      t.equal(await me(w, bearer(bob.access)), 200, 'bob\'s session goes on')
      t.equal((await refresh(w, bob.refresh)).statusCode, 200, 'and refreshes')
      t.same(ended, [], 'no session.ended')
    })

    t.test('DELETE of one JWT session: its refresh token is refused, its access token lives until it expires, the others go on', async (t) => {
      const res = await w.app.inject({ method: 'DELETE', url: `/auth/users/me/sessions/${phone.id}/`, headers: bearer(laptop.access), remoteAddress: '203.0.113.5' })
      t.equal(res.statusCode, 204)
      t.equal(res.body, '')
      const refused = await refresh(w, phone.refresh)
      t.equal(refused.statusCode, 401, 'the ended session\'s refresh token: 401')
      t.match(json(refused), { code: 'token_not_valid' })
      t.equal(await me(w, bearer(phone.access)), 200, 'its access token: until it expires (documented)')
      t.equal((await refresh(w, laptop.refresh)).statusCode, 200, 'the caller\'s refresh token works')
      t.equal(await me(w, tokenAuth(script.key)), 200, 'the opaque token works')
      t.same((await items(w, bearer(laptop.access))).map((s) => s.id), [sidOf(first.access), laptop.id, script.id], 'no longer listed')
      t.match(ended, [{ userId: first.id, count: 1, reason: 'user-ended-one', request: { ip: '203.0.113.5' } }], 'session.ended, with the request')
      const again = await w.app.inject({ method: 'DELETE', url: `/auth/users/me/sessions/${phone.id}/`, headers: bearer(laptop.access) })
      t.equal(again.statusCode, 404, 'ending it again: 404')
    })

    t.test('DELETE of an opaque token\'s session: the token is refused at once', async (t) => {
      const other = await login(w, 'token', '192.0.2.1', 'Other/1')
      const res = await w.app.inject({ method: 'DELETE', url: `/auth/users/me/sessions/${other.id}`, headers: tokenAuth(script.key) })
      t.equal(res.statusCode, 204, 'without the trailing slash too')
      t.equal(await me(w, tokenAuth(other.key)), 401)
      t.equal(await me(w, tokenAuth(script.key)), 200, 'the caller\'s token goes on')
    })

    t.test('DELETE of all: every other session ends at once, access tokens included; the current goes on', async (t) => {
      ended.length = 0
      const extra = await login(w, 'jwt', '192.0.2.2', 'Tablet/3')
      const res = await w.app.inject({ method: 'DELETE', url: '/auth/users/me/sessions/', headers: bearer(laptop.access) })
      t.equal(res.statusCode, 204)
      t.equal(await me(w, bearer(first.access)), 401, 'another session\'s access token: 401 at once')
      t.equal(await me(w, bearer(extra.access)), 401, 'and another\'s')
      t.equal((await refresh(w, extra.refresh)).statusCode, 401, 'its refresh token too')
      t.equal(await me(w, tokenAuth(script.key)), 401, 'the opaque token too')
      t.equal(await me(w, bearer(laptop.access)), 200, 'the current access token works')
      const renewed = await refresh(w, laptop.refresh)
      t.equal(renewed.statusCode, 200, 'and its refresh token')
      t.equal(await me(w, bearer((json(renewed) as { access: string }).access)), 200, 'and the access token it gives')
      t.same((await items(w, bearer(laptop.access))).map((s) => [s.id, s.current]), [[laptop.id, true]], 'only the current one is left')
      t.match(ended, [{ userId: first.id, count: 3, reason: 'user-ended-others' }], 'session.ended counts the three listed ones')
      t.equal(await me(w, bearer(bob.access)), 200, 'another user\'s sessions are untouched')
      const later = await login(w, 'jwt', '192.0.2.3', 'New/1')
      t.equal(await me(w, bearer(later.access)), 200, 'a login afterwards works')
    })
  })
}

t.test('dj-rest-auth sessions/ (token mode and JWT mode)', async (t) => {
  const drLogin = async (w: Awaited<ReturnType<typeof buildDjRestAuthApp>>, agent: string): Promise<Record<string, string>> => {
    const res = await dra(w, 'POST', '/login/', { username: 'alice', password: PASSWORD }, { 'user-agent': agent })
    if (res.statusCode !== 200) throw new Error(`login failed: ${res.body}`)
    return json(res) as Record<string, string>
  }

  t.test('token mode: list, end one, end the others, 404, 401', async (t) => {
    const w = await buildDjRestAuthApp()
    t.teardown(async () => { await w.app.close() })
    await registered(w)
    await registered(w, 'bob')
    const a = (await drLogin(w, 'A/1')).key
    const b = (await drLogin(w, 'B/1')).key
    const c = (await drLogin(w, 'C/1')).key
    const bobKey = (json(await dra(w, 'POST', '/login/', { username: 'bob', password: PASSWORD })) as { key: string }).key

    const res = await dra(w, 'GET', '/sessions/', undefined, tokenAuth(a))
    t.equal(res.statusCode, 200)
    const got = json(res) as Item[]
    t.same(got.map((s) => s.id).sort(), [a, b, c].map(hashOf).sort(), 'the three opaque tokens, not bob\'s')
    t.same(got.filter((s) => s.current).map((s) => s.id), [hashOf(a)])
    t.match(got.find((s) => s.id === hashOf(b)), { kind: 'token', user_agent: 'B/1', expires: null })

    const missing = await dra(w, 'DELETE', `/sessions/${hashOf(bobKey)}/`, undefined, tokenAuth(a))
    t.equal(missing.statusCode, 404, 'bob\'s: 404')
    t.same(json(missing), { detail: 'Not found.' })
    t.equal((await dra(w, 'GET', '/user/', undefined, tokenAuth(bobKey))).statusCode, 200, 'bob\'s token works')

    t.equal((await dra(w, 'DELETE', `/sessions/${hashOf(b)}/`, undefined, tokenAuth(a))).statusCode, 204)
    t.equal((await dra(w, 'GET', '/user/', undefined, tokenAuth(b))).statusCode, 401, 'the ended token: 401')
    t.equal((await dra(w, 'GET', '/user/', undefined, tokenAuth(c))).statusCode, 200, 'the others work')

    t.equal((await dra(w, 'DELETE', '/sessions/', undefined, tokenAuth(a))).statusCode, 204)
    t.equal((await dra(w, 'GET', '/user/', undefined, tokenAuth(c))).statusCode, 401, 'the other token: 401')
    t.equal((await dra(w, 'GET', '/user/', undefined, tokenAuth(a))).statusCode, 200, 'the current one works')
    t.same((json(await dra(w, 'GET', '/sessions/', undefined, tokenAuth(a))) as Item[]).map((s) => s.id), [hashOf(a)])

    const anonymous = await dra(w, 'GET', '/sessions/')
    t.equal(anonymous.statusCode, 401, 'anonymous: 401')
    t.same(json(anonymous), { detail: 'Authentication credentials were not provided.' })
    t.equal((await dra(w, 'DELETE', '/sessions/')).statusCode, 401)
  })

  t.test('JWT mode: the login\'s session is listed and ended like djoser\'s', async (t) => {
    const w = await buildDjRestAuthApp({ useJwt: true, jwtAuthHttpOnly: false, jwtAuthCookie: 'jwt-auth' })
    t.teardown(async () => { await w.app.close() })
    await registered(w)
    const one = await drLogin(w, 'One/1')
    const two = await drLogin(w, 'Two/1')
    const got = json(await dra(w, 'GET', '/sessions/', undefined, bearer(one.access))) as Item[]
    t.same(got.map((s) => [s.id, s.kind, s.current]), [[sidOf(one.access), 'jwt', true], [sidOf(two.access), 'jwt', false]])
    t.equal((await dra(w, 'DELETE', `/sessions/${sidOf(two.access)}/`, undefined, bearer(one.access))).statusCode, 204)
    const refused = await dra(w, 'POST', '/token/refresh/', { refresh: two.refresh })
    t.equal(refused.statusCode, 401, 'its refresh token: 401')
    t.match(json(refused), { code: 'token_not_valid' })
    t.equal((await dra(w, 'POST', '/token/refresh/', { refresh: one.refresh })).statusCode, 200, 'the current one refreshes')

    // The JWT cookie alone, from another site: the CSRF check refuses it before anything ends.
    const three = await drLogin(w, 'Three/1')
    const crossSite = await dra(w, 'DELETE', '/sessions/', undefined, { cookie: `jwt-auth=${one.access}`, origin: 'https://evil.example' })
    t.equal(crossSite.statusCode, 403, 'a cross-site DELETE carrying the cookie: 403')
    t.match(json(crossSite), { detail: String })
    t.equal((await dra(w, 'GET', '/sessions/', undefined, { cookie: `jwt-auth=${one.access}` })).statusCode, 200, 'the cookie alone authenticates a same-site GET')
    t.equal((await dra(w, 'GET', '/user/', undefined, bearer(three.access))).statusCode, 200, 'the other session was not ended')
  })
})

t.test('the last use: recorded off the request path, at most once a minute per session; a store failure there fails no request', async (t) => {
  const touches: string[] = []
  let failTouches = false
  class Spy extends MemoryTokenStore {
    override async touchSession (...args: Parameters<MemoryTokenStore['touchSession']>): Promise<void> {
      touches.push(args[0].id)
      if (failTouches) throw new Error('store down')
      await super.touchSession(...args)
    }
  }
  const tokens = new Spy()
  // Where the failure is reported: the app's log when the plugin hands TokenService its logger, else process warnings.
  const warnings: string[] = []
  const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => { warnings.push(line) } } } })
  const [mailer, users] = [new MemoryMailer(), new MemoryUserStore()]
  await app.register(accounts, { prefix: '/auth', store: { users, tokens }, mailer, passwordHasher: fastHasher, rateLimit: false, jwt: { signingKey: SECRET } })
  const w: TestApp = { app, mailer, users, tokens }
  await app.ready()
  t.teardown(async () => { await app.close() })
  const onWarning = (warning: Error): void => { warnings.push(warning.message) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })
  const first = await activeUser(w)
  const script = await login(w, 'token', '192.0.2.1', 'Script/1')
  for (let i = 0; i < 3; i++) t.equal(await me(w, tokenAuth(script.key)), 200)
  await new Promise((resolve) => setImmediate(resolve))
  t.same(touches, [], 'an opaque token used within a minute of its last use: no write at all')

  // Its session last used two minutes ago (as after a quiet spell).
  const [record] = (await tokens.listSessions(first.id, new Date())).filter((s) => s.kind === 'token')
  await tokens.saveSession({ ...record, lastUsedAt: new Date(Date.now() - 120_000) })
  t.equal(await me(w, tokenAuth(script.key)), 200)
  await new Promise((resolve) => setImmediate(resolve))
  t.same(touches, [script.id], 'past a minute: one write')
  const touched = (await items(w, tokenAuth(script.key))).find((s) => s.id === script.id)
  t.ok(Date.now() - Date.parse(touched?.last_used ?? '') < 5000, 'last_used is now')
  for (let i = 0; i < 3; i++) await me(w, tokenAuth(script.key))
  await new Promise((resolve) => setImmediate(resolve))
  t.same(touches, [script.id], 'and none after it within the minute')

  t.equal((await refresh(w, first.refresh)).statusCode, 200)
  await new Promise((resolve) => setImmediate(resolve))
  t.same(touches, [script.id, sidOf(first.access)], 'a refresh notes a use of its session')
  for (let i = 0; i < 3; i++) t.equal((await refresh(w, first.refresh)).statusCode, 200)
  await new Promise((resolve) => setImmediate(resolve))
  t.same(touches, [script.id, sidOf(first.access)], 'refreshes within the minute of that write: no store call at all')

  failTouches = true
  await tokens.saveSession({ ...record, lastUsedAt: new Date(Date.now() - 120_000) })
  t.equal(await me(w, tokenAuth(script.key)), 200, 'a failing last-use write: the request still succeeds')
  t.equal((await refresh(w, first.refresh)).statusCode, 200, 'and the refresh')
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.ok(warnings.some((m) => m.includes('recording the last use of a session failed')), 'the failure is reported')

  // A session whose first last-use write failed: its next refresh writes again, not a minute later.
  const laptop = await login(w, 'jwt', '203.0.113.5', 'Laptop/1.0')
  touches.length = 0
  t.equal((await refresh(w, laptop.refresh)).statusCode, 200)
  await new Promise((resolve) => setTimeout(resolve, 20))
  failTouches = false
  t.equal((await refresh(w, laptop.refresh)).statusCode, 200)
  await new Promise((resolve) => setImmediate(resolve))
  t.same(touches, [laptop.id, laptop.id], 'the failed write is tried again at the next refresh')
  t.equal((await refresh(w, laptop.refresh)).statusCode, 200)
  await new Promise((resolve) => setImmediate(resolve))
  t.same(touches, [laptop.id, laptop.id], 'and once it went through, not again within the minute')
})

t.test('the service records the request behind a login; sessions from before the sessions table appear at their next use', async (t) => {
  const stores = await createSqliteStores(':memory:')
  const w = await buildApp({ store: stores, jwt: { rotateRefreshTokens: true } })
  t.teardown(async () => { await w.app.close(); await stores.close() })
  const { id } = await activeUser(w)
  const user = await stores.users.findUserById(id)
  if (user === null) throw new Error('no user')
  const tokens = w.app.accounts.tokens
  const pair = await tokens.issuePair(user, undefined, { requestId: 'req-1', ip: '203.0.113.9', userAgent: 'Login/1' })
  const key = await tokens.createAuthToken(user, { requestId: 'req-2', ip: '198.51.100.4', userAgent: null })
  const listed = await items(w, bearer(pair.access))
  t.match(listed.find((s) => s.id === sidOf(pair.access)), { kind: 'jwt', ip: '203.0.113.9', user_agent: 'Login/1', current: true }, 'issuePair: the login\'s IP and user agent')
  t.match(listed.find((s) => s.id === hashOf(key)), { kind: 'token', ip: '198.51.100.4', user_agent: null, current: false }, 'createAuthToken: the same')

  // As before migration 0004: sessions without a record.
  await stores.db.deleteFrom('accounts_session').execute()
  t.same(await items(w, bearer(pair.access)), [], 'not listed')
  await tokens.refresh(pair.refresh, { requestId: 'req-3', ip: '192.0.2.77', userAgent: 'Later/2' })
  await tokens.findAuthToken(key, { requestId: 'req-4', ip: '192.0.2.78', userAgent: 'Later/3' })
  await new Promise((resolve) => setTimeout(resolve, 20))
  const back = await items(w, bearer(pair.access))
  t.match(back.find((s) => s.id === sidOf(pair.access)), { kind: 'jwt', ip: '192.0.2.77', user_agent: 'Later/2' }, 'a refresh records the family, with its request')
  t.equal(Date.parse(back.find((s) => s.id === sidOf(pair.access))?.created ?? ''), Number.parseInt(sidOf(pair.access).slice(0, 12), 16), 'dated from the session\'s start (its sid)')
  t.match(back.find((s) => s.id === hashOf(key)), { kind: 'token', ip: '192.0.2.78', user_agent: 'Later/3' }, 'an opaque token\'s use records it')

  // Regression: `Authorization: Token` on a route recorded such a session without the request's IP and user agent.
  await stores.db.deleteFrom('accounts_session').execute()
  const used = await w.app.inject({ method: 'GET', url: '/auth/users/me/', headers: { authorization: `Token ${key}`, 'user-agent': 'Http/4' }, remoteAddress: '192.0.2.99' })
  t.equal(used.statusCode, 200)
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.match((await items(w, bearer(pair.access))).find((s) => s.id === hashOf(key)), { kind: 'token', ip: '192.0.2.99', user_agent: 'Http/4' },
    'an opaque token used on a route: its session recorded with that request\'s IP and user agent')

  // Deleting the user drops its session rows (ON DELETE CASCADE) with the rest of its tokens.
  await stores.users.deleteUser(id)
  const { count } = await stores.db.selectFrom('accounts_session').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow()
  t.equal(Number(count), 0, 'no session row outlives its user')
})
