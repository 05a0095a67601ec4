import { generateKeyPairSync } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { json, PASSWORD } from './helpers/app.js'
import { apiPost, buildDrfJwtApp, closeDrfJwtApps, createUser, drfJwtAppFor, drfLogin, drfToken, getPrivate, nowSeconds } from './helpers/drf-jwt.js'
import { decodeJwt, signHmac, tamperSignature, unsigned } from './helpers/jwt.js'

type Body = Record<string, unknown>

/** drf-jwt's serializer failure: 400 {non_field_errors: [message]}, exactly. */
function assertNonField (t: Test, res: LightMyRequestResponse, message: string): void {
  t.equal(res.statusCode, 400, `400 (${res.body})`)
  t.same(json(res), { non_field_errors: [message] }, message)
}

/** DRF's field errors: 400 {field: [messages]} with exactly these fields and messages. */
function assertFields (t: Test, res: LightMyRequestResponse, fields: Record<string, string[]>): void {
  t.equal(res.statusCode, 400, `400 (${res.body})`)
  t.same(json(res), fields)
}

/** JSONWebTokenAuthentication's failure: 401 {detail} and its challenge. */
function assert401 (t: Test, res: LightMyRequestResponse, detail: string, prefix = 'JWT'): void {
  t.equal(res.statusCode, 401, `401 (${res.body})`)
  t.same(json(res), { detail }, detail)
  t.equal(res.headers['www-authenticate'], `${prefix} realm="api"`, 'the WWW-Authenticate challenge')
}

function payloadOf (token: string): Body {
  return decodeJwt(token).payload
}

const jwtHeader = (token: string) => ({ authorization: `JWT ${token}` })

// ---- POST /api-token-auth/ --------------------------------------------------------------------------

t.test('POST /api-token-auth/', async t => {
  const app = await drfJwtAppFor()

  t.test('good credentials: 200 with exactly {token}', async t => {
    const user = await createUser(app)
    const res = await apiPost(app, '/api-token-auth/', { username: user.username, password: PASSWORD })
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /^application\/json/)
    const body = json(res) as Body
    t.same(Object.keys(body), ['token'])
    t.type(body.token, 'string')
    t.notOk(res.headers['set-cookie'], 'no cookie unless authCookie is set')
  })

  t.test("the token carries drf-jwt's payload, exactly, signed HS256 with no iat", async t => {
    const user = await createUser(app)
    const before = nowSeconds()
    const token = await drfLogin(app, user.username)
    const after = nowSeconds()
    const { header, payload } = decodeJwt(token)
    t.same(header, { alg: 'HS256', typ: 'JWT' })
    t.same(Object.keys(payload), ['user_id', 'username', 'exp', 'email', 'sid'], 'user_id, username, exp, email in that order; no orig_iat without allowRefresh; the session last')
    t.match(payload.sid, /^[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$/, 'sid: the session, a UUIDv7 in hex (beyond drf-jwt)')
    t.equal(payload.user_id, user.id)
    t.equal(payload.username, user.username)
    t.equal(payload.email, user.email)
    t.ok((payload.exp as number) >= before + 300 && (payload.exp as number) <= after + 300, 'exp is now + 300 s (JWT_EXPIRATION_DELTA)')
  })

  t.test('the trailing slash is optional, and form bodies work', async t => {
    const user = await createUser(app)
    const bare = await apiPost(app, '/api-token-auth', { username: user.username, password: PASSWORD })
    t.equal(bare.statusCode, 200)
    const form = await app.app.inject({
      method: 'POST',
      url: '/api/api-token-auth/',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `username=${user.username}&password=${encodeURIComponent(PASSWORD)}`
    })
    t.equal(form.statusCode, 200, form.body)
    t.same(Object.keys(json(form) as Body), ['token'])
  })

  t.test('a wrong password: 400 non_field_errors "Unable to log in with provided credentials."', async t => {
    const user = await createUser(app)
    assertNonField(t, await apiPost(app, '/api-token-auth/', { username: user.username, password: 'wrong-password' }), 'Unable to log in with provided credentials.')
  })

  t.test('an unknown user: the same answer', async t => {
    assertNonField(t, await apiPost(app, '/api-token-auth/', { username: 'nobody-here', password: PASSWORD }), 'Unable to log in with provided credentials.')
  })

  t.test("an inactive user: the same answer (Django's ModelBackend refuses inactive users)", async t => {
    const user = await createUser(app, { isActive: false })
    assertNonField(t, await apiPost(app, '/api-token-auth/', { username: user.username, password: PASSWORD }), 'Unable to log in with provided credentials.')
  })

  t.test('missing fields: 400 per field "This field is required."', async t => {
    assertFields(t, await apiPost(app, '/api-token-auth/', {}), { username: ['This field is required.'], password: ['This field is required.'] })
    assertFields(t, await apiPost(app, '/api-token-auth/', { username: 'someone' }), { password: ['This field is required.'] })
    const empty = await app.app.inject({ method: 'POST', url: '/api/api-token-auth/' })
    assertFields(t, empty, { username: ['This field is required.'], password: ['This field is required.'] })
  })

  t.test('blank fields: "This field may not be blank."', async t => {
    assertFields(t, await apiPost(app, '/api-token-auth/', { username: '', password: '' }), {
      username: ['This field may not be blank.'], password: ['This field may not be blank.']
    })
  })

  t.test('bad bodies are 4xx in DRF shapes, never 500', async t => {
    const list = await apiPost(app, '/api-token-auth/', [1, 2])
    assertFields(t, list, { non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] })
    const malformed = await app.app.inject({ method: 'POST', url: '/api/api-token-auth/', headers: { 'content-type': 'application/json' }, payload: '{"username":' })
    t.equal(malformed.statusCode, 400)
    t.match(json(malformed), { detail: /^JSON parse error/ })
    const xml = await app.app.inject({ method: 'POST', url: '/api/api-token-auth/', headers: { 'content-type': 'text/xml' }, payload: '<a/>' })
    t.same([xml.statusCode, json(xml)], [415, { detail: 'Unsupported media type in request.' }])
    const huge = await apiPost(app, '/api-token-auth/', { username: 'x', password: 'p'.repeat(20000) })
    t.same([huge.statusCode, json(huge)], [413, { detail: 'Request body is too large.' }])
    const typed = await apiPost(app, '/api-token-auth/', { username: true, password: null })
    assertFields(t, typed, { username: ['Not a valid string.'], password: ['This field may not be null.'] })
  })

  t.test('last login is not recorded (drf-jwt does not), unless jwt.updateLastLogin', async t => {
    const user = await createUser(app)
    await drfLogin(app, user.username)
    t.equal((await app.users.findUserById(user.id))?.lastLogin, null)

    const recording = await drfJwtAppFor({ core: { jwt: { updateLastLogin: true } } })
    const other = await createUser(recording)
    await drfLogin(recording, other.username)
    t.type((await recording.users.findUserById(other.id))?.lastLogin, Date)
  })
})

t.test('allowRefresh: tokens carry orig_iat', async t => {
  const app = await drfJwtAppFor({ drfJwt: { allowRefresh: true } })
  const user = await createUser(app)
  const before = nowSeconds()
  const payload = payloadOf(await drfLogin(app, user.username))
  const after = nowSeconds()
  t.same(Object.keys(payload), ['user_id', 'username', 'exp', 'email', 'orig_iat', 'sid'])
  t.ok((payload.orig_iat as number) >= before && (payload.orig_iat as number) <= after, 'orig_iat is the login time')
  t.equal(payload.exp, (payload.orig_iat as number) + 300)
})

t.test('expirationDelta sets the lifetime', async t => {
  const app = await drfJwtAppFor({ drfJwt: { expirationDelta: 60, allowRefresh: true } })
  const user = await createUser(app)
  const payload = payloadOf(await drfLogin(app, user.username))
  t.equal((payload.exp as number) - (payload.orig_iat as number), 60)
})

t.test("loginField email: {email, password}, and the username claim is the email (Django's get_username())", async t => {
  const app = await drfJwtAppFor({ core: { loginField: 'email' } })
  const user = await createUser(app)
  const token = await drfLogin(app, user.email, PASSWORD, 'email')
  const payload = payloadOf(token)
  t.equal(payload.username, user.email)
  t.equal(payload.email, user.email)
  t.equal((await getPrivate(app, jwtHeader(token))).statusCode, 200, 'the token authenticates')
  t.equal((await apiPost(app, '/api-token-verify/', { token })).statusCode, 200, 'and verifies')
  assertFields(t, await apiPost(app, '/api-token-auth/', { username: user.username, password: PASSWORD }), { email: ['This field is required.'] })
})

t.test('jwt.audience and jwt.issuer are written as aud and iss, and required', async t => {
  const app = await drfJwtAppFor({ core: { jwt: { audience: 'api.example.com', issuer: 'https://auth.example.com' } } })
  const user = await createUser(app)
  const token = await drfLogin(app, user.username)
  t.same(Object.keys(payloadOf(token)), ['user_id', 'username', 'exp', 'email', 'aud', 'iss', 'sid'])
  t.match(payloadOf(token), { aud: 'api.example.com', iss: 'https://auth.example.com' })
  t.equal((await getPrivate(app, jwtHeader(token))).statusCode, 200)
  t.equal((await apiPost(app, '/api-token-verify/', { token })).statusCode, 200)

  const wrongAudience = drfToken(user, { aud: 'elsewhere', iss: 'https://auth.example.com' })
  assertNonField(t, await apiPost(app, '/api-token-verify/', { token: wrongAudience }), 'Error decoding signature.')
  assert401(t, await getPrivate(app, jwtHeader(wrongAudience)), 'Incorrect authentication credentials.')
  const noAudience = drfToken(user)
  assertNonField(t, await apiPost(app, '/api-token-verify/', { token: noAudience }), 'Error decoding signature.')
  assert401(t, await getPrivate(app, jwtHeader(noAudience)), 'Incorrect authentication credentials.')
})

t.test("tokens use the core's key and algorithm (RS256)", async t => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const app = await buildDrfJwtApp({
    core: {
      secretKey: 'a-secret-for-the-mailed-links-0123456789',
      jwt: {
        algorithm: 'RS256',
        signingKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        verifyingKey: publicKey.export({ type: 'spki', format: 'pem' }).toString()
      }
    }
  })
  t.teardown(() => app.app.close())
  const user = await createUser(app)
  const token = await drfLogin(app, user.username)
  t.equal(decodeJwt(token).header.alg, 'RS256')
  t.equal((await getPrivate(app, jwtHeader(token))).statusCode, 200)
  t.equal((await apiPost(app, '/api-token-verify/', { token })).statusCode, 200)
  assertNonField(t, await apiPost(app, '/api-token-verify/', { token: drfToken(user) }), 'Error decoding signature.')
})

t.test("api-token-auth/ spends the core's login budget (rateLimit): 429 {detail} with Retry-After", async t => {
  const app = await drfJwtAppFor({ core: { rateLimit: { perIp: { max: 5, timeWindow: 60 }, perAccountFailures: { max: 3, timeWindow: 60 } } } })
  const user = await createUser(app)
  const attempt = async (ip: string, password = 'wrong-password') =>
    await app.app.inject({ method: 'POST', url: '/api/api-token-auth/', payload: { username: user.username, password }, remoteAddress: ip })
  for (let i = 0; i < 3; i++) assertNonField(t, await attempt(`10.9.0.${i}`), 'Unable to log in with provided credentials.')
  const limited = await attempt('10.9.0.9', PASSWORD)
  t.equal(limited.statusCode, 429, 'the account budget is spent, even for the right password')
  t.same(Object.keys(json(limited) as Body), ['detail'])
  t.match(json(limited), { detail: /^Request was throttled\. Expected available in \d+ seconds\.$/ })
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After')
  const token = drfToken(user)
  for (let i = 0; i < 8; i++) t.equal((await apiPost(app, '/api-token-verify/', { token })).statusCode, 200, 'verify is never limited')
})

// ---- POST /api-token-verify/ ------------------------------------------------------------------------

t.test('POST /api-token-verify/', async t => {
  const app = await drfJwtAppFor()

  t.test('a valid token: 200 {token}, the same token back', async t => {
    const user = await createUser(app)
    const token = await drfLogin(app, user.username)
    const res = await apiPost(app, '/api-token-verify/', { token })
    t.equal(res.statusCode, 200)
    t.same(json(res), { token })
    t.equal((await apiPost(app, '/api-token-verify', { token })).statusCode, 200, 'the trailing slash is optional')
  })

  t.test('an expired token: "Signature has expired."', async t => {
    const user = await createUser(app)
    assertNonField(t, await apiPost(app, '/api-token-verify/', { token: drfToken(user, { exp: nowSeconds() - 10 }) }), 'Signature has expired.')
  })

  t.test('a bad signature, another key, garbage, alg none: "Error decoding signature."', async t => {
    const user = await createUser(app)
    const token = await drfLogin(app, user.username)
    for (const [what, bad] of [
      ['tampered signature', tamperSignature(token)],
      ['another key', drfToken(user, {}, 'another-secret-that-is-long-enough-0123')],
      ['garbage', 'not-a-token'],
      ['three garbage segments', 'a.b.c'],
      ['alg none', unsigned(payloadOf(token))],
      ['HS512 with the right key', signHmac(payloadOf(token), 'test-secret-that-is-long-enough-0123456789', 'HS512')]
    ] as const) {
      assertNonField(t, await apiPost(app, '/api-token-verify/', { token: bad }), 'Error decoding signature.')
      t.pass(what)
    }
  })

  t.test('a simplejwt token (no username claim): "Invalid payload."', async t => {
    const user = await createUser(app)
    const res = await app.app.inject({ method: 'POST', url: '/djoser/jwt/create/', payload: { username: user.username, password: PASSWORD } })
    const { access, refresh } = json(res) as { access: string, refresh: string }
    assertNonField(t, await apiPost(app, '/api-token-verify/', { token: access }), 'Invalid payload.')
    assertNonField(t, await apiPost(app, '/api-token-verify/', { token: refresh }), 'Invalid payload.')
    assertNonField(t, await apiPost(app, '/api-token-verify/', { token: drfToken(user, { username: '' }) }), 'Invalid payload.')
  })

  t.test('a deleted user: "User doesn\'t exist."', async t => {
    const user = await createUser(app)
    const token = await drfLogin(app, user.username)
    await app.users.deleteUser(user.id)
    assertNonField(t, await apiPost(app, '/api-token-verify/', { token }), "User doesn't exist.")
  })

  t.test("a renamed user's old token: \"User doesn't exist.\" (it names the old username)", async t => {
    const user = await createUser(app)
    const token = await drfLogin(app, user.username)
    await app.users.updateUser(user.id, { username: `${user.username}-renamed` })
    assertNonField(t, await apiPost(app, '/api-token-verify/', { token }), "User doesn't exist.")
    const other = await createUser(app)
    assertNonField(t, await apiPost(app, '/api-token-verify/', { token: drfToken({ ...other, id: user.id }) }), "User doesn't exist.")
  })

  t.test('an inactive user: "User account is disabled."', async t => {
    const user = await createUser(app)
    const token = await drfLogin(app, user.username)
    await app.users.updateUser(user.id, { isActive: false })
    assertNonField(t, await apiPost(app, '/api-token-verify/', { token }), 'User account is disabled.')
  })

  t.test('a missing, blank or ill-typed token: 400 {token}', async t => {
    assertFields(t, await apiPost(app, '/api-token-verify/', {}), { token: ['This field is required.'] })
    assertFields(t, await apiPost(app, '/api-token-verify/', { token: '' }), { token: ['This field may not be blank.'] })
    assertFields(t, await apiPost(app, '/api-token-verify/', { token: false }), { token: ['Not a valid string.'] })
    assertNonField(t, await apiPost(app, '/api-token-verify/', { token: 12345 }), 'Error decoding signature.')
  })
})

t.test('jwt.leeway lets a just-expired token through (JWT_LEEWAY)', async t => {
  const app = await drfJwtAppFor({ core: { jwt: { leeway: 60 } } })
  const user = await createUser(app)
  const token = drfToken(user, { exp: nowSeconds() - 10 })
  t.equal((await apiPost(app, '/api-token-verify/', { token })).statusCode, 200)
  t.equal((await getPrivate(app, jwtHeader(token))).statusCode, 200)
  assertNonField(t, await apiPost(app, '/api-token-verify/', { token: drfToken(user, { exp: nowSeconds() - 120 }) }), 'Signature has expired.')
})

t.test('verifyExpiration: false accepts expired tokens (JWT_VERIFY_EXPIRATION)', async t => {
  const app = await drfJwtAppFor({ drfJwt: { verifyExpiration: false } })
  const user = await createUser(app)
  const now = nowSeconds()
  const token = drfToken(user, { exp: now - 3600, orig_iat: now - 4000 })
  t.equal((await apiPost(app, '/api-token-verify/', { token })).statusCode, 200)
  t.equal((await getPrivate(app, jwtHeader(token))).statusCode, 200)
  t.equal((await apiPost(app, '/api-token-refresh/', { token })).statusCode, 200, 'and refreshes them within the refresh window')
  assertNonField(t, await apiPost(app, '/api-token-verify/', { token: tamperSignature(token) }), 'Error decoding signature.')
})

// ---- POST /api-token-refresh/ -----------------------------------------------------------------------

t.test('POST /api-token-refresh/', async t => {
  const app = await drfJwtAppFor({ drfJwt: { allowRefresh: true } })

  t.test('a valid token: 200 {token}, a new exp and the same orig_iat', async t => {
    const user = await createUser(app)
    const now = nowSeconds()
    const old = drfToken(user, { exp: now + 100, orig_iat: now - 1000 })
    const res = await apiPost(app, '/api-token-refresh/', { token: old })
    t.equal(res.statusCode, 200, res.body)
    const body = json(res) as { token: string }
    t.same(Object.keys(body), ['token'])
    const payload = payloadOf(body.token)
    t.same(Object.keys(payload), ['user_id', 'username', 'exp', 'email', 'orig_iat', 'sid'])
    t.equal(payload.orig_iat, now - 1000, 'orig_iat is carried over')
    t.ok((payload.exp as number) >= now + 300, 'exp is renewed')
    t.match(payload, { user_id: user.id, username: user.username, email: user.email })
    t.equal((await getPrivate(app, jwtHeader(body.token))).statusCode, 200, 'the new token authenticates')

    const again = await apiPost(app, '/api-token-refresh', { token: body.token })
    t.equal(again.statusCode, 200, 'refreshes chain (and the slash is optional)')
    t.equal(payloadOf((json(again) as { token: string }).token).orig_iat, now - 1000, 'still the first orig_iat')
  })

  t.test('audit events: login.succeeded, login.failed, token.refreshed', async t => {
    const events: Array<[string, unknown]> = []
    const succeeded = (payload: unknown) => { events.push(['login.succeeded', payload]) }
    const failed = (payload: unknown) => { events.push(['login.failed', payload]) }
    const refreshed = (payload: unknown) => { events.push(['token.refreshed', payload]) }
    app.app.accounts.events.on('login.succeeded', succeeded).on('login.failed', failed).on('token.refreshed', refreshed)
    t.teardown(() => { app.app.accounts.events.off('login.succeeded', succeeded).off('login.failed', failed).off('token.refreshed', refreshed) })
    const user = await createUser(app)
    await apiPost(app, '/api-token-auth/', { username: user.username, password: 'wrong-password' })
    const token = await drfLogin(app, user.username)
    await apiPost(app, '/api-token-refresh/', { token })
    const request = { requestId: String, ip: '127.0.0.1', userAgent: 'lightMyRequest' }
    t.match(events, [
      ['login.failed', { login: user.username, userId: user.id, reason: 'wrong-password', request }],
      ['login.succeeded', { userId: user.id, request }],
      ['token.refreshed', { userId: user.id, rotated: false, request }]
    ])
    t.equal(events.length, 3)
  })

  t.test('a freshly obtained token refreshes', async t => {
    const user = await createUser(app)
    const token = await drfLogin(app, user.username)
    const res = await apiPost(app, '/api-token-refresh/', { token })
    t.equal(res.statusCode, 200)
    t.equal(payloadOf((json(res) as { token: string }).token).orig_iat, payloadOf(token).orig_iat)
  })

  t.test('past orig_iat + refreshExpirationDelta (7 days): "Refresh has expired."', async t => {
    const user = await createUser(app)
    const now = nowSeconds()
    const week = 7 * 24 * 3600
    assertNonField(t, await apiPost(app, '/api-token-refresh/', { token: drfToken(user, { orig_iat: now - week - 5 }) }), 'Refresh has expired.')
    t.equal((await apiPost(app, '/api-token-refresh/', { token: drfToken(user, { orig_iat: now - week + 30 }) })).statusCode, 200, 'just inside the window')
  })

  t.test('an expired token: "Signature has expired." (drf-jwt 1.11 refreshes only live tokens)', async t => {
    const user = await createUser(app)
    const now = nowSeconds()
    assertNonField(t, await apiPost(app, '/api-token-refresh/', { token: drfToken(user, { exp: now - 5, orig_iat: now - 400 }) }), 'Signature has expired.')
  })

  t.test('no orig_iat, or not a number: "orig_iat field is required."', async t => {
    const user = await createUser(app)
    assertNonField(t, await apiPost(app, '/api-token-refresh/', { token: drfToken(user) }), 'orig_iat field is required.')
    assertNonField(t, await apiPost(app, '/api-token-refresh/', { token: drfToken(user, { orig_iat: 0 }) }), 'orig_iat field is required.')
    assertNonField(t, await apiPost(app, '/api-token-refresh/', { token: drfToken(user, { orig_iat: 'yesterday' }) }), 'orig_iat field is required.')
  })

  t.test('undecodable, foreign user, deleted or inactive user: the serializer messages', async t => {
    const user = await createUser(app)
    const token = await drfLogin(app, user.username)
    assertNonField(t, await apiPost(app, '/api-token-refresh/', { token: 'garbage' }), 'Error decoding signature.')
    assertNonField(t, await apiPost(app, '/api-token-refresh/', { token: tamperSignature(token) }), 'Error decoding signature.')
    assertNonField(t, await apiPost(app, '/api-token-refresh/', { token: drfToken(user, { username: undefined, orig_iat: nowSeconds() }) }), 'Invalid payload.')
    await app.users.updateUser(user.id, { isActive: false })
    assertNonField(t, await apiPost(app, '/api-token-refresh/', { token }), 'User account is disabled.')
    await app.users.deleteUser(user.id)
    assertNonField(t, await apiPost(app, '/api-token-refresh/', { token }), "User doesn't exist.")
  })

  t.test('a missing token: 400 {token}', async t => {
    assertFields(t, await apiPost(app, '/api-token-refresh/', {}), { token: ['This field is required.'] })
  })
})

t.test('refreshExpirationDelta bounds the refresh chain', async t => {
  const app = await drfJwtAppFor({ drfJwt: { allowRefresh: true, refreshExpirationDelta: 60 } })
  const user = await createUser(app)
  const now = nowSeconds()
  assertNonField(t, await apiPost(app, '/api-token-refresh/', { token: drfToken(user, { orig_iat: now - 120 }) }), 'Refresh has expired.')
  t.equal((await apiPost(app, '/api-token-refresh/', { token: drfToken(user, { orig_iat: now - 10 }) })).statusCode, 200)
})

t.test('allowRefresh false (the default): tokens have no orig_iat, so refresh answers "orig_iat field is required."', async t => {
  const app = await drfJwtAppFor()
  const user = await createUser(app)
  const token = await drfLogin(app, user.username)
  assertNonField(t, await apiPost(app, '/api-token-refresh/', { token }), 'orig_iat field is required.')
  // As drf-jwt: the refresh view checks orig_iat, not JWT_ALLOW_REFRESH; a token issued while it was on still refreshes.
  const earlier = drfToken(user, { orig_iat: nowSeconds() - 60 })
  const res = await apiPost(app, '/api-token-refresh/', { token: earlier })
  t.equal(res.statusCode, 200)
  t.equal(payloadOf((json(res) as { token: string }).token).orig_iat, payloadOf(earlier).orig_iat)
})

// ---- drfJwtAuthenticator ----------------------------------------------------------------------------

t.test('drfJwtAuthenticator on an app route', async t => {
  const app = await drfJwtAppFor()

  t.test('Authorization: JWT <token> fills request.user and request.auth', async t => {
    const user = await createUser(app)
    const token = await drfLogin(app, user.username)
    const res = await getPrivate(app, jwtHeader(token))
    t.equal(res.statusCode, 200, res.body)
    const body = json(res) as { user: Body, auth: Body }
    t.match(body.user, { id: user.id, username: user.username, email: user.email, isActive: true })
    t.notOk('password' in body.user, 'no password hash')
    t.same(body.auth, { scheme: 'jwt', claims: payloadOf(token) })
  })

  t.test('the prefix in any letter case, and extra whitespace, as DRF splits the header', async t => {
    const user = await createUser(app)
    const token = await drfLogin(app, user.username)
    t.equal((await getPrivate(app, { authorization: `jwt ${token}` })).statusCode, 200)
    t.equal((await getPrivate(app, { authorization: `JWT   ${token} ` })).statusCode, 200)
  })

  t.test('no credentials, or another scheme: "Authentication credentials were not provided."', async t => {
    const user = await createUser(app)
    const token = await drfLogin(app, user.username)
    assert401(t, await getPrivate(app), 'Authentication credentials were not provided.')
    assert401(t, await getPrivate(app, { authorization: `Bearer ${token}` }), 'Authentication credentials were not provided.')
    assert401(t, await getPrivate(app, { authorization: '   ' }), 'Authentication credentials were not provided.')
  })

  t.test('a malformed header: "Invalid Authorization header. …"', async t => {
    assert401(t, await getPrivate(app, { authorization: 'JWT' }), 'Invalid Authorization header. No credentials provided.')
    assert401(t, await getPrivate(app, { authorization: 'JWT one two' }), 'Invalid Authorization header. Credentials string should not contain spaces.')
  })

  t.test('expired, undecodable, foreign, deleted, renamed, inactive: drf-jwt\'s words', async t => {
    const user = await createUser(app)
    const token = await drfLogin(app, user.username)
    assert401(t, await getPrivate(app, jwtHeader(drfToken(user, { exp: nowSeconds() - 5 }))), 'Signature has expired.')
    assert401(t, await getPrivate(app, jwtHeader(tamperSignature(token))), 'Error decoding signature.')
    assert401(t, await getPrivate(app, jwtHeader('garbage')), 'Error decoding signature.')
    assert401(t, await getPrivate(app, jwtHeader(unsigned(payloadOf(token)))), 'Incorrect authentication credentials.')
    const simple = await app.app.inject({ method: 'POST', url: '/djoser/jwt/create/', payload: { username: user.username, password: PASSWORD } })
    assert401(t, await getPrivate(app, jwtHeader((json(simple) as { access: string }).access)), 'Invalid payload.')

    const renamed = await createUser(app)
    const renamedToken = await drfLogin(app, renamed.username)
    await app.users.updateUser(renamed.id, { username: `${renamed.username}-2` })
    assert401(t, await getPrivate(app, jwtHeader(renamedToken)), 'Invalid signature.')

    await app.users.updateUser(user.id, { isActive: false })
    assert401(t, await getPrivate(app, jwtHeader(token)), 'User account is disabled.')
    await app.users.deleteUser(user.id)
    assert401(t, await getPrivate(app, jwtHeader(token)), 'Invalid signature.')
  })

  t.test('the core\'s Bearer authenticate still answers in its own shape', async t => {
    const user = await createUser(app)
    const token = await drfLogin(app, user.username)
    const res = await app.app.inject({ method: 'GET', url: '/djoser/users/me/', headers: { authorization: `Bearer ${token}` } })
    t.equal(res.statusCode, 401)
    t.match(json(res), { code: 'token_not_valid' }, 'a drf-jwt token is no simplejwt access token')
  })
})

t.test('authHeaderPrefix: Bearer (JWT_AUTH_HEADER_PREFIX)', async t => {
  const app = await drfJwtAppFor({ drfJwt: { authHeaderPrefix: 'Bearer' } })
  const user = await createUser(app)
  const token = await drfLogin(app, user.username)
  t.equal((await getPrivate(app, { authorization: `Bearer ${token}` })).statusCode, 200)
  assert401(t, await getPrivate(app, jwtHeader(token)), 'Authentication credentials were not provided.', 'Bearer')
  assert401(t, await getPrivate(app, { authorization: 'Bearer' }), 'Invalid Authorization header. No credentials provided.', 'Bearer')
})

// ---- authCookie --------------------------------------------------------------------------------------

/** The Set-Cookie header for `name`, parsed into its value and attributes (lower-cased names). */
function cookieOf (res: LightMyRequestResponse, name: string): { value: string, attributes: Record<string, string | true> } | undefined {
  const raw = res.headers['set-cookie']
  const headers = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]
  const header = headers.find((h) => h.startsWith(`${name}=`))
  if (header === undefined) return undefined
  const [first, ...rest] = header.split(/;\s*/)
  const attributes: Record<string, string | true> = {}
  for (const part of rest) {
    const i = part.indexOf('=')
    if (i < 0) attributes[part.toLowerCase()] = true
    else attributes[part.slice(0, i).toLowerCase()] = part.slice(i + 1)
  }
  return { value: first.slice(name.length + 1), attributes }
}

t.test('authCookie (JWT_AUTH_COOKIE)', async t => {
  const app = await drfJwtAppFor({ drfJwt: { authCookie: 'jwt_token', allowRefresh: true } })

  t.test('every issued token is also set as an HttpOnly cookie living expirationDelta', async t => {
    const user = await createUser(app)
    const before = Date.now()
    const res = await apiPost(app, '/api-token-auth/', { username: user.username, password: PASSWORD })
    t.equal(res.statusCode, 200)
    const token = (json(res) as { token: string }).token
    const cookie = cookieOf(res, 'jwt_token')
    t.ok(cookie, 'Set-Cookie jwt_token')
    if (cookie === undefined) return
    t.equal(cookie.value, token)
    t.equal(cookie.attributes.httponly, true)
    t.equal(cookie.attributes.path, '/')
    t.equal(cookie.attributes['max-age'], '300')
    t.notOk('secure' in cookie.attributes, 'not Secure by default, as drf-jwt 1.11')
    const expires = Date.parse(cookie.attributes.expires as string)
    t.ok(expires >= Math.floor(before / 1000) * 1000 + 299_000 && expires <= Date.now() + 301_000, 'Expires is now + 300 s')

    const refreshed = await apiPost(app, '/api-token-refresh/', { token })
    t.equal(cookieOf(refreshed, 'jwt_token')?.value, (json(refreshed) as { token: string }).token, 'refresh sets it')
    const verified = await apiPost(app, '/api-token-verify/', { token })
    t.equal(cookieOf(verified, 'jwt_token')?.value, token, 'verify sets it (drf-jwt\'s views share one post())')
    t.notOk(cookieOf(await apiPost(app, '/api-token-auth/', { username: user.username, password: 'wrong' }), 'jwt_token'), 'a failure sets none')
  })

  t.test('the cookie authenticates when there is no Authorization header', async t => {
    const user = await createUser(app)
    const token = await drfLogin(app, user.username)
    const res = await getPrivate(app, { cookie: `other=1; jwt_token=${token}` })
    t.equal(res.statusCode, 200, res.body)
    t.equal((json(res) as { user: Body }).user.id, user.id)
    assert401(t, await getPrivate(app, { cookie: `jwt_token=${drfToken(user, { exp: nowSeconds() - 5 })}` }), 'Signature has expired.')
    assert401(t, await getPrivate(app, { cookie: 'jwt_token=' }), 'Error decoding signature.')
    assert401(t, await getPrivate(app, { cookie: 'other=1' }), 'Authentication credentials were not provided.')
  })

  t.test('an Authorization header takes precedence over the cookie', async t => {
    const user = await createUser(app)
    const token = await drfLogin(app, user.username)
    assert401(t, await getPrivate(app, { authorization: 'Bearer something', cookie: `jwt_token=${token}` }), 'Authentication credentials were not provided.')
    assert401(t, await getPrivate(app, { authorization: 'JWT garbage', cookie: `jwt_token=${token}` }), 'Error decoding signature.')
  })

  t.test('without authCookie, no cookie is set or read', async t => {
    const plain = await drfJwtAppFor()
    const user = await createUser(plain)
    const res = await apiPost(plain, '/api-token-auth/', { username: user.username, password: PASSWORD })
    t.notOk(res.headers['set-cookie'])
    assert401(t, await getPrivate(plain, { cookie: `jwt_token=${(json(res) as { token: string }).token}` }), 'Authentication credentials were not provided.')
  })

  t.test('authCookieSecure, authCookieSameSite, authCookieDomain, authCookiePath', async t => {
    const secure = await drfJwtAppFor({
      drfJwt: { authCookie: 'jwt', authCookieSecure: true, authCookieSameSite: 'strict', authCookieDomain: 'example.com', authCookiePath: '/app' }
    })
    const user = await createUser(secure)
    const cookie = cookieOf(await apiPost(secure, '/api-token-auth/', { username: user.username, password: PASSWORD }), 'jwt')
    t.match(cookie?.attributes, { secure: true, samesite: 'Strict', domain: 'example.com', path: '/app', httponly: true })
  })
})

// ---- handlers -----------------------------------------------------------------------------------------

t.test('responsePayloadHandler shapes the success body of all three endpoints', async t => {
  const seen: Array<{ url: string, hasPassword: boolean }> = []
  const app = await buildDrfJwtApp({
    drfJwt: {
      allowRefresh: true,
      responsePayloadHandler: async (token, user, request) => {
        seen.push({ url: request.url, hasPassword: 'password' in user })
        return { token, user: { id: user.id, username: user.username, email: user.email } }
      }
    }
  })
  t.teardown(() => app.app.close())
  const user = await createUser(app)
  const login = await apiPost(app, '/api-token-auth/', { username: user.username, password: PASSWORD })
  t.equal(login.statusCode, 200)
  const body = json(login) as { token: string, user: Body }
  t.same(body.user, { id: user.id, username: user.username, email: user.email })
  t.type(body.token, 'string')
  const refreshed = json(await apiPost(app, '/api-token-refresh/', { token: body.token })) as Body
  t.same(Object.keys(refreshed).sort(), ['token', 'user'])
  t.same(json(await apiPost(app, '/api-token-verify/', { token: body.token })), { token: body.token, user: body.user })
  t.same(seen.map((s) => s.url), ['/api/api-token-auth/', '/api/api-token-refresh/', '/api/api-token-verify/'], 'the request is passed')
  t.notOk(seen.some((s) => s.hasPassword), 'the user has no password hash')
  assertNonField(t, await apiPost(app, '/api-token-auth/', { username: user.username, password: 'wrong' }), 'Unable to log in with provided credentials.')
})

t.test('a failing responsePayloadHandler is a 500 in DRF\'s shape', async t => {
  const app = await buildDrfJwtApp({ drfJwt: { responsePayloadHandler: () => { throw new Error('boom') } } })
  t.teardown(() => app.app.close())
  const user = await createUser(app)
  const res = await apiPost(app, '/api-token-auth/', { username: user.username, password: PASSWORD })
  t.equal(res.statusCode, 500)
  t.same(json(res), { detail: 'A server error occurred.' })
})

t.test('payloadHandler adds claims (JWT_PAYLOAD_HANDLER); a payload without username is "Invalid payload."', async t => {
  const app = await buildDrfJwtApp({ drfJwt: { payloadHandler: (user, payload) => ({ ...payload, is_staff: user.isStaff }) } })
  t.teardown(() => app.app.close())
  const user = await createUser(app)
  const token = await drfLogin(app, user.username)
  t.same(Object.keys(payloadOf(token)), ['user_id', 'username', 'exp', 'email', 'sid', 'is_staff'])
  t.equal((await getPrivate(app, jwtHeader(token))).statusCode, 200)

  const broken = await buildDrfJwtApp({ drfJwt: { payloadHandler: ({ id }, { exp }) => ({ user_id: id, exp }) } })
  t.teardown(() => broken.app.close())
  const other = await createUser(broken)
  const bare = await drfLogin(broken, other.username)
  assertNonField(t, await apiPost(broken, '/api-token-verify/', { token: bare }), 'Invalid payload.')
  assert401(t, await getPrivate(broken, jwtHeader(bare)), 'Invalid payload.')
})

t.teardown(closeDrfJwtApps)
