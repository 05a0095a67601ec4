import t from 'tap'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import accounts, { MemoryMailer } from '../lib/index.js'
import { djRestAuthAuthenticator, djRestAuthCoreDefaults, djRestAuthRoutes, resolveDjRestAuthOptions, type DjRestAuthOptions } from '../lib/dialects/dj-rest-auth/index.js'
import { drfJwtAuthenticator, drfJwtRoutes, type DrfJwtOptions } from '../lib/dialects/drf-jwt/index.js'
import { sanicJwtAuthenticator, sanicJwtRoutes, type SanicJwtOptions } from '../lib/dialects/sanic-jwt/index.js'
import { MemoryTokenStore, MemoryUserStore } from '../lib/stores/memory.js'
import { fastHasher, json, PASSWORD, SECRET } from './helpers/app.js'
import { cookie } from './helpers/dj-rest-auth.js'

/*
 * Issue 13 item 1 (ASVS 13.2.3): wherever a dialect reads credentials from a cookie, an unsafe request from a
 * foreign Origin (or, without one, Sec-Fetch-Site: cross-site) is 403 in the dialect's shape and changes
 * nothing; the site's own origin and trustedOrigins pass; safe methods pass; header credentials are untouched.
 */

const OWN = 'https://app.example.com'
const TRUSTED = 'https://front.example.com'
const EVIL = 'https://evil.example'
const NEW_PASSWORD = 'another-horse-battery-staple-2'
const form = { 'content-type': 'application/x-www-form-urlencoded' }
const cookieHeader = (pairs: Record<string, string>): Record<string, string> => ({ cookie: Object.entries(pairs).map(([k, v]) => `${k}=${v}`).join('; ') })
const CSRF_DETAIL = `CSRF Failed: Origin checking failed - ${EVIL} does not match any trusted origins.`

interface Built { app: FastifyInstance, users: MemoryUserStore }

async function core (app: FastifyInstance, extra: Record<string, unknown> = {}): Promise<MemoryUserStore> {
  const users = new MemoryUserStore()
  await app.register(accounts, {
    prefix: '/djoser',
    store: { users, tokens: new MemoryTokenStore() },
    mailer: new MemoryMailer(),
    passwordHasher: fastHasher,
    rateLimit: false,
    sendActivationEmail: false,
    protocol: 'https',
    domain: 'app.example.com',
    trustedOrigins: [TRUSTED],
    ...extra,
    jwt: { signingKey: SECRET }
  })
  return users
}

async function register (app: FastifyInstance, username: string): Promise<void> {
  const res = await app.inject({ method: 'POST', url: '/djoser/users/', payload: { username, email: `${username}@example.com`, password: PASSWORD } })
  if (res.statusCode !== 201) throw new Error(`register failed: ${res.body}`)
}

async function passwordIs (users: MemoryUserStore, username: string, password: string): Promise<boolean> {
  const user = await users.findUserByUsername(username)
  if (user === null) throw new Error('no user')
  return await fastHasher.verify(user.password, password)
}

// ---- dj-rest-auth -------------------------------------------------------------------------------------------

const DJ: DjRestAuthOptions = { useJwt: true, jwtAuthCookie: 'my-app-auth', jwtAuthRefreshCookie: 'my-refresh-token', emailVerification: 'none' }

async function djApp (): Promise<Built> {
  const app = Fastify({ logger: false })
  const users = await core(app, djRestAuthCoreDefaults(resolveDjRestAuthOptions(DJ)))
  await app.register(djRestAuthRoutes, { prefix: '/dj', ...DJ })
  app.post('/host', { onRequest: djRestAuthAuthenticator(app.accounts, DJ) }, async (request) => ({ user: request.user?.username }))
  await app.ready()
  await register(app, 'alice')
  return { app, users }
}

async function djLogin (app: FastifyInstance): Promise<{ access: string, refresh: string }> {
  const res = await app.inject({ method: 'POST', url: '/dj/login/', payload: { username: 'alice', password: PASSWORD } })
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.body}`)
  return { access: cookie(res, 'my-app-auth')?.value ?? '', refresh: cookie(res, 'my-refresh-token')?.value ?? '' }
}

t.test('dj-rest-auth, JWT cookies', async t => {
  const { app, users } = await djApp()
  t.teardown(async () => { await app.close() })
  const { access, refresh } = await djLogin(app)
  const accessCookie = cookieHeader({ 'my-app-auth': access })
  const change = async (headers: Record<string, string>): Promise<LightMyRequestResponse> => await app.inject({
    method: 'POST', url: '/dj/password/change/', headers: { ...form, ...headers }, payload: `new_password1=${NEW_PASSWORD}&new_password2=${NEW_PASSWORD}`
  })

  t.test('the regression: a form-encoded password/change/ with the cookie and a foreign Origin is 403, password unchanged', async t => {
    const res = await change({ ...accessCookie, origin: EVIL })
    t.equal(res.statusCode, 403)
    t.same(json(res), { detail: CSRF_DETAIL })
    t.notOk(res.headers['www-authenticate'])
    t.ok(await passwordIs(users, 'alice', PASSWORD), 'password unchanged')
  })

  t.test('Sec-Fetch-Site: cross-site without Origin is 403', async t => {
    const res = await change({ ...accessCookie, 'sec-fetch-site': 'cross-site' })
    t.equal(res.statusCode, 403)
    t.match(json(res), { detail: /^CSRF Failed/ })
    t.ok(await passwordIs(users, 'alice', PASSWORD), 'password unchanged')
  })

  t.test('PATCH user/ with a foreign Origin is 403, nothing changed', async t => {
    const res = await app.inject({ method: 'PATCH', url: '/dj/user/', headers: { ...accessCookie, origin: EVIL }, payload: { first_name: 'Mallory' } })
    t.equal(res.statusCode, 403)
    t.same(json(res), { detail: CSRF_DETAIL })
    t.equal((await users.findUserByUsername('alice'))?.firstName ?? '', '')
  })

  t.test('a host POST route behind djRestAuthAuthenticator: foreign 403, own passes', async t => {
    const bad = await app.inject({ method: 'POST', url: '/host', headers: { ...accessCookie, origin: EVIL } })
    t.equal(bad.statusCode, 403)
    t.same(json(bad), { detail: CSRF_DETAIL })
    const good = await app.inject({ method: 'POST', url: '/host', headers: { ...accessCookie, origin: OWN } })
    t.equal(good.statusCode, 200)
    t.same(json(good), { user: 'alice' })
  })

  t.test('GET user/ with a foreign Origin passes (safe method)', async t => {
    const res = await app.inject({ method: 'GET', url: '/dj/user/', headers: { ...accessCookie, origin: EVIL } })
    t.equal(res.statusCode, 200)
  })

  t.test('token/refresh/ from the refresh cookie: foreign 403, trusted passes; from the body: foreign passes', async t => {
    const refreshCookie = cookieHeader({ 'my-refresh-token': refresh })
    const bad = await app.inject({ method: 'POST', url: '/dj/token/refresh/', headers: { ...refreshCookie, origin: EVIL }, payload: {} })
    t.equal(bad.statusCode, 403)
    t.same(json(bad), { detail: CSRF_DETAIL })
    t.notOk(bad.headers['set-cookie'], 'no new cookie')
    const good = await app.inject({ method: 'POST', url: '/dj/token/refresh/', headers: { ...refreshCookie, origin: TRUSTED }, payload: {} })
    t.equal(good.statusCode, 200)
    const posted = await app.inject({ method: 'POST', url: '/dj/token/refresh/', headers: { origin: EVIL }, payload: { refresh } })
    t.equal(posted.statusCode, 200)
  })

  t.test('logout/ with the cookies and a foreign Origin is 403 and ends nothing', async t => {
    const pair = await djLogin(app)
    const both = cookieHeader({ 'my-app-auth': pair.access, 'my-refresh-token': pair.refresh })
    const bad = await app.inject({ method: 'POST', url: '/dj/logout/', headers: { ...both, origin: EVIL }, payload: {} })
    t.equal(bad.statusCode, 403)
    t.same(json(bad), { detail: CSRF_DETAIL })
    t.notOk(bad.headers['set-cookie'], 'cookies not cleared')
    const onlyRefresh = await app.inject({ method: 'POST', url: '/dj/logout/', headers: { ...cookieHeader({ 'my-refresh-token': pair.refresh }), origin: EVIL }, payload: {} })
    t.equal(onlyRefresh.statusCode, 403)
    const still = await app.inject({ method: 'POST', url: '/dj/token/refresh/', headers: { origin: OWN }, payload: { refresh: pair.refresh } })
    t.equal(still.statusCode, 200, 'the refresh token was not blacklisted')
    const good = await app.inject({ method: 'POST', url: '/dj/logout/', headers: { ...both, origin: OWN }, payload: {} })
    t.equal(good.statusCode, 200)
  })

  t.test('the site\'s own Origin changes the password; a trusted origin too; the Authorization header with a foreign Origin too', async t => {
    const own = await change({ ...accessCookie, origin: OWN })
    t.equal(own.statusCode, 200, own.body)
    t.ok(await passwordIs(users, 'alice', NEW_PASSWORD))
    const { access: fresh } = await app.inject({ method: 'POST', url: '/dj/login/', payload: { username: 'alice', password: NEW_PASSWORD } })
      .then((res) => ({ access: cookie(res, 'my-app-auth')?.value ?? '' }))
    const trusted = await app.inject({
      method: 'POST', url: '/dj/password/change/', headers: { ...form, ...cookieHeader({ 'my-app-auth': fresh }), origin: TRUSTED },
      payload: `new_password1=${PASSWORD}&new_password2=${PASSWORD}`
    })
    t.equal(trusted.statusCode, 200, trusted.body)
    t.ok(await passwordIs(users, 'alice', PASSWORD))
    const login = await app.inject({ method: 'POST', url: '/dj/login/', payload: { username: 'alice', password: PASSWORD } })
    const header = await app.inject({
      method: 'PATCH', url: '/dj/user/', headers: { authorization: `Bearer ${(json(login) as { access: string }).access}`, origin: EVIL }, payload: { first_name: 'Alice' }
    })
    t.equal(header.statusCode, 200, header.body)
    t.equal((await users.findUserByUsername('alice'))?.firstName, 'Alice')
  })
})

t.test("dj-rest-auth jwtAuthSecure: 'auto' by default", async t => {
  for (const [protocol, secure] of [['https', true], ['http', false]] as const) {
    const app = Fastify({ logger: false })
    await core(app, { ...djRestAuthCoreDefaults(resolveDjRestAuthOptions(DJ)), protocol })
    await app.register(djRestAuthRoutes, { prefix: '/dj', ...DJ })
    await app.ready()
    t.teardown(async () => { await app.close() })
    await register(app, 'alice')
    const res = await app.inject({ method: 'POST', url: '/dj/login/', payload: { username: 'alice', password: PASSWORD } })
    t.equal(res.statusCode, 200)
    t.equal(cookie(res, 'my-app-auth')?.attributes.secure === true, secure, `access cookie Secure with ${protocol}`)
    t.equal(cookie(res, 'my-refresh-token')?.attributes.secure === true, secure, `refresh cookie Secure with ${protocol}`)
  }
  t.same(resolveDjRestAuthOptions({}).jwtAuthSecure, 'auto')
  t.throws(() => resolveDjRestAuthOptions({ useJwt: true, jwtAuthSameSite: 'None' }), /needs jwtAuthSecure: true/)
  t.throws(() => resolveDjRestAuthOptions({ useJwt: true, jwtAuthSameSite: 'None', jwtAuthSecure: 'auto' }), /needs jwtAuthSecure: true/)
  t.doesNotThrow(() => resolveDjRestAuthOptions({ useJwt: true, jwtAuthSameSite: 'None', jwtAuthSecure: true }))
  // An explicit false stays false behind https.
  const app = Fastify({ logger: false })
  await core(app, djRestAuthCoreDefaults(resolveDjRestAuthOptions(DJ)))
  await app.register(djRestAuthRoutes, { prefix: '/dj', ...DJ, jwtAuthSecure: false })
  await app.ready()
  t.teardown(async () => { await app.close() })
  await register(app, 'alice')
  const res = await app.inject({ method: 'POST', url: '/dj/login/', payload: { username: 'alice', password: PASSWORD } })
  t.notOk(cookie(res, 'my-app-auth')?.attributes.secure)
})

// ---- drf-jwt ------------------------------------------------------------------------------------------------

const DRF: DrfJwtOptions = { authCookie: 'jwt' }

t.test('drf-jwt, authCookie', async t => {
  const app = Fastify({ logger: false })
  await core(app)
  await app.register(drfJwtRoutes, { prefix: '/api', ...DRF })
  let changes = 0
  app.post('/host', { onRequest: drfJwtAuthenticator(app.accounts, DRF) }, async (request) => { changes++; return { user: request.user?.username } })
  app.get('/host', { onRequest: drfJwtAuthenticator(app.accounts, DRF) }, async (request) => ({ user: request.user?.username }))
  await app.ready()
  t.teardown(async () => { await app.close() })
  await register(app, 'bob')
  const login = await app.inject({ method: 'POST', url: '/api/api-token-auth/', payload: { username: 'bob', password: PASSWORD } })
  t.equal(login.statusCode, 200)
  const token = (json(login) as { token: string }).token
  const jar = cookieHeader({ jwt: token })
  const post = async (headers: Record<string, string>): Promise<LightMyRequestResponse> => await app.inject({ method: 'POST', url: '/host', headers })

  const bad = await post({ ...jar, origin: EVIL })
  t.equal(bad.statusCode, 403)
  t.same(json(bad), { detail: CSRF_DETAIL })
  t.notOk(bad.headers['www-authenticate'])
  const fetchSite = await post({ ...jar, 'sec-fetch-site': 'cross-site' })
  t.equal(fetchSite.statusCode, 403)
  t.match(json(fetchSite), { detail: /^CSRF Failed/ })
  t.equal(changes, 0, 'the handler never ran')

  t.equal((await post({ ...jar, origin: OWN })).statusCode, 200)
  t.equal((await post({ ...jar, origin: TRUSTED })).statusCode, 200)
  t.equal((await post({ ...jar, 'sec-fetch-site': 'same-origin' })).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: '/host', headers: { ...jar, origin: EVIL } })).statusCode, 200, 'GET passes')
  const header = await post({ authorization: `JWT ${token}`, origin: EVIL })
  t.equal(header.statusCode, 200, 'the Authorization header is not CSRF-able')
  t.same(json(header), { user: 'bob' })
  const posted = await app.inject({ method: 'POST', url: '/api/api-token-verify/', headers: { origin: EVIL }, payload: { token } })
  t.equal(posted.statusCode, 200, 'api-token-verify takes the body token, not a cookie')
})

// ---- sanic-jwt ----------------------------------------------------------------------------------------------

// cookieStrict off: the header is accepted too when no cookie is sent (sanic-jwt's fallback).
const SANIC: SanicJwtOptions = { cookieSet: true, cookieStrict: false, refreshTokenEnabled: true }

t.test('sanic-jwt, cookieSet', async t => {
  const app = Fastify({ logger: false })
  await core(app)
  await app.register(sanicJwtRoutes, { prefix: '/auth', ...SANIC })
  let changes = 0
  app.post('/host', { onRequest: sanicJwtAuthenticator(app.accounts, SANIC) }, async (request) => { changes++; return { user: request.user?.username } })
  app.get('/host', { onRequest: sanicJwtAuthenticator(app.accounts, SANIC) }, async (request) => ({ user: request.user?.username }))
  await app.ready()
  t.teardown(async () => { await app.close() })
  await register(app, 'carol')
  const login = await app.inject({ method: 'POST', url: '/auth', payload: { username: 'carol', password: PASSWORD } })
  t.equal(login.statusCode, 200, login.body)
  const { access_token: access, refresh_token: refresh } = json(login) as { access_token: string, refresh_token: string }
  const jar = cookieHeader({ access_token: access, refresh_token: refresh })
  const post = async (headers: Record<string, string>): Promise<LightMyRequestResponse> => await app.inject({ method: 'POST', url: '/host', headers })
  const forbidden = { reasons: [CSRF_DETAIL], exception: 'Forbidden' }

  const bad = await post({ ...jar, origin: EVIL })
  t.equal(bad.statusCode, 403)
  t.same(json(bad), forbidden)
  const fetchSite = await post({ ...jar, 'sec-fetch-site': 'cross-site' })
  t.equal(fetchSite.statusCode, 403)
  t.match(json(fetchSite), { exception: 'Forbidden', reasons: [/^CSRF Failed/] })
  t.equal(changes, 0, 'the handler never ran')
  t.equal((await post({ ...jar, origin: OWN })).statusCode, 200)
  t.equal((await post({ ...jar, origin: TRUSTED })).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: '/host', headers: { ...jar, origin: EVIL } })).statusCode, 200, 'GET passes')
  const header = await post({ authorization: `Bearer ${access}`, origin: EVIL })
  t.equal(header.statusCode, 200, 'the Authorization header is not CSRF-able')

  const badRefresh = await app.inject({ method: 'POST', url: '/auth/refresh', headers: { ...jar, origin: EVIL }, payload: {} })
  t.equal(badRefresh.statusCode, 403)
  t.same(json(badRefresh), forbidden)
  t.notOk(badRefresh.headers['set-cookie'], 'no new cookie')
  // The refresh cookie alone (the access token in the header) is checked too.
  const refreshCookieOnly = await app.inject({
    method: 'POST', url: '/auth/refresh', headers: { ...cookieHeader({ refresh_token: refresh }), authorization: `Bearer ${access}`, origin: EVIL }, payload: {}
  })
  t.equal(refreshCookieOnly.statusCode, 403)
  t.same(json(refreshCookieOnly), forbidden)
  const goodRefresh = await app.inject({ method: 'POST', url: '/auth/refresh', headers: { ...jar, origin: OWN }, payload: {} })
  t.equal(goodRefresh.statusCode, 200, goodRefresh.body)
})
