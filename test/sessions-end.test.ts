/**
 * A password change ends every other session of the user, in every dialect (ASVS 3.3.3; issue 13 item 4):
 * refresh families, opaque tokens and access tokens, through a per-user cut-off every authenticator checks
 * on the user row it loads anyway. The session that made the change goes on (its tokens name it in `sid`; an
 * opaque token is its own session); a reset, which has no session, ends them all. Tokens that name no session
 * (simplejwt's from before a move from Django, drf-jwt's and sanic-jwt's from the real projects) work until
 * such a change. Each dialect accepts only its own tokens.
 *
 * Four dialects side by side on one store: djoser (the core) at /auth, dj-rest-auth at /dra (JWT) and
 * /dra-key (token keys), drf-jwt at /api, sanic-jwt at /sanic; each dialect's authenticator also guards an app
 * route (/private/<name>) and an app's own password form (/change/<name>, which hands `request.auth` to
 * `setPassword`).
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import accounts, { MemoryMailer, requireUser, type AccountsEventName, type AccountsOptions, type TokenStore, type User, type UserStore } from '../lib/index.js'
import { djRestAuthRoutes, type DjRestAuthOptions } from '../lib/dialects/dj-rest-auth/index.js'
import { drfJwtAuthenticator, drfJwtRoutes } from '../lib/dialects/drf-jwt/index.js'
import { sanicJwtAuthenticator, sanicJwtRoutes } from '../lib/dialects/sanic-jwt/index.js'
import { importDjango } from '../lib/import-django.js'
import { DjangoPasswordHasher } from '../lib/passwords/django.js'
import { createStores } from '../lib/stores/factory.js'
import { MemoryTokenStore, MemoryUserStore } from '../lib/stores/memory.js'
import { isSessionLive, newSessionId, sessionOfClaims, sessionStartOf } from '../lib/session-ids.js'
import { hashAuthToken } from '../lib/tokens.js'
import { fastHasher, linkFrom, PASSWORD, SECRET } from './helpers/app.js'
import { claims, decodeJwt, signHmac, tamperPayload } from './helpers/jwt.js'
import { PG_URL, REDIS_URL, serviceTest, testKeyPrefix, testSchema } from './helpers/services.js'

type Body = Record<string, unknown>
type Headers = Record<string, string>
type CoreOptions = Partial<Omit<AccountsOptions, 'jwt' | 'store'>> & { jwt?: Partial<AccountsOptions['jwt']> }

const NEW = 'a-brand-new-passphrase-42'
const NEWER = 'yet-another-passphrase-77'
const DRF = { allowRefresh: true }
const SANIC = { refreshTokenEnabled: true }
const SID = /^[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$/

const bearer = (token: string): Headers => ({ authorization: `Bearer ${token}` })
const tokenAuth = (key: string): Headers => ({ authorization: `Token ${key}` })
const jwtAuth = (token: string): Headers => ({ authorization: `JWT ${token}` })
const json = (res: LightMyRequestResponse): Body => JSON.parse(res.body) as Body
const nowSeconds = (): number => Math.floor(Date.now() / 1000)

// ---- the app -----------------------------------------------------------------------------------------------

interface World {
  app: FastifyInstance
  mailer: MemoryMailer
  users: UserStore
  tokens: TokenStore
  /** Every audit event since the world was built. */
  events: Array<{ event: AccountsEventName, payload: unknown }>
  get: (url: string, headers?: Headers) => Promise<LightMyRequestResponse>
  post: (url: string, payload: object, headers?: Headers) => Promise<LightMyRequestResponse>
}

interface WorldOptions {
  core?: CoreOptions
  djRestAuth?: DjRestAuthOptions
  store?: { users: UserStore, tokens: TokenStore }
}

async function buildWorld (t: Test, options: WorldOptions = {}): Promise<World> {
  const store = options.store ?? { users: new MemoryUserStore(), tokens: new MemoryTokenStore() }
  const mailer = new MemoryMailer()
  const app = Fastify({ logger: false })
  const { jwt, ...core } = options.core ?? {}
  await app.register(accounts, {
    prefix: '/auth', store, mailer, passwordHasher: fastHasher, rateLimit: false, sendActivationEmail: false, ...core, jwt: { signingKey: SECRET, ...jwt }
  })
  await app.register(djRestAuthRoutes, { prefix: '/dra', useJwt: true, jwtAuthHttpOnly: false, emailVerification: 'none', ...options.djRestAuth })
  await app.register(djRestAuthRoutes, { prefix: '/dra-key', emailVerification: 'none', ...options.djRestAuth })
  await app.register(drfJwtRoutes, { prefix: '/api', ...DRF })
  await app.register(sanicJwtRoutes, { prefix: '/sanic', ...SANIC })
  const authenticators = { core: app.authenticate, drf: drfJwtAuthenticator(app.accounts, DRF), sanic: sanicJwtAuthenticator(app.accounts, SANIC) }
  for (const [name, authenticate] of Object.entries(authenticators)) {
    app.get(`/private/${name}`, { onRequest: authenticate }, async (request) => ({ id: requireUser(request).id }))
    // An app's own password form behind this dialect's authentication: the request's session goes on.
    app.post(`/change/${name}`, { onRequest: authenticate }, async (request, reply) => {
      const b = request.body as { current_password: string, new_password: string }
      await app.accounts.users.setPassword(requireUser(request), { currentPassword: b.current_password, newPassword: b.new_password }, request.auth)
      return await reply.code(204).send()
    })
  }
  await app.ready()
  t.teardown(() => app.close())
  const events: World['events'] = []
  for (const event of ['token.revoked', 'token.reuseDetected', 'password.changed', 'password.reset'] as const) {
    app.accounts.events.on(event, (payload) => { events.push({ event, payload }) })
  }
  return {
    app,
    mailer,
    users: store.users,
    tokens: store.tokens,
    events,
    get: async (url, headers = {}) => await app.inject({ method: 'GET', url, headers }),
    post: async (url, payload, headers = {}) => await app.inject({ method: 'POST', url, payload: payload as Body, headers })
  }
}

let serial = 0

/** A new active user (through djoser's registration, activation mail off). */
async function newUser (w: World, password = PASSWORD): Promise<{ id: number, username: string, email: string }> {
  const username = `sessions${++serial}`
  const email = `${username}@example.com`
  const res = await w.post('/auth/users/', { username, email, password })
  if (res.statusCode !== 201) throw new Error(`register: ${res.body}`)
  return { id: json(res).id as number, username, email }
}

// ---- one session per dialect -------------------------------------------------------------------------------

/** One login through every dialect: six sessions. */
interface Sessions {
  simplejwt: { access: string, refresh: string }
  opaque: string
  dra: { access: string, refresh: string }
  draKey: string
  drf: string
  sanic: { access: string, refresh: string }
}
type Kind = keyof Sessions
const KINDS: Kind[] = ['simplejwt', 'opaque', 'dra', 'draKey', 'drf', 'sanic']

async function expect200 (res: Promise<LightMyRequestResponse>, what: string): Promise<Body> {
  const done = await res
  if (done.statusCode !== 200) throw new Error(`${what}: ${done.statusCode} ${done.body}`)
  return json(done)
}

async function logins (w: World, username: string, password = PASSWORD): Promise<Sessions> {
  const credentials = { username, password }
  const simplejwt = await expect200(w.post('/auth/jwt/create/', credentials), 'jwt/create')
  const opaque = await expect200(w.post('/auth/token/login/', credentials), 'token/login')
  const dra = await expect200(w.post('/dra/login/', credentials), 'dj-rest-auth login (JWT)')
  const draKey = await expect200(w.post('/dra-key/login/', credentials), 'dj-rest-auth login (key)')
  const drf = await expect200(w.post('/api/api-token-auth/', credentials), 'api-token-auth')
  const sanic = await expect200(w.post('/sanic', credentials), 'sanic-jwt login')
  return {
    simplejwt: { access: simplejwt.access as string, refresh: simplejwt.refresh as string },
    opaque: opaque.auth_token as string,
    dra: { access: dra.access as string, refresh: dra.refresh as string },
    draKey: draKey.key as string,
    drf: drf.token as string,
    sanic: { access: sanic.access_token as string, refresh: sanic.refresh_token as string }
  }
}

/** How each dialect is asked about a session: its request, its answer while live, its refusal once ended. */
interface Probe {
  kind: Kind
  name: string
  run: (w: World, s: Sessions) => Promise<LightMyRequestResponse>
  live: number
  ended: number
  shape: Body
}

const SIMPLEJWT_REVOKED = {
  detail: 'Given token not valid for any token type', code: 'token_not_valid', messages: [{ token_class: 'AccessToken', token_type: 'access', message: 'Token has been revoked' }]
}
const SANIC_REVOKED = { reasons: ['Token has been revoked.'], exception: 'Unauthorized' }

const PROBES: Probe[] = [
  { kind: 'simplejwt', name: 'djoser: the access token', run: async (w, s) => await w.get('/auth/users/me/', bearer(s.simplejwt.access)), live: 200, ended: 401, shape: SIMPLEJWT_REVOKED },
  { kind: 'simplejwt', name: 'djoser: jwt/verify/ of it', run: async (w, s) => await w.post('/auth/jwt/verify/', { token: s.simplejwt.access }), live: 200, ended: 401, shape: { code: 'token_not_valid' } },
  { kind: 'simplejwt', name: 'djoser: the refresh token', run: async (w, s) => await w.post('/auth/jwt/refresh/', { refresh: s.simplejwt.refresh }), live: 200, ended: 401, shape: { code: 'token_not_valid' } },
  { kind: 'opaque', name: 'djoser: the opaque token', run: async (w, s) => await w.get('/auth/users/me/', tokenAuth(s.opaque)), live: 200, ended: 401, shape: { detail: 'Invalid token.' } },
  { kind: 'dra', name: 'dj-rest-auth: the access token', run: async (w, s) => await w.get('/dra/user/', bearer(s.dra.access)), live: 200, ended: 401, shape: { code: 'token_not_valid' } },
  { kind: 'dra', name: 'dj-rest-auth: token/refresh/', run: async (w, s) => await w.post('/dra/token/refresh/', { refresh: s.dra.refresh }), live: 200, ended: 401, shape: { code: 'token_not_valid' } },
  { kind: 'draKey', name: 'dj-rest-auth: the token key', run: async (w, s) => await w.get('/dra-key/user/', tokenAuth(s.draKey)), live: 200, ended: 401, shape: { detail: 'Invalid token.' } },
  { kind: 'drf', name: 'drf-jwt: the authenticator', run: async (w, s) => await w.get('/private/drf', jwtAuth(s.drf)), live: 200, ended: 401, shape: { detail: 'Token is blacklisted.' } },
  { kind: 'drf', name: 'drf-jwt: api-token-verify', run: async (w, s) => await w.post('/api/api-token-verify/', { token: s.drf }), live: 200, ended: 400, shape: { non_field_errors: ['Token is blacklisted.'] } },
  { kind: 'drf', name: 'drf-jwt: api-token-refresh', run: async (w, s) => await w.post('/api/api-token-refresh/', { token: s.drf }), live: 200, ended: 400, shape: { non_field_errors: ['Token is blacklisted.'] } },
  { kind: 'sanic', name: 'sanic-jwt: /me', run: async (w, s) => await w.get('/sanic/me', bearer(s.sanic.access)), live: 200, ended: 401, shape: SANIC_REVOKED },
  { kind: 'sanic', name: 'sanic-jwt: the authenticator', run: async (w, s) => await w.get('/private/sanic', bearer(s.sanic.access)), live: 200, ended: 401, shape: SANIC_REVOKED },
  {
    kind: 'sanic',
    name: 'sanic-jwt: /refresh',
    run: async (w, s) => await w.post('/sanic/refresh', { refresh_token: s.sanic.refresh }, bearer(s.sanic.access)),
    live: 200,
    ended: 401,
    shape: SANIC_REVOKED
  }
]

type Expected = 'live' | 'ended'

/** Asks every dialect about every session of `s`: live ones answer as before, ended ones are refused in the dialect's shape. */
async function assertSessions (t: Test, w: World, s: Sessions, expected: Expected | Partial<Record<Kind, Expected>>, label: string, only: Kind[] = KINDS): Promise<void> {
  for (const probe of PROBES) {
    if (!only.includes(probe.kind)) continue
    const want = typeof expected === 'string' ? expected : expected[probe.kind]
    if (want === undefined) continue
    const res = await probe.run(w, s)
    if (want === 'live') {
      t.equal(res.statusCode, probe.live, `${label}: ${probe.name} works (${res.body})`)
    } else {
      t.equal(res.statusCode, probe.ended, `${label}: ${probe.name} is refused (${res.body})`)
      t.match(json(res), probe.shape, `${label}: ${probe.name}, in the dialect's words`)
    }
  }
}

/** Everything of `kinds` live, the rest ended. */
const only = (...kinds: Kind[]): Record<Kind, Expected> =>
  Object.fromEntries(KINDS.map((kind) => [kind, kinds.includes(kind) ? 'live' : 'ended'])) as Record<Kind, Expected>

async function change (w: World, url: string, headers: Headers, current = PASSWORD, next = NEW): Promise<LightMyRequestResponse> {
  const payload = url.startsWith('/dra') ? { new_password1: next, new_password2: next } : { current_password: current, new_password: next }
  return await w.post(url, payload, headers)
}

function revokedEvents (w: World): unknown[] {
  // The event's own fields; the request context it also carries is checked in test/audit-events.test.ts.
  return w.events.filter((e) => e.event === 'token.revoked').map((e) => {
    const { request: _request, ...fields } = e.payload as { request?: unknown }
    return fields
  })
}

// ---- the session that makes the change goes on; every other one ends --------------------------------------

t.test('a change through an app route behind djoser\'s authentication (simplejwt session): that session goes on, every other ends', async t => {
  const w = await buildWorld(t)
  const user = await newUser(w)
  const bystander = await newUser(w)
  const mine = await logins(w, user.username)
  const other = await logins(w, user.username)
  const theirs = await logins(w, bystander.username)
  const sid = decodeJwt(mine.simplejwt.access).payload.sid
  t.match(sid, SID, 'the pair names its session: a UUIDv7')
  t.equal(decodeJwt(mine.simplejwt.refresh).payload.sid, sid, 'both tokens of the pair')
  t.equal(decodeJwt(mine.simplejwt.refresh).payload.jti, sid, 'the session is the rotation family: the first refresh token\'s jti')

  const res = await change(w, '/change/core', bearer(mine.simplejwt.access))
  t.equal(res.statusCode, 204, res.body)
  t.match(await w.users.findUserById(user.id), { keptSession: sid, sessionsValidAfter: Date }, 'the cut-off and the kept session are on the user row')

  await assertSessions(t, w, mine, only('simplejwt'), 'the changing login')
  await assertSessions(t, w, other, 'ended', 'another login')
  await assertSessions(t, w, theirs, 'live', 'another user')
  // The kept session refreshes into tokens of the same session, which work.
  const refreshed = await expect200(w.post('/auth/jwt/refresh/', { refresh: mine.simplejwt.refresh }), 'refresh')
  t.equal(decodeJwt(refreshed.access as string).payload.sid, sid, 'a refreshed access token carries the session')
  t.equal((await w.get('/auth/users/me/', bearer(refreshed.access as string))).statusCode, 200)
  await assertSessions(t, w, await logins(w, user.username, NEW), 'live', 'a login after the change')
  t.same(revokedEvents(w), [{ userId: user.id, reason: 'password-change' }], 'token.revoked once, with its reason')
})

t.test('djoser\'s users/set_password/ keeps the session that made the change', async t => {
  const w = await buildWorld(t)
  const user = await newUser(w)
  const mine = await logins(w, user.username)
  const other = await logins(w, user.username)
  t.equal((await change(w, '/auth/users/set_password/', bearer(mine.simplejwt.access))).statusCode, 204)
  await assertSessions(t, w, mine, only('simplejwt'), 'the changing login', ['simplejwt'])
  await assertSessions(t, w, other, 'ended', 'another login', ['simplejwt'])
})

t.test('djoser\'s users/set_password/ ends every other session (and, until it passes its session, its own too)', async t => {
  const w = await buildWorld(t)
  const user = await newUser(w)
  const mine = await logins(w, user.username)
  const other = await logins(w, user.username)
  t.equal((await change(w, '/auth/users/set_password/', bearer(mine.simplejwt.access))).statusCode, 204)
  await assertSessions(t, w, other, 'ended', 'another login')
  await assertSessions(t, w, mine, only('simplejwt'), 'the changing login', ['opaque', 'dra', 'draKey', 'drf', 'sanic'])
})

t.test('a change with an opaque token (Token <key>): that key goes on, every other session ends', async t => {
  const w = await buildWorld(t)
  const user = await newUser(w)
  const mine = await logins(w, user.username)
  const other = await logins(w, user.username)
  t.equal((await change(w, '/change/core', tokenAuth(mine.opaque))).statusCode, 204)
  t.equal((await w.users.findUserById(user.id))?.keptSession, hashAuthToken(mine.opaque), 'an opaque token is its own session: its hash, never the key')
  await assertSessions(t, w, mine, only('opaque'), 'the changing login')
  await assertSessions(t, w, other, 'ended', 'another login')
})

t.test('dj-rest-auth\'s password/change/ with a JWT: that session goes on (and refreshes), every other ends', async t => {
  const w = await buildWorld(t)
  const user = await newUser(w)
  const mine = await logins(w, user.username)
  const other = await logins(w, user.username)
  const res = await change(w, '/dra/password/change/', bearer(mine.dra.access))
  t.equal(res.statusCode, 200, res.body)
  t.same(json(res), { detail: 'New password has been saved.' })
  await assertSessions(t, w, mine, only('dra'), 'the changing login')
  await assertSessions(t, w, other, 'ended', 'another login')
  const refreshed = await expect200(w.post('/dra/token/refresh/', { refresh: mine.dra.refresh }), 'token/refresh/')
  t.equal((await w.get('/dra/user/', bearer(refreshed.access as string))).statusCode, 200, 'the refreshed access token works')
})

t.test('dj-rest-auth\'s password/change/ with a token key: that key goes on, every other session ends', async t => {
  const w = await buildWorld(t)
  const user = await newUser(w)
  const mine = await logins(w, user.username)
  const other = await logins(w, user.username)
  t.equal((await change(w, '/dra-key/password/change/', tokenAuth(mine.draKey))).statusCode, 200)
  await assertSessions(t, w, mine, only('draKey'), 'the changing login')
  await assertSessions(t, w, other, 'ended', 'another login')
})

t.test('a change behind drf-jwt\'s authentication: that token goes on and refreshes, every other session ends', async t => {
  const w = await buildWorld(t)
  const user = await newUser(w)
  const mine = await logins(w, user.username)
  const other = await logins(w, user.username)
  t.match(decodeJwt(mine.drf).payload.sid, SID, 'a drf-jwt token names its session')
  t.equal((await change(w, '/change/drf', jwtAuth(mine.drf))).statusCode, 204)
  await assertSessions(t, w, mine, only('drf'), 'the changing login')
  await assertSessions(t, w, other, 'ended', 'another login')
  const refreshed = await expect200(w.post('/api/api-token-refresh/', { token: mine.drf }), 'api-token-refresh')
  t.equal((await w.get('/private/drf', jwtAuth(refreshed.token as string))).statusCode, 200, 'the refreshed token works')
  t.equal(decodeJwt(refreshed.token as string).payload.orig_iat, decodeJwt(mine.drf).payload.orig_iat, 'orig_iat carried over, as drf-jwt does')
})

t.test('a change behind sanic-jwt\'s authentication: that access token goes on, every other session ends', async t => {
  const w = await buildWorld(t)
  const user = await newUser(w)
  const mine = await logins(w, user.username)
  const other = await logins(w, user.username)
  t.match(decodeJwt(mine.sanic.access).payload.sid, SID, 'a sanic-jwt access token names its session')
  t.equal((await change(w, '/change/sanic', bearer(mine.sanic.access))).statusCode, 204)
  await assertSessions(t, w, other, 'ended', 'another login')
  t.equal((await w.get('/sanic/me', bearer(mine.sanic.access))).statusCode, 200, 'its access token on /me')
  t.equal((await w.get('/private/sanic', bearer(mine.sanic.access))).statusCode, 200, 'and on an app route')
  await assertSessions(t, w, mine, 'ended', 'the same login\'s other dialects', ['simplejwt', 'opaque', 'dra', 'draKey', 'drf'])
})

t.test('sanic-jwt: the session that made the change also refreshes, and /verify refuses ended tokens', async t => {
  const w = await buildWorld(t)
  const user = await newUser(w)
  const mine = await logins(w, user.username)
  const other = await logins(w, user.username)
  t.equal((await change(w, '/change/sanic', bearer(mine.sanic.access))).statusCode, 204)
  await assertSessions(t, w, mine, only('sanic'), 'the changing login', ['sanic'])
  const refreshed = await expect200(w.post('/sanic/refresh', { refresh_token: mine.sanic.refresh }, bearer(mine.sanic.access)), 'refresh')
  t.equal(decodeJwt(refreshed.access_token as string).payload.sid, decodeJwt(mine.sanic.access).payload.sid, 'the same session')
  const verify = await w.get('/sanic/verify', bearer(other.sanic.access))
  t.equal(verify.statusCode, 401)
  t.match(json(verify), { valid: false, reasons: ['Token has been revoked.'], exception: 'InvalidToken' })
})

t.test('a second change from another session ends the first changing session too', async t => {
  const w = await buildWorld(t)
  const user = await newUser(w)
  const first = await logins(w, user.username)
  t.equal((await change(w, '/change/core', bearer(first.simplejwt.access))).statusCode, 204)
  const second = await logins(w, user.username, NEW)
  t.equal((await change(w, '/change/drf', jwtAuth(second.drf), NEW, NEWER)).statusCode, 204)
  await assertSessions(t, w, first, 'ended', 'the first changing login')
  await assertSessions(t, w, second, only('drf'), 'the second changing login')
})

// ---- a reset ends them all -----------------------------------------------------------------------------------

t.test('a reset (djoser) ends every session of the user, in every dialect; new logins work', async t => {
  const w = await buildWorld(t)
  const user = await newUser(w)
  const bystander = await newUser(w)
  const first = await logins(w, user.username)
  const second = await logins(w, user.username)
  const theirs = await logins(w, bystander.username)
  t.equal((await w.post('/auth/users/reset_password/', { email: user.email })).statusCode, 204)
  await w.app.accounts.users.mailsSent()
  const res = await w.post('/auth/users/reset_password_confirm/', { ...linkFrom(w.mailer, user.email), new_password: NEW })
  t.equal(res.statusCode, 204, res.body)
  t.match(await w.users.findUserById(user.id), { keptSession: null, sessionsValidAfter: Date })
  await assertSessions(t, w, first, 'ended', 'a login')
  await assertSessions(t, w, second, 'ended', 'another login')
  await assertSessions(t, w, theirs, 'live', 'another user')
  await assertSessions(t, w, await logins(w, user.username, NEW), 'live', 'a login after the reset')
  t.same(revokedEvents(w), [{ userId: user.id, reason: 'password-reset' }], 'token.revoked, reason password-reset')
})

t.test('a reset (dj-rest-auth) ends them all too', async t => {
  const w = await buildWorld(t)
  const user = await newUser(w)
  const before = await logins(w, user.username)
  t.equal((await w.post('/dra/password/reset/', { email: user.email })).statusCode, 200)
  await w.app.accounts.users.mailsSent()
  const res = await w.post('/dra/password/reset/confirm/', { ...linkFrom(w.mailer, user.email), new_password1: NEW, new_password2: NEW })
  t.equal(res.statusCode, 200, res.body)
  await assertSessions(t, w, before, 'ended', 'a login')
})

// ---- the clock: iat is whole seconds ----------------------------------------------------------------------------

t.test('the cut-off\'s own second: sessions are judged to the millisecond, tokens without a session conservatively', async t => {
  const w = await buildWorld(t)
  const user = await newUser(w)
  const row = await w.users.findUserById(user.id) as User
  const realNow = Date.now
  t.teardown(() => { Date.now = realNow })
  const second = Math.floor(realNow() / 1000) * 1000
  const at = (ms: number): void => { Date.now = () => second + ms }

  at(100)
  const early = await logins(w, user.username)
  at(500)
  const tie = await logins(w, user.username)
  await w.app.accounts.users.setPassword(row, { newPassword: NEW }, null)
  const cutoff = (await w.users.findUserById(user.id))?.sessionsValidAfter?.getTime()
  t.equal(cutoff, second + 500, 'the cut-off, to the millisecond')
  const sameMs = await logins(w, user.username, NEW)
  at(900)
  const late = await logins(w, user.username, NEW)
  Date.now = realNow

  for (const s of [early, tie, sameMs, late]) {
    t.equal(decodeJwt(s.simplejwt.access).payload.iat, second / 1000, 'every token says the cut-off\'s second in iat')
  }
  await assertSessions(t, w, early, 'ended', 'a login 400 ms before the change')
  await assertSessions(t, w, tie, 'ended', 'a login in the change\'s millisecond, before it (a tie goes to the change)')
  await assertSessions(t, w, late, 'live', 'a login 400 ms after the change, in the same second')
  await assertSessions(t, w, sameMs, 'live', 'a login in the change\'s millisecond, after it', ['simplejwt', 'dra', 'draKey', 'drf'])
  t.ok((sessionStartOf(decodeJwt(sameMs.simplejwt.access).payload.sid) ?? 0) > second + 500, 'its session starts after the cut-off, whatever the clock said')

  // Tokens without a session of ours say only their second: the cut-off's own second may precede it.
  const s = second / 1000
  const minute = s + 60
  const legacy = [
    ['simplejwt', '/auth/users/me/', bearer, (iat: number) => signHmac({ ...claims(user.id, 'access'), iat, exp: minute }, SECRET)],
    ['drf-jwt', '/private/drf', jwtAuth, (iat: number) => signHmac({ user_id: user.id, username: user.username, exp: minute, email: user.email, orig_iat: iat }, SECRET)],
    ['sanic-jwt', '/private/sanic', bearer, (iat: number) => signHmac({ user_id: user.id, exp: minute, iat }, SECRET)]
  ] as const
  for (const [dialect, url, header, token] of legacy) {
    t.equal((await w.get(url, header(token(s)))).statusCode, 401, `${dialect}: issued in the cut-off's second: refused`)
    t.equal((await w.get(url, header(token(s - 1)))).statusCode, 401, `${dialect}: the second before: refused`)
    t.equal((await w.get(url, header(token(s + 1)))).statusCode, 200, `${dialect}: the next second: accepted`)
  }
  t.equal((await w.get('/private/sanic', bearer(signHmac({ user_id: user.id, exp: minute }, SECRET)))).statusCode, 401,
    'sanic-jwt without iat (its default) names no time: refused once there is a cut-off')
})

t.test('sanic-jwt and djoser\'s token/login: a login in the change\'s very millisecond, after it, lives', async t => {
  const w = await buildWorld(t)
  const user = await newUser(w)
  const row = await w.users.findUserById(user.id) as User
  const realNow = Date.now
  t.teardown(() => { Date.now = realNow })
  Date.now = () => realNow() - (realNow() % 1000) + 500
  await w.app.accounts.users.setPassword(row, { newPassword: NEW }, null)
  const sameMs = await logins(w, user.username, NEW)
  Date.now = realNow
  await assertSessions(t, w, sameMs, 'live', 'a login in the change\'s millisecond', ['sanic', 'opaque'])
})

t.test('an opaque token the store still holds is judged by when it was created', async t => {
  const w = await buildWorld(t)
  const user = await newUser(w)
  const other = await logins(w, user.username)
  t.equal((await change(w, '/change/core', bearer(other.simplejwt.access))).statusCode, 204)
  const cutoff = (await w.users.findUserById(user.id))?.sessionsValidAfter?.getTime() ?? 0
  // Keys saved around the change (a login that raced it, a store that kept them): as a DRF key, 40 hex.
  const at = (ms: number, c: string): string => {
    const key = c.repeat(40)
    void w.tokens.saveAuthToken({ hash: hashAuthToken(key), userId: user.id, createdAt: new Date(ms) })
    return key
  }
  const before = at(cutoff - 1, 'a')
  const same = at(cutoff, 'b')
  const after = at(cutoff + 1, 'c')
  await new Promise((resolve) => setImmediate(resolve))
  for (const [key, status, what] of [[before, 401, 'created before the cut-off'], [same, 401, 'created in its millisecond'], [after, 200, 'created after it']] as const) {
    const res = await w.get('/auth/users/me/', tokenAuth(key))
    t.equal(res.statusCode, status, `${what}: ${res.body}`)
    if (status === 401) t.same(json(res), { detail: 'Invalid token.' }, 'as DRF answers a deleted key')
  }
})

// ---- drf-jwt's refresh mints nothing from an ended session --------------------------------------------------

t.test('drf-jwt: api-token-refresh and api-token-verify refuse a token of an ended session, refreshed or not', async t => {
  const w = await buildWorld(t)
  const user = await newUser(w)
  const changer = await logins(w, user.username)
  const old = await logins(w, user.username)
  const refreshedBefore = (await expect200(w.post('/api/api-token-refresh/', { token: old.drf }), 'refresh before')).token as string
  t.equal(decodeJwt(refreshedBefore).payload.orig_iat, decodeJwt(old.drf).payload.orig_iat)
  t.equal((await change(w, '/change/core', bearer(changer.simplejwt.access))).statusCode, 204)
  for (const [what, token] of [['the token of the login', old.drf], ['a token refreshed from it before the change', refreshedBefore]] as const) {
    for (const url of ['/api/api-token-refresh/', '/api/api-token-verify/']) {
      const res = await w.post(url, { token })
      t.equal(res.statusCode, 400, `${what}: ${url}`)
      t.same(json(res), { non_field_errors: ['Token is blacklisted.'] })
    }
    const res = await w.get('/private/drf', jwtAuth(token))
    t.equal(res.statusCode, 401)
    t.same(json(res), { detail: 'Token is blacklisted.' })
    t.equal(res.headers['www-authenticate'], 'JWT realm="api"')
  }
  // A hand-made token of the ended session with a later orig_iat: the session, not orig_iat, decides.
  const forgedLater = signHmac({ ...decodeJwt(old.drf).payload, orig_iat: nowSeconds() + 5 }, SECRET)
  t.equal((await w.post('/api/api-token-refresh/', { token: forgedLater })).statusCode, 400, 'a later orig_iat does not revive the session')
})

// ---- each dialect accepts only its own tokens ---------------------------------------------------------------

t.test('each dialect accepts only its own tokens, both ways', async t => {
  const w = await buildWorld(t)
  const user = await newUser(w)
  const s = await logins(w, user.username)
  const simplejwt = s.simplejwt.access
  const dra = s.dra.access
  const drf = s.drf
  const sanic = s.sanic.access

  // simplejwt (djoser, dj-rest-auth) refuses drf-jwt and sanic-jwt tokens: they have no token type.
  for (const [what, token] of [['drf-jwt', drf], ['sanic-jwt', sanic]] as const) {
    for (const url of ['/auth/users/me/', '/dra/user/', '/private/core']) {
      const res = await w.get(url, bearer(token))
      t.equal(res.statusCode, 401, `${what} token on ${url}`)
      t.match(json(res), { code: 'token_not_valid' })
    }
    t.equal((await w.post('/auth/jwt/verify/', { token })).statusCode, 401, `${what} token on jwt/verify/`)
    t.equal((await w.post('/auth/jwt/refresh/', { refresh: token })).statusCode, 401, `${what} token on jwt/refresh/`)
  }
  // drf-jwt refuses simplejwt's (a token type; no username) and sanic-jwt's (no username): "Invalid payload."
  for (const [what, token] of [['simplejwt', simplejwt], ['dj-rest-auth', dra], ['simplejwt refresh', s.simplejwt.refresh], ['sanic-jwt', sanic]] as const) {
    t.same(json(await w.get('/private/drf', jwtAuth(token))), { detail: 'Invalid payload.' }, `${what} token on drf-jwt's authenticator`)
    t.same(json(await w.post('/api/api-token-verify/', { token })), { non_field_errors: ['Invalid payload.'] }, `${what} token on api-token-verify`)
    t.same(json(await w.post('/api/api-token-refresh/', { token })), { non_field_errors: ['Invalid payload.'] }, `${what} token on api-token-refresh`)
  }
  // A simplejwt token that also carried a username would still be no drf-jwt token.
  const withUsername = signHmac({ ...decodeJwt(simplejwt).payload, username: user.username, email: user.email }, SECRET)
  t.same(json(await w.get('/private/drf', jwtAuth(withUsername))), { detail: 'Invalid payload.' }, 'a token type is never drf-jwt\'s')
  // sanic-jwt refuses simplejwt's (a token type) and drf-jwt's (a username).
  for (const [what, token] of [['simplejwt', simplejwt], ['dj-rest-auth', dra], ['drf-jwt', drf]] as const) {
    const verify = await w.get('/sanic/verify', bearer(token))
    t.equal(verify.statusCode, 401, `${what} token on sanic-jwt's /verify`)
    t.match(json(verify), { valid: false, reasons: ['Auth required.'], exception: 'InvalidToken' })
    for (const url of ['/sanic/me', '/private/sanic']) {
      const res = await w.get(url, bearer(token))
      t.equal(res.statusCode, 401, `${what} token on ${url}`)
      t.same(json(res), { reasons: ['Auth required.'], exception: 'Unauthorized' })
    }
    t.equal((await w.post('/sanic/refresh', { refresh_token: s.sanic.refresh }, bearer(token))).statusCode, 401, `${what} token as /refresh's access token`)
  }
  // And each accepts its own (control).
  t.equal((await w.get('/auth/users/me/', bearer(simplejwt))).statusCode, 200)
  t.equal((await w.get('/dra/user/', bearer(simplejwt))).statusCode, 200, 'dj-rest-auth and djoser share simplejwt\'s tokens, as in Django')
  t.equal((await w.get('/private/drf', jwtAuth(drf))).statusCode, 200)
  t.equal((await w.get('/sanic/verify', bearer(sanic))).statusCode, 200)
  t.equal((await w.get('/private/sanic', bearer(sanic))).statusCode, 200)
})

t.test('tokens from the real projects (no sid) are each accepted by their own dialect only', async t => {
  const w = await buildWorld(t)
  const user = await newUser(w)
  const exp = nowSeconds() + 300
  const drf = signHmac({ user_id: user.id, username: user.username, exp, email: user.email, orig_iat: nowSeconds() - 10 }, SECRET)
  const sanic = signHmac({ user_id: user.id, exp }, SECRET)
  const simple = signHmac(claims(user.id, 'access', { iatOffset: -10 }), SECRET)
  t.equal((await w.get('/private/drf', jwtAuth(drf))).statusCode, 200, 'drf-jwt 1.11\'s payload on drf-jwt')
  t.equal((await w.get('/private/sanic', bearer(sanic))).statusCode, 200, 'sanic-jwt 1.8\'s payload on sanic-jwt')
  t.equal((await w.get('/auth/users/me/', bearer(simple))).statusCode, 200, 'simplejwt 5.2\'s payload on djoser')
  t.equal((await w.get('/private/sanic', bearer(drf))).statusCode, 401, 'drf-jwt\'s on sanic-jwt')
  t.equal((await w.get('/private/sanic', bearer(simple))).statusCode, 401, 'simplejwt\'s on sanic-jwt')
  t.equal((await w.get('/private/drf', jwtAuth(sanic))).statusCode, 401, 'sanic-jwt\'s on drf-jwt')
  t.equal((await w.get('/private/drf', jwtAuth(simple))).statusCode, 401, 'simplejwt\'s on drf-jwt')
  t.equal((await w.get('/auth/users/me/', bearer(drf))).statusCode, 401, 'drf-jwt\'s on djoser')
  t.equal((await w.get('/auth/users/me/', bearer(sanic))).statusCode, 401, 'sanic-jwt\'s on djoser')
})

// ---- tokens issued before a move work until such a change ------------------------------------------------------

t.test('tokens issued before a move (no sid) work until a password change, in each dialect; then they end with the others', async t => {
  const w = await buildWorld(t)
  const user = await newUser(w)
  const exp = nowSeconds() + 600
  const past = nowSeconds() - 30
  const legacy = {
    simplejwt: signHmac(claims(user.id, 'access', { iatOffset: -30 }), SECRET),
    simplejwtRefresh: signHmac(claims(user.id, 'refresh', { iatOffset: -30, jti: '0123456789abcdef0123456789abcdef' }), SECRET),
    drf: signHmac({ user_id: user.id, username: user.username, exp, email: user.email, orig_iat: past }, SECRET),
    sanic: signHmac({ user_id: user.id, exp }, SECRET)
  }
  const check = async (status: number, what: string): Promise<void> => {
    t.equal((await w.get('/auth/users/me/', bearer(legacy.simplejwt))).statusCode, status, `simplejwt access ${what}`)
    t.equal((await w.get('/dra/user/', bearer(legacy.simplejwt))).statusCode, status, `simplejwt access on dj-rest-auth ${what}`)
    t.equal((await w.post('/auth/jwt/verify/', { token: legacy.simplejwt })).statusCode, status, `jwt/verify/ ${what}`)
    t.equal((await w.post('/auth/jwt/refresh/', { refresh: legacy.simplejwtRefresh })).statusCode, status, `simplejwt refresh ${what}`)
    t.equal((await w.get('/private/drf', jwtAuth(legacy.drf))).statusCode, status, `drf-jwt ${what}`)
    t.equal((await w.post('/api/api-token-refresh/', { token: legacy.drf })).statusCode, status === 200 ? 200 : 400, `api-token-refresh ${what}`)
    t.equal((await w.get('/private/sanic', bearer(legacy.sanic))).statusCode, status, `sanic-jwt ${what}`)
  }
  await check(200, 'before any change')
  // Refreshed before the change, the access token still names no session (the refresh token named none).
  const refreshed = await expect200(w.post('/auth/jwt/refresh/', { refresh: legacy.simplejwtRefresh }), 'refresh')
  t.notOk('sid' in decodeJwt(refreshed.access as string).payload)
  const changer = await logins(w, user.username)
  t.equal((await change(w, '/change/core', bearer(changer.simplejwt.access))).statusCode, 204)
  await check(401, 'after the change')
  t.equal((await w.get('/auth/users/me/', bearer(refreshed.access as string))).statusCode, 401, 'nor one refreshed from them before it')
  t.equal((await w.get('/auth/users/me/', bearer(changer.simplejwt.access))).statusCode, 200, 'the changing session goes on')
})

t.test('a session that names none (a token from before a move) ends itself too when it changes the password', async t => {
  const w = await buildWorld(t)
  const user = await newUser(w)
  const legacy = signHmac(claims(user.id, 'access', { iatOffset: -30 }), SECRET)
  t.equal((await change(w, '/change/core', bearer(legacy))).statusCode, 204)
  t.match(await w.users.findUserById(user.id), { keptSession: null })
  t.equal((await w.get('/auth/users/me/', bearer(legacy))).statusCode, 401)
})

t.test('Django\'s own tokens, imported: live until the user changes the password here; other users\' keep working', async t => {
  const FIXTURE = JSON.parse(readFileSync(new URL('./fixtures/django-tokens.json', import.meta.url), 'utf8')) as {
    secretKey: string
    users: Array<{ username: string, password: string }>
    drfTokens: Record<string, string>
    jwt: Array<{ username: string, access: string, refresh: string, blacklisted: boolean, expired: boolean }>
  }
  const store = { users: new MemoryUserStore(), tokens: new MemoryTokenStore() }
  await importDjango({ from: fileURLToPath(new URL('./fixtures/django.sqlite3', import.meta.url)), store })
  const w = await buildWorld(t, { store, core: { passwordHasher: new DjangoPasswordHasher(fastHasher), jwt: { signingKey: FIXTURE.secretKey } } })
  const live = (name: string): { access: string, refresh: string } => {
    const found = FIXTURE.jwt.find((j) => j.username === name && !j.blacklisted && !j.expired)
    if (found === undefined) throw new Error(`no live Django token of ${name}`)
    return found
  }
  const alice = live('alice')
  const carol = live('carol')
  const password = FIXTURE.users.find((u) => u.username === 'alice')?.password ?? ''
  t.equal((await w.get('/auth/users/me/', bearer(alice.access))).statusCode, 200, 'alice\'s Django access token')
  t.equal((await w.get('/auth/users/me/', tokenAuth(FIXTURE.drfTokens.alice))).statusCode, 200, 'alice\'s DRF key')

  const here = await expect200(w.post('/auth/jwt/create/', { username: 'alice', password }), 'login')
  t.equal((await change(w, '/change/core', bearer(here.access as string), password)).statusCode, 204)
  t.equal((await w.get('/auth/users/me/', bearer(alice.access))).statusCode, 401, 'her Django access token ends')
  t.equal((await w.post('/auth/jwt/refresh/', { refresh: alice.refresh })).statusCode, 401, 'and her Django refresh token')
  t.equal((await w.get('/auth/users/me/', tokenAuth(FIXTURE.drfTokens.alice))).statusCode, 401, 'and her DRF key')
  t.equal((await w.get('/auth/users/me/', bearer(here.access as string))).statusCode, 200, 'the session that changed it goes on')
  t.equal((await w.get('/auth/users/me/', bearer(carol.access))).statusCode, 200, 'carol\'s Django access token works')
  t.equal((await w.post('/auth/jwt/refresh/', { refresh: carol.refresh })).statusCode, 200, 'and her refresh token')
  t.equal((await w.get('/auth/users/me/', tokenAuth(FIXTURE.drfTokens.bob))).statusCode, 200, 'bob\'s DRF key works')
})

// ---- what does not end sessions, and what ends more -------------------------------------------------------------

t.test('a failed change ends nothing', async t => {
  const w = await buildWorld(t)
  const user = await newUser(w)
  const mine = await logins(w, user.username)
  const other = await logins(w, user.username)
  t.equal((await change(w, '/change/core', bearer(mine.simplejwt.access), 'not-my-password')).statusCode, 400, 'wrong current password')
  t.equal((await change(w, '/change/core', bearer(mine.simplejwt.access), PASSWORD, '1234')).statusCode, 400, 'weak new password')
  t.equal((await w.post('/dra/password/change/', { new_password1: NEW, new_password2: NEWER }, bearer(mine.dra.access))).statusCode, 400, 'dj-rest-auth: mismatch')
  t.equal((await w.users.findUserById(user.id))?.sessionsValidAfter, null, 'no cut-off')
  await assertSessions(t, w, mine, 'live', 'a login')
  await assertSessions(t, w, other, 'live', 'another login')
  t.same(revokedEvents(w), [])
})

t.test('a token of an ended session cannot change the password again, in any dialect', async t => {
  const w = await buildWorld(t)
  const user = await newUser(w)
  const mine = await logins(w, user.username)
  const other = await logins(w, user.username)
  t.equal((await change(w, '/change/core', bearer(mine.simplejwt.access))).statusCode, 204)
  for (const [url, headers] of [
    ['/change/core', bearer(other.simplejwt.access)], ['/change/core', tokenAuth(other.opaque)], ['/dra/password/change/', bearer(other.dra.access)],
    ['/dra-key/password/change/', tokenAuth(other.draKey)], ['/change/drf', jwtAuth(other.drf)], ['/change/sanic', bearer(other.sanic.access)],
    ['/auth/users/set_password/', bearer(other.simplejwt.access)]
  ] as const) {
    t.equal((await change(w, url, headers, NEW, NEWER)).statusCode, 401, url)
  }
  t.equal((await w.post('/auth/jwt/create/', { username: user.username, password: NEW })).statusCode, 200, 'the password is still the first change\'s')
})

t.test('revokeTokensOnPasswordChange false: a change ends no session, in any dialect (djoser\'s and dj-rest-auth\'s behaviour)', async t => {
  const w = await buildWorld(t, { core: { revokeTokensOnPasswordChange: false } })
  const user = await newUser(w)
  const mine = await logins(w, user.username)
  const other = await logins(w, user.username)
  t.equal((await change(w, '/change/core', bearer(mine.simplejwt.access))).statusCode, 204)
  t.equal((await w.users.findUserById(user.id))?.sessionsValidAfter, null, 'no cut-off written')
  await assertSessions(t, w, other, 'live', 'another login')
  await assertSessions(t, w, mine, 'live', 'the changing login')
  t.same(revokedEvents(w), [], 'nothing revoked')
})

t.test('logoutOnPasswordChange (djoser\'s LOGOUT_ON_PASSWORD_CHANGE): the changing session ends too', async t => {
  const w = await buildWorld(t, { core: { logoutOnPasswordChange: true } })
  const user = await newUser(w)
  const mine = await logins(w, user.username)
  t.equal((await change(w, '/change/core', bearer(mine.simplejwt.access))).statusCode, 204)
  t.match(await w.users.findUserById(user.id), { keptSession: null, sessionsValidAfter: Date })
  await assertSessions(t, w, mine, 'ended', 'the changing login')
})

t.test('dj-rest-auth\'s logoutOnPasswordChange (LOGOUT_ON_PASSWORD_CHANGE): the changing session ends too', async t => {
  const w = await buildWorld(t, { djRestAuth: { logoutOnPasswordChange: true } })
  const user = await newUser(w)
  const mine = await logins(w, user.username)
  t.equal((await change(w, '/dra/password/change/', bearer(mine.dra.access))).statusCode, 200)
  await assertSessions(t, w, mine, 'ended', 'the changing login')
})

t.test('with rotation: an ended family is refused without counting as reuse; the kept family rotates on', async t => {
  const w = await buildWorld(t, { core: { jwt: { rotateRefreshTokens: true, refreshReuseInterval: 0 } } })
  const user = await newUser(w)
  const mine = await expect200(w.post('/auth/jwt/create/', { username: user.username, password: PASSWORD }), 'login')
  const other = await expect200(w.post('/auth/jwt/create/', { username: user.username, password: PASSWORD }), 'login')
  const rotated = await expect200(w.post('/auth/jwt/refresh/', { refresh: other.refresh }), 'rotation')
  t.equal(decodeJwt(rotated.refresh as string).payload.sid, decodeJwt(other.refresh as string).payload.sid, 'a rotated token stays in its session')
  t.equal((await change(w, '/change/core', bearer(mine.access as string))).statusCode, 204)
  for (const token of [rotated.refresh, other.refresh] as string[]) {
    const res = await w.post('/auth/jwt/refresh/', { refresh: token })
    t.equal(res.statusCode, 401)
    t.match(json(res), { code: 'token_not_valid' })
  }
  t.same(w.events.filter((e) => e.event === 'token.reuseDetected'), [], 'an ended session\'s token is no reuse')
  let refresh = mine.refresh as string
  for (let i = 0; i < 3; i++) {
    const next = await expect200(w.post('/auth/jwt/refresh/', { refresh }), `rotation ${i}`)
    t.equal((await w.get('/auth/users/me/', bearer(next.access as string))).statusCode, 200, `the kept family, rotation ${i + 1}`)
    refresh = next.refresh as string
  }
})

t.test('a refresh token the store does not hold (issued elsewhere with the key) is judged by its session too', async t => {
  const w = await buildWorld(t)
  const user = await newUser(w)
  const changer = await logins(w, user.username)
  // A refresh token of a session of ours the store lost (a Redis restart without persistence, say).
  const lost = signHmac({ ...claims(user.id, 'refresh', { iatOffset: -5, jti: 'ab'.repeat(16) }), sid: newSessionId(Date.now() - 5000) }, SECRET)
  t.equal((await w.post('/auth/jwt/refresh/', { refresh: lost })).statusCode, 200, 'before the change')
  t.equal((await change(w, '/change/core', bearer(changer.simplejwt.access))).statusCode, 204)
  t.equal((await w.post('/auth/jwt/refresh/', { refresh: lost })).statusCode, 401, 'after it')
})

t.test('a sid that is none of ours falls back to the token\'s second; a sid cannot be changed without the key', async t => {
  const w = await buildWorld(t)
  const user = await newUser(w)
  const changer = await logins(w, user.username)
  const s = nowSeconds()
  const odd = (iat: number): string => signHmac({ ...claims(user.id, 'access'), iat, sid: 'not-a-session-id' }, SECRET)
  t.equal((await change(w, '/change/core', bearer(changer.simplejwt.access))).statusCode, 204)
  t.equal((await w.get('/auth/users/me/', bearer(odd(s - 5)))).statusCode, 401, 'issued before the change')
  t.equal((await w.get('/auth/users/me/', bearer(odd(s + 2)))).statusCode, 200, 'issued after it')
  const other = await logins(w, user.username, NEW)
  const kept = decodeJwt(changer.simplejwt.access).payload.sid as string
  const stolen = tamperPayload(other.simplejwt.access, (payload) => ({ ...payload, sid: kept }))
  t.equal((await w.get('/auth/users/me/', bearer(stolen))).statusCode, 401, 'a payload edited to name the kept session fails its signature')
})

t.test('no extra lookup: each authenticator judges the session on the user row it loads', async t => {
  const w = await buildWorld(t)
  const user = await newUser(w)
  const s = await logins(w, user.username)
  t.equal((await change(w, '/change/core', bearer(s.simplejwt.access))).statusCode, 204)
  const other = await logins(w, user.username, NEW)
  const store = w.users
  const original = store.findUserById.bind(store)
  let lookups = 0
  store.findUserById = async (id: number) => { lookups++; return await original(id) }
  t.teardown(() => { store.findUserById = original })
  for (const [url, headers] of [
    ['/private/core', bearer(other.simplejwt.access)], ['/private/core', tokenAuth(other.opaque)], ['/dra/user/', bearer(other.dra.access)],
    ['/private/drf', jwtAuth(other.drf)], ['/private/sanic', bearer(other.sanic.access)], ['/sanic/me', bearer(other.sanic.access)]
  ] as const) {
    lookups = 0
    t.equal((await w.get(url, headers)).statusCode, 200, url)
    t.equal(lookups, 1, `${url}: one user lookup, as before`)
  }
})

// ---- the rule itself --------------------------------------------------------------------------------------------

t.test('the rule: no cut-off, the kept session, or a session that started after the cut-off', async t => {
  const cutoff = new Date(1_800_000_000_500)
  const user = { sessionsValidAfter: cutoff, keptSession: 'kept' }
  t.ok(isSessionLive({ sessionsValidAfter: null, keptSession: null }, { id: null, startedAt: null }), 'no cut-off: everything lives')
  t.ok(isSessionLive({}, { id: null, startedAt: null }), 'a row from a store without the columns: no cut-off')
  t.ok(isSessionLive(user, { id: 'kept', startedAt: 0 }), 'the kept session, however old')
  t.notOk(isSessionLive(user, { id: 'other', startedAt: cutoff.getTime() }), 'started in the cut-off\'s millisecond: ended')
  t.ok(isSessionLive(user, { id: 'other', startedAt: cutoff.getTime() + 1 }), 'one millisecond later: live')
  t.notOk(isSessionLive(user, { id: null, startedAt: null }), 'no time at all: ended')
  t.notOk(isSessionLive({ sessionsValidAfter: cutoff, keptSession: null }, { id: null, startedAt: null }), 'a null kept session spares no unnamed one')

  const sid = newSessionId(1_800_000_000_501)
  t.match(sid, SID)
  t.equal(sessionStartOf(sid), 1_800_000_000_501, 'a sid carries its start to the millisecond')
  t.equal(sessionStartOf('0'.repeat(32)), null, 'a hex string that is no UUIDv7 carries nothing')
  t.not(newSessionId(1), newSessionId(1), 'two sessions of one millisecond differ')
  t.same(sessionOfClaims({ sid, iat: 1 }), { id: sid, startedAt: 1_800_000_000_501 }, 'the sid wins over iat')
  t.same(sessionOfClaims({ iat: 1_800_000_000 }), { id: null, startedAt: 1_800_000_000_000 }, 'else iat, at its first millisecond')
  t.same(sessionOfClaims({ orig_iat: 1_700_000_000, iat: 1_800_000_000 }), { id: null, startedAt: 1_700_000_000_000 }, 'orig_iat (drf-jwt\'s login time) first')
  t.same(sessionOfClaims({ iat: 'soon' }), { id: null, startedAt: null })
})

// ---- on the persistent stores ---------------------------------------------------------------------------------

async function onStores (t: Test, store: { users: UserStore, tokens: TokenStore }): Promise<void> {
  const w = await buildWorld(t, { store })
  const user = await newUser(w)
  const mine = await logins(w, user.username)
  const other = await logins(w, user.username)
  t.equal((await change(w, '/change/drf', jwtAuth(mine.drf))).statusCode, 204)
  await assertSessions(t, w, other, 'ended', 'another login')
  await assertSessions(t, w, mine, only('drf'), 'the changing login')
  const opaque = await logins(w, user.username, NEW)
  t.equal((await change(w, '/change/core', tokenAuth(opaque.opaque), NEW, NEWER)).statusCode, 204)
  await assertSessions(t, w, opaque, only('opaque'), 'a login that changed it with its key')
  await assertSessions(t, w, mine, 'ended', 'the first changing login, after a second change')
}

t.test('on SQLite', async t => {
  const stores = await createStores({ databaseUrl: 'sqlite::memory:' })
  t.teardown(stores.close)
  await onStores(t, stores)
})

await serviceTest(t, 'on PostgreSQL and Redis', ['postgres', 'redis'], async (t) => {
  const stores = await createStores({ databaseUrl: PG_URL, postgres: { schema: testSchema(t) }, redisUrl: REDIS_URL, redis: { keyPrefix: testKeyPrefix(t) } })
  t.teardown(stores.close)
  await onStores(t, stores)
})
