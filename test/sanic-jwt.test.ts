import { createHash } from 'node:crypto'
import Fastify, { type LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import accounts from '../lib/index.js'
import { sanicJwtRefreshKey, sanicJwtRoutes } from '../lib/dialects/sanic-jwt/index.js'
import { MemoryTokenStore, MemoryUserStore } from '../lib/stores/memory.js'
import { fastHasher, json } from './helpers/app.js'
import { decodeJwt, signHmac, tamperSignature, unsigned } from './helpers/jwt.js'
import {
  bearer, buildSanicApp, createUser, get, loggedIn, login, PASSWORD, refresh, sanicToken, SECRET, type SanicError, type SanicTestApp
} from './helpers/sanic-jwt.js'

type Body = Record<string, unknown>

/** sanic-jwt's exception_response: exactly `{reasons: [non-empty strings], exception}` with that status. */
function assertSanicError (t: Test, res: LightMyRequestResponse, status: number, exception: string, reason?: string): SanicError {
  t.equal(res.statusCode, status, `status ${status} (${res.body})`)
  t.match(String(res.headers['content-type']), /^application\/json/, 'a JSON body')
  const body = json(res) as SanicError
  t.same(Object.keys(body).sort(), ['exception', 'reasons'], 'keys reasons and exception')
  t.equal(body.exception, exception, `exception ${exception}`)
  t.ok(Array.isArray(body.reasons) && body.reasons.length > 0 && body.reasons.every((r) => typeof r === 'string' && r !== ''), 'reasons: a list of messages')
  if (reason !== undefined) t.ok(body.reasons.includes(reason), `reasons include "${reason}"`)
  return body
}

/** /verify's answer for a present but invalid token: 401 `{valid: false, reason, reasons, exception: 'InvalidToken'}`. */
function assertInvalidToken (t: Test, res: LightMyRequestResponse, reason: string): void {
  t.equal(res.statusCode, 401, `status 401 (${res.body})`)
  const body = json(res) as SanicError & { reason?: string }
  t.same(Object.keys(body).sort(), ['exception', 'reason', 'reasons', 'valid'])
  t.equal(body.valid, false)
  t.equal(body.exception, 'InvalidToken')
  t.same(body.reasons, [reason])
  t.equal(body.reason, reason, "the docs' key, beside 1.8's")
}

const now = (): number => Math.floor(Date.now() / 1000)

let shared: Promise<SanicTestApp> | undefined
/** One app with refresh tokens on, shared by the tests that do not change options. */
async function app (): Promise<SanicTestApp> {
  shared ??= buildSanicApp({ refreshTokenEnabled: true })
  return await shared
}
t.teardown(async () => { if (shared !== undefined) await (await shared).app.close() })

// ---- POST /auth -------------------------------------------------------------------------------------

t.test('POST /auth', async t => {
  t.test('good credentials: 200 {access_token} only, with refresh tokens off (the default)', async t => {
    const a = await buildSanicApp()
    t.teardown(() => a.app.close())
    const user = await createUser(a)
    const before = now()
    const res = await login(a, { username: user.username, password: PASSWORD })
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /^application\/json/)
    const body = json(res) as Body
    t.same(Object.keys(body), ['access_token'])
    const token = decodeJwt(body.access_token as string)
    t.same(token.header, { alg: 'HS256', typ: 'JWT' })
    t.same(Object.keys(token.payload).sort(), ['exp', 'sid', 'user_id'], 'sanic-jwt payload: {user_id, exp}, no iat by default; and the session (beyond sanic-jwt)')
    t.match(token.payload.sid, /^[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$/, 'sid: a UUIDv7 in hex')
    t.equal(token.payload.user_id, user.id)
    t.ok((token.payload.exp as number) >= before + 1800 && (token.payload.exp as number) <= now() + 1800, 'exp: expiration_delta (30 min) from now')
    t.equal(res.headers['set-cookie'], undefined, 'no cookie unless cookieSet')
  })

  t.test('with refresh tokens on: {access_token, refresh_token}, the refresh token opaque and stored only hashed', async t => {
    const a = await app()
    const { id, res, refresh: token } = await loggedIn(a)
    t.same(Object.keys(json(res) as Body).sort(), ['access_token', 'refresh_token'])
    t.match(token, /^[0-9a-f]{48}$/, 'utils.generate_token: 24 random bytes, hex')
    const key = `sanic-jwt:${createHash('sha256').update(token as string).digest('hex')}`
    const record = await a.tokens.findRefreshToken(key)
    t.ok(record, 'a refresh record keyed by the sha256 of the token')
    t.equal(record?.userId, id)
    t.equal(await a.tokens.findRefreshToken(token as string), null, 'the token itself is not a key')
    const lifetime = (record!.expiresAt.getTime() - Date.now()) / 1000
    t.ok(lifetime > 86400 - 10 && lifetime <= 86400, 'expires after the core refresh lifetime (1 day) by default')
  })

  t.test('each login gets its own refresh token; earlier ones keep working (several devices)', async t => {
    const a = await app()
    const first = await loggedIn(a)
    const second = await login(a, { username: first.username, password: PASSWORD })
    const token2 = (json(second) as Body).refresh_token as string
    t.not(token2, first.refresh)
    t.equal((await refresh(a, { refresh_token: first.refresh }, bearer(first.access))).statusCode, 200)
    t.equal((await refresh(a, { refresh_token: token2 }, bearer(first.access))).statusCode, 200)
  })

  t.test('the path without and with a trailing slash, JSON or form body', async t => {
    const a = await app()
    const user = await createUser(a)
    t.equal((await login(a, { username: user.username, password: PASSWORD })).statusCode, 200)
    const slash = await a.app.inject({ method: 'POST', url: '/auth/', payload: { username: user.username, password: PASSWORD } })
    t.equal(slash.statusCode, 200)
    const form = await a.app.inject({
      method: 'POST', url: '/auth', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `username=${user.username}&password=${PASSWORD}`
    })
    t.equal(form.statusCode, 200)
  })

  t.test('a wrong password, an unknown user, an inactive user: 401 AuthenticationFailed, one answer', async t => {
    const a = await app()
    const user = await createUser(a)
    const inactive = await createUser(a)
    await a.users.updateUser(inactive.id, { isActive: false })
    const answers = [
      await login(a, { username: user.username, password: 'wrong-password-123' }),
      await login(a, { username: 'nobody-at-all', password: PASSWORD }),
      await login(a, { username: inactive.username, password: PASSWORD })
    ]
    for (const res of answers) assertSanicError(t, res, 401, 'AuthenticationFailed', 'Authentication failed.')
    t.same(answers.map((res) => res.body), Array(3).fill(answers[0].body), 'the same body for all three')
  })

  t.test('a missing or blank username or password: 401 AuthenticationFailed', async t => {
    const a = await app()
    for (const payload of [{}, { username: 'x' }, { password: 'y' }, { username: '', password: PASSWORD }, { username: 'x', password: '' }]) {
      assertSanicError(t, await login(a, payload), 401, 'AuthenticationFailed', 'Missing username or password.')
    }
    assertSanicError(t, await a.app.inject({ method: 'POST', url: '/auth' }), 401, 'AuthenticationFailed', 'Missing username or password.')
  })

  t.test('values that are not text, a body that is not an object: 401 AuthenticationFailed, never a 500', async t => {
    const a = await app()
    for (const payload of [{ username: true, password: PASSWORD }, { username: 'x', password: ['a'] }, { username: { a: 1 }, password: null }, ['username'], '"text"', '42']) {
      const res = await login(a, payload, { 'content-type': 'application/json' })
      assertSanicError(t, res, 401, 'AuthenticationFailed')
    }
  })

  t.test('malformed JSON: 400 BadRequest; too large: 413', async t => {
    const a = await app()
    const bad = await a.app.inject({ method: 'POST', url: '/auth', headers: { 'content-type': 'application/json' }, payload: '{"username": ' })
    assertSanicError(t, bad, 400, 'BadRequest')
    const big = await a.app.inject({ method: 'POST', url: '/auth', payload: { username: 'x', password: 'y'.repeat(20000) } })
    assertSanicError(t, big, 413, 'PayloadTooLarge')
  })

  t.test('loginField email: the body carries {email, password}', async t => {
    const a = await buildSanicApp({}, { core: { loginField: 'email' } })
    t.teardown(() => a.app.close())
    const user = await createUser(a)
    t.equal((await login(a, { email: user.email, password: PASSWORD })).statusCode, 200)
    assertSanicError(t, await login(a, { username: user.username, password: PASSWORD }), 401, 'AuthenticationFailed', 'Missing email or password.')
  })

  t.test('the core\'s login rate limits apply: 429 {reasons, exception: TooManyRequests} with Retry-After', async t => {
    const a = await buildSanicApp({}, { core: { rateLimit: { perAccountFailures: { max: 2, timeWindow: 60 } } } })
    t.teardown(() => a.app.close())
    const user = await createUser(a)
    for (let i = 0; i < 2; i++) t.equal((await login(a, { username: user.username, password: 'wrong-password-123' })).statusCode, 401)
    const res = await login(a, { username: user.username, password: PASSWORD })
    assertSanicError(t, res, 429, 'TooManyRequests')
    t.match(res.headers['retry-after'], /^\d+$/)
  })

  t.test('audit events: login.succeeded and login.failed, as the core emits them', async t => {
    const a = await buildSanicApp()
    t.teardown(() => a.app.close())
    const seen: string[] = []
    a.app.accounts.events.on('login.succeeded', () => seen.push('succeeded'))
    a.app.accounts.events.on('login.failed', ({ reason }) => seen.push(`failed:${reason}`))
    const user = await createUser(a)
    await login(a, { username: user.username, password: 'wrong-password-123' })
    await login(a, { username: user.username, password: PASSWORD })
    t.same(seen, ['failed:wrong-password', 'succeeded'])
  })

  t.test('jwt.updateLastLogin records the login, as the core does', async t => {
    const a = await buildSanicApp({}, { core: { jwt: { updateLastLogin: true } } })
    t.teardown(() => a.app.close())
    const user = await loggedIn(a)
    t.ok((await a.users.findUserById(user.id))?.lastLogin instanceof Date)
  })
})

// ---- GET /auth/verify -------------------------------------------------------------------------------

t.test('GET /auth/verify', async t => {
  t.test('a valid access token: 200 {valid: true}, with or without the trailing slash', async t => {
    const a = await app()
    const { access } = await loggedIn(a)
    for (const url of ['/auth/verify', '/auth/verify/']) {
      const res = await get(a, url, bearer(access))
      t.equal(res.statusCode, 200)
      t.same(json(res), { valid: true })
    }
  })

  t.test('no Authorization header, or an empty token: 401 MissingAuthorizationHeader', async t => {
    const a = await app()
    assertSanicError(t, await get(a, '/auth/verify'), 401, 'MissingAuthorizationHeader', 'Authorization header not present.')
    assertSanicError(t, await get(a, '/auth/verify', { authorization: 'Bearer' }), 401, 'MissingAuthorizationHeader')
    assertSanicError(t, await get(a, '/auth/verify', { authorization: 'Bearer ' }), 401, 'MissingAuthorizationHeader')
  })

  t.test('another scheme, or more than two words: 400 InvalidAuthorizationHeader', async t => {
    const a = await app()
    const { access } = await loggedIn(a)
    for (const authorization of [`JWT ${access}`, `bearer ${access}`, `Bearer  ${access}`, `Bearer ${access} x`, access]) {
      assertSanicError(t, await get(a, '/auth/verify', { authorization }), 400, 'InvalidAuthorizationHeader', 'Authorization header is invalid.')
    }
  })

  t.test('an expired token: 401 {valid: false, reasons: ["Signature has expired."], exception: InvalidToken}', async t => {
    const a = await app()
    const { id } = await createUser(a)
    assertInvalidToken(t, await get(a, '/auth/verify', bearer(sanicToken(id, -181))), 'Signature has expired.')
  })

  t.test('expired by less than the leeway (3 minutes): still valid', async t => {
    const a = await app()
    const { id } = await createUser(a)
    t.equal((await get(a, '/auth/verify', bearer(sanicToken(id, -170)))).statusCode, 200)
  })

  t.test('a bad signature, another key, garbage, alg none, no exp: 401 invalid, "Auth required."', async t => {
    const a = await app()
    const { id, access } = await loggedIn(a)
    const tokens = [
      tamperSignature(access),
      signHmac({ user_id: id, exp: now() + 600 }, 'another-secret-that-is-long-enough-000'),
      'not.a.jwt',
      'garbage',
      unsigned({ user_id: id, exp: now() + 600 }),
      signHmac({ user_id: id, exp: now() + 600 }, SECRET, 'HS512'),
      signHmac({ user_id: id }, SECRET),
      signHmac({ user_id: id, exp: 'tomorrow' }, SECRET)
    ]
    for (const token of tokens) assertInvalidToken(t, await get(a, '/auth/verify', bearer(token)), 'Auth required.')
  })

  t.test('simplejwt tokens signed with the same key are no sanic-jwt tokens, refresh or access', async t => {
    const a = await app()
    const user = await createUser(a)
    const pair = json(await a.app.inject({ method: 'POST', url: '/djoser/jwt/create/', payload: { username: user.username, password: PASSWORD } })) as Body
    assertInvalidToken(t, await get(a, '/auth/verify', bearer(pair.refresh as string)), 'Auth required.')
    assertInvalidToken(t, await get(a, '/auth/verify', bearer(pair.access as string)), 'Auth required.')
  })

  t.test('a token with an audience or issuer none is configured for: "Invalid audience."', async t => {
    const a = await app()
    const { id } = await createUser(a)
    assertInvalidToken(t, await get(a, '/auth/verify', bearer(sanicToken(id, 600, { aud: 'elsewhere' }))), 'Invalid audience.')
    t.equal((await get(a, '/auth/verify', bearer(sanicToken(id, 600, { iss: 'anyone' })))).statusCode, 200, 'iss is only checked when claimIss is set (PyJWT)')
  })

  t.test('a token only checks out: verify does not look the user up', async t => {
    const a = await app()
    t.equal((await get(a, '/auth/verify', bearer(sanicToken(999999)))).statusCode, 200)
  })
})

// ---- GET /auth/me -----------------------------------------------------------------------------------

t.test('GET /auth/me', async t => {
  t.test('200 {me: {user_id, username, email}}', async t => {
    const a = await app()
    const { id, username, access } = await loggedIn(a)
    for (const url of ['/auth/me', '/auth/me/']) {
      const res = await get(a, url, bearer(access))
      t.equal(res.statusCode, 200)
      t.same(json(res), { me: { user_id: id, username, email: `${username}@example.com` } })
    }
  })

  t.test('no header: 401 Unauthorized "Authorization header not present."', async t => {
    const a = await app()
    assertSanicError(t, await get(a, '/auth/me'), 401, 'Unauthorized', 'Authorization header not present.')
  })

  t.test('another scheme: 401 Unauthorized "Authorization header is invalid."', async t => {
    const a = await app()
    const { access } = await loggedIn(a)
    assertSanicError(t, await get(a, '/auth/me', bearer(access, 'JWT')), 401, 'Unauthorized', 'Authorization header is invalid.')
  })

  t.test('an expired token: 401 Unauthorized "Signature has expired."', async t => {
    const a = await app()
    const { id } = await createUser(a)
    assertSanicError(t, await get(a, '/auth/me', bearer(sanicToken(id, -600))), 401, 'Unauthorized', 'Signature has expired.')
  })

  t.test('a forged token: 401 Unauthorized "Auth required."', async t => {
    const a = await app()
    const { access } = await loggedIn(a)
    assertSanicError(t, await get(a, '/auth/me', bearer(tamperSignature(access))), 401, 'Unauthorized', 'Auth required.')
  })

  t.test('a valid token for a deleted or inactive user: 200 {me: null}', async t => {
    const a = await app()
    const gone = await loggedIn(a)
    await a.users.deleteUser(gone.id)
    const res = await get(a, '/auth/me', bearer(gone.access))
    t.equal(res.statusCode, 200)
    t.same(json(res), { me: null })
    const inactive = await loggedIn(a)
    await a.users.updateUser(inactive.id, { isActive: false })
    t.same(json(await get(a, '/auth/me', bearer(inactive.access))), { me: null })
  })
})

// ---- POST /auth/refresh -----------------------------------------------------------------------------

t.test('POST /auth/refresh', async t => {
  t.test('the refresh token and the access token of its user: 200 {access_token} (no new refresh token)', async t => {
    const a = await app()
    const { id, access, refresh: token } = await loggedIn(a)
    const res = await refresh(a, { refresh_token: token }, bearer(access))
    t.equal(res.statusCode, 200)
    const body = json(res) as Body
    t.same(Object.keys(body), ['access_token'])
    t.equal(decodeJwt(body.access_token as string).payload.user_id, id)
    t.equal((await get(a, '/auth/me', bearer(body.access_token as string))).statusCode, 200)
    t.equal((await refresh(a, { refresh_token: token }, bearer(access))).statusCode, 200, 'the refresh token is not used up')
  })

  t.test('with an expired (but genuine) access token: 200, a fresh one', async t => {
    const a = await app()
    const { id, refresh: token } = await loggedIn(a)
    const expired = sanicToken(id, -86400)
    const res = await refresh(a, { refresh_token: token }, bearer(expired))
    t.equal(res.statusCode, 200)
    const exp = decodeJwt((json(res) as Body).access_token as string).payload.exp as number
    t.ok(exp > now() + 1700, 'a new 30-minute token')
  })

  t.test('a wrong refresh token, or another user\'s: 401 AuthenticationFailed', async t => {
    const a = await app()
    const alice = await loggedIn(a)
    const bob = await loggedIn(a)
    assertSanicError(t, await refresh(a, { refresh_token: 'f'.repeat(48) }, bearer(alice.access)), 401, 'AuthenticationFailed', 'Authentication failed.')
    assertSanicError(t, await refresh(a, { refresh_token: bob.refresh }, bearer(alice.access)), 401, 'AuthenticationFailed')
    assertSanicError(t, await refresh(a, { refresh_token: 12345 }, bearer(alice.access)), 401, 'AuthenticationFailed')
    assertSanicError(t, await refresh(a, { refresh_token: alice.access }, bearer(alice.access)), 401, 'AuthenticationFailed', undefined)
  })

  t.test('no refresh token in the body: 400 MissingAuthorizationHeader (sanic-jwt reads it with the header)', async t => {
    const a = await app()
    const { access } = await loggedIn(a)
    assertSanicError(t, await refresh(a, {}, bearer(access)), 400, 'MissingAuthorizationHeader', 'Authorization header not present.')
    assertSanicError(t, await refresh(a, { refresh_token: '' }, bearer(access)), 400, 'MissingAuthorizationHeader')
  })

  t.test('no access token: 401 Unauthorized; a forged one: 401 Unauthorized "Auth required."', async t => {
    const a = await app()
    const { access, refresh: token } = await loggedIn(a)
    assertSanicError(t, await refresh(a, { refresh_token: token }), 401, 'Unauthorized', 'Authorization header not present.')
    assertSanicError(t, await refresh(a, { refresh_token: token }, bearer(tamperSignature(access))), 401, 'Unauthorized', 'Auth required.')
    assertSanicError(t, await refresh(a, { refresh_token: token }, bearer(access, 'Token')), 401, 'Unauthorized', 'Authorization header is invalid.')
  })

  t.test('a deleted or deactivated user cannot refresh', async t => {
    const a = await app()
    const user = await loggedIn(a)
    await a.users.updateUser(user.id, { isActive: false })
    assertSanicError(t, await refresh(a, { refresh_token: user.refresh }, bearer(user.access)), 401, 'AuthenticationFailed')
    const gone = await loggedIn(a)
    await a.users.deleteUser(gone.id)
    assertSanicError(t, await refresh(a, { refresh_token: gone.refresh }, bearer(gone.access)), 401, 'AuthenticationFailed')
  })

  t.test('a password change (through the core) revokes the user\'s sanic-jwt refresh tokens', async t => {
    const a = await app()
    const user = await loggedIn(a)
    const djoser = json(await a.app.inject({ method: 'POST', url: '/djoser/jwt/create/', payload: { username: user.username, password: PASSWORD } })) as Body
    const changed = await a.app.inject({
      method: 'POST', url: '/djoser/users/set_password/', headers: bearer(djoser.access as string), payload: { current_password: PASSWORD, new_password: 'another-horse-battery-9' }
    })
    t.equal(changed.statusCode, 204)
    // The sanic-jwt session ended with the change: its access token first (Unauthorized, as an invalid one)...
    assertSanicError(t, await refresh(a, { refresh_token: user.refresh }, bearer(user.access)), 401, 'Unauthorized', 'Token has been revoked.')
    // ...and its refresh token with a fresh access token of the same user: AuthenticationFailed, as an unknown one.
    const fresh = json(await login(a, { username: user.username, password: 'another-horse-battery-9' })) as Body
    assertSanicError(t, await refresh(a, { refresh_token: user.refresh }, bearer(fresh.access_token as string)), 401, 'AuthenticationFailed')
  })

  t.test('an expired refresh token (refreshTokenLifetime): 401 AuthenticationFailed', async t => {
    const a = await buildSanicApp({ refreshTokenEnabled: true, refreshTokenLifetime: 1 })
    t.teardown(() => a.app.close())
    const user = await loggedIn(a)
    t.equal((await refresh(a, { refresh_token: user.refresh }, bearer(user.access))).statusCode, 200)
    await new Promise((resolve) => setTimeout(resolve, 1100))
    assertSanicError(t, await refresh(a, { refresh_token: user.refresh }, bearer(user.access)), 401, 'AuthenticationFailed')
  })

  t.test('refresh tokens off (the default): no refresh route, 404', async t => {
    const a = await buildSanicApp()
    t.teardown(() => a.app.close())
    const { access } = await loggedIn(a)
    t.equal((await refresh(a, { refresh_token: 'x' }, bearer(access))).statusCode, 404)
  })

  t.test('emits token.refreshed {userId, rotated: false}', async t => {
    const a = await app()
    const user = await loggedIn(a)
    const seen: unknown[] = []
    const listener = (payload: unknown): void => { seen.push(payload) }
    a.app.accounts.events.on('token.refreshed', listener)
    t.teardown(() => { a.app.accounts.events.off('token.refreshed', listener) })
    await refresh(a, { refresh_token: user.refresh }, bearer(user.access))
    t.same(seen, [{ userId: user.id, rotated: false, request: { requestId: (seen[0] as { request: { requestId: string } }).request.requestId, ip: '127.0.0.1', userAgent: 'lightMyRequest' } }])
  })

  t.test('a refresh token imported from a Sanic app (saved under sanicJwtRefreshKey) works', async t => {
    const a = await app()
    const user = await createUser(a)
    const imported = 'a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6'
    const key = sanicJwtRefreshKey(imported)
    await a.tokens.saveRefreshToken({ jti: key, userId: user.id, family: key, expiresAt: new Date(Date.now() + 3600_000) })
    const res = await refresh(a, { refresh_token: imported }, bearer(sanicToken(user.id, -3600)))
    t.equal(res.statusCode, 200)
  })

  t.test('the trailing slash is optional', async t => {
    const a = await app()
    const { access, refresh: token } = await loggedIn(a)
    const res = await a.app.inject({ method: 'POST', url: '/auth/refresh/', headers: bearer(access), payload: { refresh_token: token } })
    t.equal(res.statusCode, 200)
  })
})

// ---- settings -----------------------------------------------------------------------------------------

t.test('renamed token fields, user id key, header and prefix', async t => {
  const a = await buildSanicApp({
    refreshTokenEnabled: true,
    accessTokenName: 'jwt',
    refreshTokenName: 'rt',
    userIdKey: 'uid',
    authorizationHeader: 'X-Auth-Token',
    authorizationHeaderPrefix: 'JWT'
  })
  t.teardown(() => a.app.close())
  const user = await loggedIn(a, { access: 'jwt', refresh: 'rt' })
  t.same(Object.keys(json(user.res) as Body).sort(), ['jwt', 'rt'])
  t.same(Object.keys(decodeJwt(user.access).payload).sort(), ['exp', 'sid', 'uid'])
  t.equal(decodeJwt(user.access).payload.uid, user.id)

  const header = { 'x-auth-token': `JWT ${user.access}` }
  t.same(json(await get(a, '/auth/me', header)), { me: { uid: user.id, username: user.username, email: `${user.username}@example.com` } })
  t.same(json(await get(a, '/auth/verify', header)), { valid: true })
  assertSanicError(t, await get(a, '/auth/me', bearer(user.access)), 401, 'Unauthorized', 'Authorization header not present.')
  assertSanicError(t, await get(a, '/auth/verify', { 'x-auth-token': `Bearer ${user.access}` }), 400, 'InvalidAuthorizationHeader')

  const refreshed = await refresh(a, { rt: user.refresh }, header)
  t.equal(refreshed.statusCode, 200)
  t.same(Object.keys(json(refreshed) as Body), ['jwt'])
  assertSanicError(t, await refresh(a, { refresh_token: user.refresh }, header), 400, 'MissingAuthorizationHeader')
  t.equal((await get(a, '/private', header)).statusCode, 200, 'the authenticator follows the same settings')
})

t.test('a bare token in the header (authorizationHeaderPrefix "")', async t => {
  const a = await buildSanicApp({ authorizationHeaderPrefix: '' })
  t.teardown(() => a.app.close())
  const { access } = await loggedIn(a)
  t.same(json(await get(a, '/auth/verify', { authorization: access })), { valid: true })
  assertInvalidToken(t, await get(a, '/auth/verify', bearer(access)), 'Auth required.')
})

t.test('custom paths (path_to_*)', async t => {
  const a = await buildSanicApp({ refreshTokenEnabled: true, pathToAuthenticate: '/login', pathToVerify: '/check', pathToRetrieveUser: '/whoami', pathToRefresh: '/renew' })
  t.teardown(() => a.app.close())
  const user = await createUser(a)
  const res = await a.app.inject({ method: 'POST', url: '/auth/login', payload: { username: user.username, password: PASSWORD } })
  t.equal(res.statusCode, 200)
  const body = json(res) as Body
  t.equal((await get(a, '/auth/check', bearer(body.access_token as string))).statusCode, 200)
  t.equal((await get(a, '/auth/whoami', bearer(body.access_token as string))).statusCode, 200)
  const renewed = await a.app.inject({ method: 'POST', url: '/auth/renew', headers: bearer(body.access_token as string), payload: { refresh_token: body.refresh_token } })
  t.equal(renewed.statusCode, 200)
  t.equal((await login(a, { username: user.username, password: PASSWORD })).statusCode, 404, 'nothing at the prefix itself')
})

t.test('mounted at the root, or under a nested prefix', async t => {
  for (const [prefix, loginUrl] of [['', '/'], ['/api/v1/auth', '/api/v1/auth']] as const) {
    const app = Fastify({ logger: false })
    await app.register(accounts, { prefix: '/djoser', store: { users: new MemoryUserStore(), tokens: new MemoryTokenStore() }, passwordHasher: fastHasher, sendActivationEmail: false, rateLimit: false, jwt: { signingKey: SECRET } })
    await app.register(sanicJwtRoutes, { prefix, refreshTokenEnabled: true })
    await app.ready()
    t.teardown(() => app.close())
    const a = { app, mailer: undefined as never, users: undefined as never, tokens: undefined as never }
    const user = await createUser(a)
    const res = await app.inject({ method: 'POST', url: loginUrl, payload: { username: user.username, password: PASSWORD } })
    t.equal(res.statusCode, 200, `login at ${loginUrl}`)
    const body = json(res) as Body
    t.same(json(await get(a, `${prefix}/verify`, bearer(body.access_token as string))), { valid: true })
    t.equal((await app.inject({ method: 'POST', url: `${prefix}/refresh`, headers: bearer(body.access_token as string), payload: { refresh_token: body.refresh_token } })).statusCode, 200)
  }
})

t.test('claims: iat, nbf, iss and aud as sanic-jwt writes and checks them', async t => {
  const a = await buildSanicApp({ claimIat: true, claimNbf: true, claimNbfDelta: 0, claimIss: 'auth-service', claimAud: 'frontend', leeway: 10 })
  t.teardown(() => a.app.close())
  const before = now()
  const { id, access } = await loggedIn(a)
  const payload = decodeJwt(access).payload
  t.same(Object.keys(payload), ['user_id', 'exp', 'iss', 'iat', 'nbf', 'aud', 'sid'], 'add_claims order: exp, iss, iat, nbf, aud; then the session')
  t.equal(payload.iss, 'auth-service')
  t.equal(payload.aud, 'frontend')
  t.ok((payload.iat as number) >= before && (payload.iat as number) <= now())
  t.equal(payload.nbf, (payload.iat as number) + 10, 'nbf: now + leeway + claim_nbf_delta')
  t.same(json(await get(a, '/auth/verify', bearer(access))), { valid: true })

  const base = { iss: 'auth-service', aud: 'frontend' }
  assertInvalidToken(t, await get(a, '/auth/verify', bearer(sanicToken(id, 600, { ...base, iss: 'other' }))), 'Invalid issuer.')
  assertInvalidToken(t, await get(a, '/auth/verify', bearer(sanicToken(id, 600, { ...base, aud: 'other' }))), 'Invalid audience.')
  t.equal((await get(a, '/auth/verify', bearer(sanicToken(id, 600, { ...base, aud: ['other', 'frontend'] })))).statusCode, 200, 'an audience list naming ours')
  assertInvalidToken(t, await get(a, '/auth/verify', bearer(sanicToken(id, 600, { aud: 'frontend' }))), 'Auth required.')
  assertInvalidToken(t, await get(a, '/auth/verify', bearer(sanicToken(id, 600, { iss: 'auth-service' }))), 'Auth required.')
  assertInvalidToken(t, await get(a, '/auth/verify', bearer(sanicToken(id, 600, { ...base, nbf: now() + 60 }))), 'The token is not yet valid (nbf).')
  assertInvalidToken(t, await get(a, '/auth/verify', bearer(sanicToken(id, 600, { ...base, iat: now() + 60 }))), 'The token is not yet valid (iat).')
  assertInvalidToken(t, await get(a, '/auth/verify', bearer(sanicToken(id, 600, { ...base, iat: 'yesterday' }))), 'Issued At claim (iat) must be an integer.')
  assertInvalidToken(t, await get(a, '/auth/verify', bearer(sanicToken(id, -11, base))), 'Signature has expired.')
  assertSanicError(t, await get(a, '/auth/me', bearer(sanicToken(id, 600, { ...base, iss: 'other' }))), 401, 'Unauthorized', 'Invalid issuer.')
})

t.test('tokens signed by the core\'s key and algorithm, whatever the core\'s own audience', async t => {
  const a = await buildSanicApp({}, { core: { jwt: { audience: 'djoser-api', issuer: 'djoser' } } })
  t.teardown(() => a.app.close())
  const { access } = await loggedIn(a)
  t.same(json(await get(a, '/auth/verify', bearer(access))), { valid: true }, 'sanic-jwt checks its own claim_aud/claim_iss, not simplejwt\'s')
  const djoser = await a.app.inject({ method: 'GET', url: '/djoser/users/me/', headers: bearer(access) })
  t.equal(djoser.statusCode, 401, 'a sanic-jwt token is no simplejwt token (no token_type)')
})

// ---- an app route behind sanicJwtAuthenticator ---------------------------------------------------------

t.test('sanicJwtAuthenticator on an app route', async t => {
  t.test('fills request.user (no password hash) and request.auth {scheme: jwt, claims}', async t => {
    const a = await app()
    const { id, username, access } = await loggedIn(a)
    const res = await get(a, '/private', bearer(access))
    t.equal(res.statusCode, 200)
    const body = json(res) as { user: Body, auth: { scheme: string, claims: Body } }
    t.equal(body.user.id, id)
    t.equal(body.user.username, username)
    t.notOk('password' in body.user)
    t.equal(body.auth.scheme, 'jwt')
    t.equal(body.auth.claims.user_id, id)
  })

  t.test('answers in sanic-jwt\'s shape: no header, bad header, expired, forged', async t => {
    const a = await app()
    const { id, access } = await loggedIn(a)
    assertSanicError(t, await get(a, '/private'), 401, 'Unauthorized', 'Authorization header not present.')
    assertSanicError(t, await get(a, '/private', bearer(access, 'JWT')), 401, 'Unauthorized', 'Authorization header is invalid.')
    assertSanicError(t, await get(a, '/private', bearer(sanicToken(id, -600))), 401, 'Unauthorized', 'Signature has expired.')
    assertSanicError(t, await get(a, '/private', bearer(tamperSignature(access))), 401, 'Unauthorized', 'Auth required.')
  })

  t.test('a valid token for a user that is gone or inactive: 401 Unauthorized', async t => {
    const a = await app()
    const user = await loggedIn(a)
    await a.users.updateUser(user.id, { isActive: false })
    assertSanicError(t, await get(a, '/private', bearer(user.access)), 401, 'Unauthorized')
    assertSanicError(t, await get(a, '/private', bearer(sanicToken(987654))), 401, 'Unauthorized')
  })
})
