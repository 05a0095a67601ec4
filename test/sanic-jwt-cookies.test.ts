import Fastify, { type LightMyRequestResponse } from 'fastify'
import { fastifyCookie } from '@fastify/cookie'
import t, { type Test } from 'tap'
import accounts from '../lib/index.js'
import { sanicJwtAuthenticator, sanicJwtRoutes } from '../lib/dialects/sanic-jwt/index.js'
import { MemoryTokenStore, MemoryUserStore } from '../lib/stores/memory.js'
import { fastHasher, json } from './helpers/app.js'
import { decodeJwt } from './helpers/jwt.js'
import {
  bearer, buildSanicApp, cookieOf, createUser, get, loggedIn, login, PASSWORD, refresh, sanicToken, SECRET, type SanicError
} from './helpers/sanic-jwt.js'

type Body = Record<string, unknown>

function assertError (t: Test, res: LightMyRequestResponse, status: number, exception: string, reason: string): void {
  t.equal(res.statusCode, status, `status ${status} (${res.body})`)
  const body = json(res) as SanicError
  t.equal(body.exception, exception)
  t.ok(body.reasons.includes(reason), `reasons include "${reason}"`)
}

t.test('cookieSet: login sets the cookies and still answers the tokens in the body', async t => {
  const a = await buildSanicApp({ cookieSet: true, refreshTokenEnabled: true })
  t.teardown(() => a.app.close())
  const user = await loggedIn(a)
  const body = json(user.res) as Body
  t.same(Object.keys(body).sort(), ['access_token', 'refresh_token'])
  const access = cookieOf(user.res, 'access_token')
  const refreshCookie = cookieOf(user.res, 'refresh_token')
  t.equal(access?.value, body.access_token, 'the access token cookie')
  t.equal(refreshCookie?.value, body.refresh_token, 'the refresh token cookie')
  for (const cookie of [access, refreshCookie]) {
    t.equal(cookie?.httpOnly, true, 'HttpOnly (cookie_httponly)')
    t.equal(cookie?.path, '/', 'Path=/')
    t.notOk(cookie?.domain, 'no Domain (cookie_domain "")')
    t.notOk(cookie?.secure, 'not Secure by default (cookie_secure)')
    t.notOk(cookie?.maxAge, 'a session cookie')
  }
})

t.test('cookieSet + cookieStrict (the default): the cookie authenticates, the header alone does not', async t => {
  const a = await buildSanicApp({ cookieSet: true })
  t.teardown(() => a.app.close())
  const user = await loggedIn(a)
  const cookies = { access_token: user.access }
  t.equal(cookieOf(user.res, 'refresh_token'), undefined, 'no refresh cookie with refresh tokens off')

  const me = await get(a, '/auth/me', {}, cookies)
  t.equal(me.statusCode, 200)
  t.same(json(me), { me: { user_id: user.id, username: user.username, email: `${user.username}@example.com` } })
  t.same(json(await get(a, '/auth/verify', {}, cookies)), { valid: true })
  t.equal((await get(a, '/private', {}, cookies)).statusCode, 200, 'the authenticator reads the cookie too (the app has no @fastify/cookie)')

  assertError(t, await get(a, '/auth/me', bearer(user.access)), 401, 'Unauthorized', 'Authorization cookie not present.')
  assertError(t, await get(a, '/auth/verify', bearer(user.access)), 401, 'MissingAuthorizationCookie', 'Authorization cookie not present.')
  assertError(t, await get(a, '/auth/verify', {}, { access_token: '' }), 401, 'MissingAuthorizationCookie', 'Authorization cookie not present.')
  assertError(t, await get(a, '/private', bearer(user.access)), 401, 'Unauthorized', 'Authorization cookie not present.')

  const expired = await get(a, '/auth/verify', {}, { access_token: sanicToken(user.id, -600) })
  t.equal(expired.statusCode, 401)
  t.same(json(expired), { valid: false, reason: 'Signature has expired.', reasons: ['Signature has expired.'], exception: 'InvalidToken' })
})

t.test('cookieStrict false: the cookie first, the header as fallback', async t => {
  const a = await buildSanicApp({ cookieSet: true, cookieStrict: false, refreshTokenEnabled: true })
  t.teardown(() => a.app.close())
  const user = await loggedIn(a)
  t.equal((await get(a, '/auth/me', bearer(user.access))).statusCode, 200)
  t.equal((await get(a, '/private', bearer(user.access))).statusCode, 200)
  t.equal((await get(a, '/auth/me', {}, { access_token: user.access })).statusCode, 200)
  assertError(t, await get(a, '/auth/me'), 401, 'Unauthorized', 'Authorization header not present.')
  const res = await refresh(a, { refresh_token: user.refresh }, bearer(user.access))
  t.equal(res.statusCode, 200, 'refresh with the header and the body, as without cookies')
})

t.test('refresh with cookies: both tokens from cookies; the new access token is set as a cookie', async t => {
  const a = await buildSanicApp({ cookieSet: true, refreshTokenEnabled: true })
  t.teardown(() => a.app.close())
  const user = await loggedIn(a)
  const expired = sanicToken(user.id, -3600)
  const res = await refresh(a, undefined, {}, { access_token: expired, refresh_token: user.refresh! })
  t.equal(res.statusCode, 200)
  const body = json(res) as Body
  t.same(Object.keys(body), ['access_token'])
  t.equal(cookieOf(res, 'access_token')?.value, body.access_token)
  t.equal(cookieOf(res, 'refresh_token'), undefined, 'the refresh token is not sent again')

  assertError(t, await refresh(a, undefined, {}, { access_token: user.access }), 400, 'MissingAuthorizationCookie', 'Authorization cookie not present.')
  assertError(t, await refresh(a, { refresh_token: user.refresh }, bearer(user.access)), 401, 'Unauthorized', 'Authorization cookie not present.')
  assertError(t, await refresh(a, undefined, {}, { access_token: user.access, refresh_token: 'f'.repeat(48) }), 401, 'AuthenticationFailed', 'Authentication failed.')
})

t.test('renamed cookies and their attributes', async t => {
  const a = await buildSanicApp({
    cookieSet: true,
    refreshTokenEnabled: true,
    accessTokenName: 'jwt_access_token',
    refreshTokenName: 'jwt_refresh_token',
    cookieAccessTokenName: 'jwt_access_token',
    cookieRefreshTokenName: 'jwt_refresh_token',
    cookieDomain: 'example.com',
    cookiePath: '/api',
    cookieSecure: true,
    cookieSamesite: 'Strict',
    cookieMaxAge: 3600,
    cookieHttponly: false
  })
  t.teardown(() => a.app.close())
  const user = await loggedIn(a, { access: 'jwt_access_token', refresh: 'jwt_refresh_token' })
  const access = cookieOf(user.res, 'jwt_access_token')
  t.equal(access?.value, user.access)
  t.match(access, { domain: 'example.com', path: '/api', secure: true, sameSite: 'Strict', maxAge: 3600 })
  t.notOk(access?.httpOnly, 'cookie_httponly off')
  t.equal(cookieOf(user.res, 'jwt_refresh_token')?.value, user.refresh)
  t.equal((await get(a, '/auth/me', {}, { jwt_access_token: user.access })).statusCode, 200)
  const res = await refresh(a, undefined, {}, { jwt_access_token: user.access, jwt_refresh_token: user.refresh! })
  t.equal(res.statusCode, 200)
  t.same(Object.keys(json(res) as Body), ['jwt_access_token'])
})

t.test('cookieSplit: header.payload readable by scripts, the signature HttpOnly; both together authenticate', async t => {
  const a = await buildSanicApp({ cookieSet: true, cookieSplit: true })
  t.teardown(() => a.app.close())
  const user = await loggedIn(a)
  const part = cookieOf(user.res, 'access_token')
  const signature = cookieOf(user.res, 'access_token_signature')
  t.equal(part?.value.split('.').length, 2, 'header.payload')
  t.notOk(part?.httpOnly, 'not HttpOnly')
  t.equal(signature?.httpOnly, true, 'the signature is HttpOnly')
  t.equal(`${part?.value}.${signature?.value}`, user.access)
  t.equal(decodeJwt(`${part!.value}.${signature!.value}`).payload.user_id, user.id)
  const cookies = { access_token: part!.value, access_token_signature: signature!.value }
  t.same(json(await get(a, '/auth/verify', {}, cookies)), { valid: true })
  t.equal((await get(a, '/private', {}, cookies)).statusCode, 200)
  const half = await get(a, '/auth/verify', {}, { access_token: part!.value })
  t.same(json(half), { valid: false, reason: 'Auth required.', reasons: ['Auth required.'], exception: 'InvalidToken' })
})

t.test('a host that registered @fastify/cookie itself: the scope reuses it', async t => {
  const app = Fastify({ logger: false })
  await app.register(fastifyCookie)
  await app.register(accounts, { prefix: '/djoser', store: { users: new MemoryUserStore(), tokens: new MemoryTokenStore() }, passwordHasher: fastHasher, sendActivationEmail: false, jwt: { signingKey: SECRET } })
  await app.register(sanicJwtRoutes, { prefix: '/auth', cookieSet: true })
  app.get('/private', { onRequest: sanicJwtAuthenticator(app.accounts, { cookieSet: true }) }, async (request) => ({ id: request.user?.id }))
  await app.ready()
  t.teardown(() => app.close())
  const a = { app, mailer: undefined as never, users: undefined as never, tokens: undefined as never }
  const user = await createUser(a)
  const res = await login(a, { username: user.username, password: PASSWORD })
  const token = cookieOf(res, 'access_token')?.value
  t.ok(token)
  t.same(json(await get(a, '/private', {}, { access_token: token! })), { id: user.id })
})
