import t from 'tap'
import { buildDjRestAuthApp, cookie, dra, json, login, PASSWORD, registered, setCookies, type DjTestApp } from './helpers/dj-rest-auth.js'
import { assertDetail, assertFieldErrors, assertTokenError } from './helpers/users.js'

/** dj-rest-auth with USE_JWT: login's JWT pair, token/verify/, token/refresh/, logout's blacklist, the cookies. */

const ALICE = { pk: 1, username: 'alice', email: 'alice@example.com', first_name: '', last_name: '' }
const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/
const bearer = (access: string): Record<string, string> => ({ authorization: `Bearer ${access}` })
const cookieHeader = (pairs: Record<string, string>): Record<string, string> => ({ cookie: Object.entries(pairs).map(([k, v]) => `${k}=${v}`).join('; ') })

type Pair = { access: string, refresh: string, user: unknown, access_expiration?: string, refresh_expiration?: string }

async function withAlice (dj: Parameters<typeof buildDjRestAuthApp>[0] = {}, build: Parameters<typeof buildDjRestAuthApp>[1] = {}): Promise<DjTestApp> {
  const a = await buildDjRestAuthApp({ useJwt: true, ...dj }, build)
  await registered(a)
  a.mailer.clear()
  return a
}

async function pair (a: DjTestApp): Promise<Pair> {
  const res = await login(a)
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.body}`)
  return json(res) as Pair
}

const COOKIES = { jwtAuthCookie: 'my-app-auth', jwtAuthRefreshCookie: 'my-refresh-token' }

t.test('login/ with JWT', async t => {
  t.test('JWT_AUTH_HTTPONLY off: 200 {access, refresh, user}', async t => {
    const a = await withAlice({ jwtAuthHttpOnly: false })
    const res = await login(a)
    t.equal(res.statusCode, 200)
    const body = json(res) as Pair
    t.same(Object.keys(body), ['access', 'refresh', 'user'])
    t.match(body.access, JWT)
    t.match(body.refresh, JWT)
    t.same(body.user, ALICE)
    t.equal(res.headers['set-cookie'], undefined, 'no cookie names, no cookies')
    const me = await dra(a, 'GET', '/user/', undefined, bearer(body.access))
    t.equal(me.statusCode, 200)
    t.same(json(me), ALICE)
  })

  t.test('JWT_AUTH_HTTPONLY (the default): the body\'s refresh is ""', async t => {
    const a = await withAlice()
    const body = await pair(a)
    t.match(body.access, JWT)
    t.equal(body.refresh, '')
  })

  t.test('with email, too', async t => {
    const a = await withAlice()
    t.equal((await login(a, { email: 'alice@example.com', password: PASSWORD })).statusCode, 200)
  })

  t.test('bad credentials: 400 {non_field_errors} (not simplejwt\'s 401)', async t => {
    const a = await withAlice()
    const res = await login(a, { username: 'alice', password: 'nope-nope-nope' })
    assertFieldErrors(t, res, ['non_field_errors'])
    t.same(json(res), { non_field_errors: ['Unable to log in with provided credentials.'] })
  })

  t.test('jwtAuthReturnExpiration: access_expiration and refresh_expiration, ISO 8601, as far out as the lifetimes', async t => {
    const a = await withAlice({ jwtAuthReturnExpiration: true, jwtAuthHttpOnly: false }, { core: { jwt: { accessTokenLifetime: 600, refreshTokenLifetime: 7200 } } })
    const before = Date.now()
    const body = await pair(a)
    t.same(Object.keys(body), ['access', 'refresh', 'user', 'access_expiration', 'refresh_expiration'])
    const access = Date.parse(body.access_expiration ?? '')
    const refresh = Date.parse(body.refresh_expiration ?? '')
    t.match(body.access_expiration, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/)
    t.ok(access >= before + 600_000 - 1000 && access <= Date.now() + 600_000 + 1000, 'access: now + 600 s')
    t.ok(refresh >= before + 7_200_000 - 1000 && refresh <= Date.now() + 7_200_000 + 1000, 'refresh: now + 7200 s')
  })

  t.test('registration/ answers {access, refresh, user} when verification is off', async t => {
    const a = await buildDjRestAuthApp({ useJwt: true, emailVerification: 'none' })
    const res = await dra(a, 'POST', '/registration/', { username: 'alice', email: 'alice@example.com', password1: PASSWORD, password2: PASSWORD })
    t.equal(res.statusCode, 201)
    const body = json(res) as Pair
    t.same(Object.keys(body), ['access', 'refresh', 'user'])
    t.match(body.refresh, JWT)
    t.same(body.user, ALICE)
    t.equal((await dra(a, 'GET', '/user/', undefined, bearer(body.access))).statusCode, 200)
  })
})

t.test('token/verify/', async t => {
  t.test('a valid access or refresh token: 200 {}', async t => {
    const a = await withAlice({ jwtAuthHttpOnly: false })
    const { access, refresh } = await pair(a)
    for (const token of [access, refresh]) {
      const res = await dra(a, 'POST', '/token/verify/', { token })
      t.equal(res.statusCode, 200)
      t.same(json(res), {})
    }
  })

  t.test('garbage: 401 {detail, code: token_not_valid}; missing: 400 {token}', async t => {
    const a = await withAlice()
    const res = await dra(a, 'POST', '/token/verify/', { token: 'not.a.jwt' })
    assertTokenError(t, res, 'token_not_valid')
    t.equal(res.headers['www-authenticate'], 'Bearer realm="api"')
    assertFieldErrors(t, await dra(a, 'POST', '/token/verify/', {}), ['token'])
  })

  t.test('the JWT routes are not mounted without useJwt', async t => {
    const a = await buildDjRestAuthApp()
    t.equal((await dra(a, 'POST', '/token/verify/', { token: 'x' })).statusCode, 404)
    t.equal((await dra(a, 'POST', '/token/refresh/', { refresh: 'x' })).statusCode, 404)
  })
})

t.test('token/refresh/', async t => {
  t.test('{refresh} in the body: 200 {access, access_expiration}', async t => {
    const a = await withAlice({ jwtAuthHttpOnly: false })
    const { refresh } = await pair(a)
    const res = await dra(a, 'POST', '/token/refresh/', { refresh })
    t.equal(res.statusCode, 200)
    const body = json(res) as Record<string, string>
    t.same(Object.keys(body), ['access', 'access_expiration'])
    t.match(body.access, JWT)
    t.ok(Date.parse(body.access_expiration) > Date.now())
    t.equal((await dra(a, 'GET', '/user/', undefined, bearer(body.access))).statusCode, 200)
  })

  t.test('rotation: the new refresh token and its expiry, unless HttpOnly', async t => {
    const a = await withAlice({ jwtAuthHttpOnly: false }, { core: { jwt: { rotateRefreshTokens: true } } })
    const { refresh } = await pair(a)
    const res = await dra(a, 'POST', '/token/refresh/', { refresh })
    t.same(Object.keys(json(res) as object).sort(), ['access', 'access_expiration', 'refresh', 'refresh_expiration'])
    t.not((json(res) as Record<string, string>).refresh, refresh)

    const b = await withAlice({ ...COOKIES }, { core: { jwt: { rotateRefreshTokens: true } } })
    const login = await dra(b, 'POST', '/login/', { username: 'alice', password: PASSWORD })
    const old = cookie(login, COOKIES.jwtAuthRefreshCookie)?.value ?? ''
    const rotated = await dra(b, 'POST', '/token/refresh/', undefined, cookieHeader({ [COOKIES.jwtAuthRefreshCookie]: old }))
    t.equal(rotated.statusCode, 200)
    t.same(Object.keys(json(rotated) as object), ['access', 'access_expiration'], 'HttpOnly: the rotated refresh token is only in its cookie')
    const fresh = cookie(rotated, COOKIES.jwtAuthRefreshCookie)
    t.match(fresh?.value, JWT)
    t.not(fresh?.value, old)
    t.equal(cookie(rotated, COOKIES.jwtAuthCookie)?.value, (json(rotated) as Record<string, string>).access)
  })

  t.test('a bad, access or blacklisted token: 401 token_not_valid; nothing at all: 401 "No valid refresh token found."', async t => {
    const a = await withAlice({ jwtAuthHttpOnly: false })
    const { access, refresh } = await pair(a)
    assertTokenError(t, await dra(a, 'POST', '/token/refresh/', { refresh: 'not.a.jwt' }), 'token_not_valid')
    assertTokenError(t, await dra(a, 'POST', '/token/refresh/', { refresh: access }), 'token_not_valid')
    const none = await dra(a, 'POST', '/token/refresh/', {})
    assertTokenError(t, none, 'token_not_valid')
    t.same(json(none), { detail: 'No valid refresh token found.', code: 'token_not_valid' })
    t.equal((await dra(a, 'POST', '/logout/', { refresh }, bearer(access))).statusCode, 200)
    const blacklisted = await dra(a, 'POST', '/token/refresh/', { refresh })
    assertTokenError(t, blacklisted, 'token_not_valid')
    t.match(json(blacklisted), { detail: /blacklisted/ })
  })
})

t.test('logout/ with JWT', async t => {
  t.test('blacklists the posted refresh token: 200 {detail}', async t => {
    const a = await withAlice({ jwtAuthHttpOnly: false })
    const { access, refresh } = await pair(a)
    const res = await dra(a, 'POST', '/logout/', { refresh }, bearer(access))
    t.equal(res.statusCode, 200)
    t.same(json(res), { detail: 'Successfully logged out.' })
    assertTokenError(t, await dra(a, 'POST', '/token/refresh/', { refresh }), 'token_not_valid')
  })

  t.test('anonymous with the refresh token works too (AllowAny)', async t => {
    const a = await withAlice({ jwtAuthHttpOnly: false })
    const { refresh } = await pair(a)
    t.equal((await dra(a, 'POST', '/logout/', { refresh })).statusCode, 200)
  })

  t.test('without the refresh token: 401 {detail} (request data, or cookie data when HttpOnly)', async t => {
    const a = await withAlice({ jwtAuthHttpOnly: false })
    const { access } = await pair(a)
    const res = await dra(a, 'POST', '/logout/', {}, bearer(access))
    t.equal(res.statusCode, 401)
    t.same(json(res), { detail: 'Refresh token was not included in request data.' })

    const b = await withAlice()
    const missing = await dra(b, 'POST', '/logout/')
    t.equal(missing.statusCode, 401)
    t.same(json(missing), { detail: 'Refresh token was not included in cookie data.' })
  })

  t.test('an invalid or already blacklisted refresh token: 401 {detail} without a code', async t => {
    const a = await withAlice({ jwtAuthHttpOnly: false })
    const { refresh } = await pair(a)
    const bad = await dra(a, 'POST', '/logout/', { refresh: 'garbage' })
    t.equal(bad.statusCode, 401)
    t.same(json(bad), { detail: 'Token is invalid or expired' })
    t.equal((await dra(a, 'POST', '/logout/', { refresh })).statusCode, 200)
    const again = await dra(a, 'POST', '/logout/', { refresh })
    t.equal(again.statusCode, 401)
    t.same(json(again), { detail: 'Token is blacklisted' })
  })

  t.test('a bad Authorization header is 401 before anything else', async t => {
    const a = await withAlice({ jwtAuthHttpOnly: false })
    const { refresh } = await pair(a)
    const res = await dra(a, 'POST', '/logout/', { refresh }, bearer('not.a.jwt'))
    assertTokenError(t, res, 'token_not_valid')
    t.equal((await dra(a, 'POST', '/token/refresh/', { refresh })).statusCode, 200, 'nothing was blacklisted')
  })

  t.test('tokenBlacklist off, no cookies: 200 with dj-rest-auth\'s warning; the refresh token still works', async t => {
    const a = await withAlice({ jwtAuthHttpOnly: false, tokenBlacklist: false })
    const { refresh } = await pair(a)
    const res = await dra(a, 'POST', '/logout/', {})
    t.equal(res.statusCode, 200)
    t.match(json(res), { detail: /^Neither cookies or blacklist are enabled/ })
    t.equal((await dra(a, 'POST', '/token/refresh/', { refresh })).statusCode, 200)
  })

  t.test('logoutOnGet with JWT', async t => {
    const a = await withAlice({ logoutOnGet: true, ...COOKIES })
    const loginRes = await login(a)
    const refresh = cookie(loginRes, COOKIES.jwtAuthRefreshCookie)?.value ?? ''
    const res = await dra(a, 'GET', '/logout/', undefined, cookieHeader({ [COOKIES.jwtAuthRefreshCookie]: refresh }))
    t.equal(res.statusCode, 200)
    t.equal(cookie(res, COOKIES.jwtAuthCookie)?.value, '')
    assertTokenError(t, await dra(a, 'POST', '/token/refresh/', {}, cookieHeader({ [COOKIES.jwtAuthRefreshCookie]: refresh })), 'token_not_valid')
  })
})

t.test('JWT in HttpOnly cookies (JWT_AUTH_COOKIE, JWT_AUTH_REFRESH_COOKIE)', async t => {
  t.test('login sets both cookies: HttpOnly, SameSite=Lax, path, Max-Age and Expires from the lifetimes', async t => {
    const a = await withAlice({ ...COOKIES, jwtAuthRefreshCookiePath: '/dj-rest-auth/token/refresh/' })
    const res = await login(a)
    t.equal(res.statusCode, 200)
    const body = json(res) as Pair
    t.equal(body.refresh, '')
    t.same(setCookies(res).map((c) => c.name).sort(), [COOKIES.jwtAuthCookie, COOKIES.jwtAuthRefreshCookie].sort())
    const access = cookie(res, COOKIES.jwtAuthCookie)
    t.equal(access?.value, body.access)
    t.match(access?.attributes, { httponly: true, samesite: 'Lax', path: '/', 'max-age': '300' })
    t.notOk(access?.attributes.secure, "not Secure over http (jwtAuthSecure 'auto')")
    t.ok(Math.abs(Date.parse(String(access?.attributes.expires)) - (Date.now() + 300_000)) < 2000, 'Expires: now + the access lifetime')
    const refresh = cookie(res, COOKIES.jwtAuthRefreshCookie)
    t.match(refresh?.value, JWT)
    t.match(refresh?.attributes, { httponly: true, samesite: 'Lax', path: '/dj-rest-auth/token/refresh/', 'max-age': '86400' })
  })

  t.test('Secure, SameSite=Strict, a domain; HttpOnly off', async t => {
    const a = await withAlice({ ...COOKIES, jwtAuthSecure: true, jwtAuthSameSite: 'Strict', jwtAuthCookieDomain: 'example.com', jwtAuthHttpOnly: false })
    const res = await login(a)
    const access = cookie(res, COOKIES.jwtAuthCookie)
    t.match(access?.attributes, { secure: true, samesite: 'Strict', domain: 'example.com' })
    t.notOk(access?.attributes.httponly)
    t.match((json(res) as Pair).refresh, JWT, 'the body carries the refresh token when not HttpOnly')
  })

  t.test('SameSite false: no SameSite attribute', async t => {
    const a = await withAlice({ ...COOKIES, jwtAuthSameSite: false })
    t.notOk(cookie(await login(a), COOKIES.jwtAuthCookie)?.attributes.samesite)
  })

  t.test('the access cookie authenticates user/ and app routes (no header needed)', async t => {
    const a = await withAlice({ ...COOKIES })
    const access = cookie(await login(a), COOKIES.jwtAuthCookie)?.value ?? ''
    const me = await dra(a, 'GET', '/user/', undefined, cookieHeader({ [COOKIES.jwtAuthCookie]: access }))
    t.equal(me.statusCode, 200)
    t.same(json(me), ALICE)
    const priv = await a.app.inject({ method: 'GET', url: '/private', headers: cookieHeader({ other: 'x', [COOKIES.jwtAuthCookie]: access }) })
    t.equal(priv.statusCode, 200)
    t.match(json(priv), { user: { id: 1, username: 'alice' }, scheme: 'jwt' })
  })

  t.test('the header wins over the cookie; a bad cookie is 401 token_not_valid', async t => {
    const a = await withAlice({ ...COOKIES })
    const access = cookie(await login(a), COOKIES.jwtAuthCookie)?.value ?? ''
    assertTokenError(t, await dra(a, 'GET', '/user/', undefined, { ...bearer('not.a.jwt'), ...cookieHeader({ [COOKIES.jwtAuthCookie]: access }) }), 'token_not_valid')
    for (const bad of ['not.a.jwt', 'a%20b']) {
      const res = await a.app.inject({ method: 'GET', url: '/private', headers: cookieHeader({ [COOKIES.jwtAuthCookie]: bad }) })
      assertTokenError(t, res, 'token_not_valid')
      t.equal(res.headers['www-authenticate'], 'Bearer realm="api"')
    }
    const anonymous = await a.app.inject({ method: 'GET', url: '/private' })
    assertDetail(t, anonymous, 401)
  })

  t.test('refresh reads the refresh cookie and sets a new access cookie', async t => {
    const a = await withAlice({ ...COOKIES })
    const refresh = cookie(await login(a), COOKIES.jwtAuthRefreshCookie)?.value ?? ''
    const res = await dra(a, 'POST', '/token/refresh/', {}, cookieHeader({ [COOKIES.jwtAuthRefreshCookie]: refresh }))
    t.equal(res.statusCode, 200)
    const access = cookie(res, COOKIES.jwtAuthCookie)
    t.equal(access?.value, (json(res) as { access: string }).access)
    t.match(access?.attributes, { httponly: true, samesite: 'Lax' })
    t.equal(cookie(res, COOKIES.jwtAuthRefreshCookie), undefined, 'no rotation, no new refresh cookie')
  })

  t.test('logout clears both cookies and blacklists the refresh cookie\'s token', async t => {
    const a = await withAlice({ ...COOKIES, jwtAuthRefreshCookiePath: '/dj-rest-auth/' })
    const loginRes = await login(a)
    const jar = { [COOKIES.jwtAuthCookie]: cookie(loginRes, COOKIES.jwtAuthCookie)?.value ?? '', [COOKIES.jwtAuthRefreshCookie]: cookie(loginRes, COOKIES.jwtAuthRefreshCookie)?.value ?? '' }
    const res = await dra(a, 'POST', '/logout/', {}, cookieHeader(jar))
    t.equal(res.statusCode, 200)
    t.same(json(res), { detail: 'Successfully logged out.' })
    for (const [name, path] of [[COOKIES.jwtAuthCookie, '/'], [COOKIES.jwtAuthRefreshCookie, '/dj-rest-auth/']]) {
      const cleared = cookie(res, name)
      t.equal(cleared?.value, '', `${name} emptied`)
      t.match(cleared?.attributes, { 'max-age': '0', path, samesite: 'Lax' })
      t.equal(Date.parse(String(cleared?.attributes.expires)), 0, `${name} expired`)
    }
    assertTokenError(t, await dra(a, 'POST', '/token/refresh/', {}, cookieHeader({ [COOKIES.jwtAuthRefreshCookie]: jar[COOKIES.jwtAuthRefreshCookie] })), 'token_not_valid')
  })

  t.test('logout clears the cookies even when the refresh token is refused', async t => {
    const a = await withAlice({ ...COOKIES })
    const res = await dra(a, 'POST', '/logout/', {}, cookieHeader({ [COOKIES.jwtAuthRefreshCookie]: 'garbage' }))
    t.equal(res.statusCode, 401)
    t.same(json(res), { detail: 'Token is invalid or expired' })
    t.equal(cookie(res, COOKIES.jwtAuthCookie)?.value, '')
    t.equal(cookie(res, COOKIES.jwtAuthRefreshCookie)?.value, '')
  })

  t.test('an expired or bad access cookie does not stop a logout', async t => {
    const a = await withAlice({ ...COOKIES })
    const refresh = cookie(await login(a), COOKIES.jwtAuthRefreshCookie)?.value ?? ''
    const res = await dra(a, 'POST', '/logout/', {}, cookieHeader({ [COOKIES.jwtAuthCookie]: 'expired.or.bad', [COOKIES.jwtAuthRefreshCookie]: refresh }))
    t.equal(res.statusCode, 200)
    t.equal(cookie(res, COOKIES.jwtAuthCookie)?.value, '')
    assertTokenError(t, await dra(a, 'POST', '/token/refresh/', {}, cookieHeader({ [COOKIES.jwtAuthRefreshCookie]: refresh })), 'token_not_valid')
  })

  t.test('tokenBlacklist off with cookies: 200 "Successfully logged out." and the cookies cleared', async t => {
    const a = await withAlice({ ...COOKIES, tokenBlacklist: false })
    const res = await dra(a, 'POST', '/logout/')
    t.equal(res.statusCode, 200)
    t.same(json(res), { detail: 'Successfully logged out.' })
    t.equal(setCookies(res).length, 2)
  })

  t.test('SameSite=None clears with Secure, as Django does', async t => {
    const a = await withAlice({ ...COOKIES, jwtAuthSameSite: 'None', jwtAuthSecure: true, tokenBlacklist: false })
    const res = await dra(a, 'POST', '/logout/')
    t.match(cookie(res, COOKIES.jwtAuthCookie)?.attributes, { samesite: 'None', secure: true })
  })

  t.test('password/change/ through the cookie', async t => {
    const a = await withAlice({ ...COOKIES })
    const access = cookie(await login(a), COOKIES.jwtAuthCookie)?.value ?? ''
    const res = await dra(a, 'POST', '/password/change/', { new_password1: 'another-good-passphrase', new_password2: 'another-good-passphrase' }, cookieHeader({ [COOKIES.jwtAuthCookie]: access }))
    t.equal(res.statusCode, 200)
  })
})

t.test('JWT authentication errors on protected routes keep simplejwt\'s codes', async t => {
  t.test('a refresh token as access, an inactive or deleted user', async t => {
    const a = await withAlice({ jwtAuthHttpOnly: false })
    const { access, refresh } = await pair(a)
    const wrongType = await dra(a, 'GET', '/user/', undefined, bearer(refresh))
    assertTokenError(t, wrongType, 'token_not_valid')
    t.match(json(wrongType), { messages: [{ token_class: 'AccessToken', token_type: 'access' }] })
    await a.users.updateUser(1, { isActive: false })
    assertTokenError(t, await dra(a, 'GET', '/user/', undefined, bearer(access)), 'user_inactive')
    await a.users.deleteUser(1)
    assertTokenError(t, await dra(a, 'GET', '/user/', undefined, bearer(access)), 'user_not_found')
  })

  t.test('anonymous: 401 {detail} with the Bearer challenge', async t => {
    const a = await withAlice()
    const res = await dra(a, 'GET', '/user/')
    assertDetail(t, res, 401)
    t.equal(res.headers['www-authenticate'], 'Bearer realm="api"')
  })
})
