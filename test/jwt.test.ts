import { generateKeyPairSync } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { activeUser, json, PASSWORD, SECRET, type TestApp } from './helpers/app.js'
import { appFor, claims, decodeJwt, me, nextUsername, post, setup, signHmac, tamperPayload, tamperSignature, unsigned } from './helpers/jwt.js'

type Body = Record<string, unknown>

const HEX32 = /^[0-9a-f]{32}$/

async function login (app: TestApp, username: string, password = PASSWORD): Promise<LightMyRequestResponse> {
  return await post(app, '/jwt/create/', { username, password })
}

async function pair (app: TestApp, username: string): Promise<{ access: string, refresh: string }> {
  const res = await login(app, username)
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.body}`)
  return json(res) as { access: string, refresh: string }
}

/** simplejwt's InvalidToken: 401 {detail, code: 'token_not_valid'[, messages]}. */
function assertTokenNotValid (t: Test, res: LightMyRequestResponse, what: string): void {
  t.equal(res.statusCode, 401, `${what}: 401`)
  const body = json(res) as Body
  t.equal(body.code, 'token_not_valid', `${what}: code token_not_valid`)
  t.type(body.detail, 'string', `${what}: detail is a message`)
}

function assertOk (t: Test, res: LightMyRequestResponse, what: string): void {
  t.equal(res.statusCode, 200, `${what}: 200 (${res.body})`)
}

function assertFieldError (t: Test, res: LightMyRequestResponse, fields: string[]): void {
  t.equal(res.statusCode, 400)
  const body = json(res) as Body
  t.same(Object.keys(body).sort(), [...fields].sort(), 'one key per bad field')
  for (const field of fields) {
    t.ok(Array.isArray(body[field]) && (body[field] as unknown[]).length > 0, `${field}: a list of messages`)
    t.ok((body[field] as unknown[]).every((m) => typeof m === 'string'), `${field}: messages are strings`)
  }
}

// ---- /jwt/create/ -----------------------------------------------------------------------------------

t.test('POST /jwt/create/', async t => {
  t.test('returns exactly {access, refresh} for good credentials', async t => {
    const { app, username } = await setup()
    const res = await login(app, username)
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /^application\/json/)
    const body = json(res) as Body
    t.same(Object.keys(body).sort(), ['access', 'refresh'])
    t.type(body.access, 'string')
    t.type(body.refresh, 'string')
    t.not(body.access, body.refresh)
  })

  t.test('the trailing slash is optional', async t => {
    const { app, username } = await setup()
    const res = await post(app, '/jwt/create', { username, password: PASSWORD })
    t.equal(res.statusCode, 200)
    t.same(Object.keys(json(res) as Body).sort(), ['access', 'refresh'])
  })

  t.test('tokens carry the claims simplejwt writes, HS256 header', async t => {
    const { app, id, username } = await setup()
    const before = Math.floor(Date.now() / 1000)
    const { access, refresh } = await pair(app, username)
    const after = Math.floor(Date.now() / 1000)

    const a = decodeJwt(access)
    const r = decodeJwt(refresh)
    t.equal(a.header.alg, 'HS256')
    t.equal(r.header.alg, 'HS256')
    t.equal(a.header.typ, 'JWT')

    t.equal(a.payload.token_type, 'access')
    t.equal(r.payload.token_type, 'refresh')
    for (const [name, p] of [['access', a.payload], ['refresh', r.payload]] as const) {
      t.equal(p.user_id, id, `${name}: user_id is the numeric id`)
      t.match(p.jti, HEX32, `${name}: jti is 32 hex chars`)
      t.type(p.iat, 'number', `${name}: iat`)
      t.type(p.exp, 'number', `${name}: exp`)
      t.ok((p.iat as number) >= before && (p.iat as number) <= after, `${name}: iat is now`)
      t.notOk('aud' in p, `${name}: no aud unless configured`)
      t.notOk('iss' in p, `${name}: no iss unless configured`)
    }
    t.not(a.payload.jti, r.payload.jti, 'each token has its own jti')
  })

  t.test('default lifetimes are 300 s (access) and 86400 s (refresh)', async t => {
    const { app, username } = await setup()
    const { access, refresh } = await pair(app, username)
    const a = decodeJwt(access).payload
    const r = decodeJwt(refresh).payload
    t.equal((a.exp as number) - (a.iat as number), 300)
    t.equal((r.exp as number) - (r.iat as number), 86400)
  })

  t.test('lifetimes follow accessTokenLifetime and refreshTokenLifetime', async t => {
    const { app, username } = await setup({ jwt: { accessTokenLifetime: 60, refreshTokenLifetime: 3600 } })
    const { access, refresh } = await pair(app, username)
    const a = decodeJwt(access).payload
    const r = decodeJwt(refresh).payload
    t.equal((a.exp as number) - (a.iat as number), 60)
    t.equal((r.exp as number) - (r.iat as number), 3600)
  })

  t.test('jti is fresh on every login', async t => {
    const { app, username } = await setup()
    const one = await pair(app, username)
    const two = await pair(app, username)
    t.not(decodeJwt(one.access).payload.jti, decodeJwt(two.access).payload.jti)
    t.not(decodeJwt(one.refresh).payload.jti, decodeJwt(two.refresh).payload.jti)
  })

  t.test('userIdClaim, tokenTypeClaim and jtiClaim rename the claims', async t => {
    const { app, id, username } = await setup({ jwt: { userIdClaim: 'uid', tokenTypeClaim: 'kind', jtiClaim: 'token_id' } })
    const { access, refresh } = await pair(app, username)
    const a = decodeJwt(access).payload
    const r = decodeJwt(refresh).payload
    t.equal(a.uid, id)
    t.equal(a.kind, 'access')
    t.match(a.token_id, HEX32)
    t.equal(r.kind, 'refresh')
    t.equal(r.uid, id)
    for (const p of [a, r]) {
      t.notOk('user_id' in p, 'no user_id')
      t.notOk('token_type' in p, 'no token_type')
      t.notOk('jti' in p, 'no jti')
    }
    t.equal((await me(app, `Bearer ${access}`)).statusCode, 200, 'the renamed access token authenticates')
    const refreshed = await post(app, '/jwt/refresh/', { refresh })
    t.equal(refreshed.statusCode, 200, 'the renamed refresh token refreshes')
    t.equal(decodeJwt((json(refreshed) as Body).access as string).payload.uid, id)
    t.equal((await post(app, '/jwt/verify/', { token: access })).statusCode, 200)
  })

  t.test('with renamed claims, a token using the default names is rejected', async t => {
    const { app, id } = await setup({ jwt: { userIdClaim: 'uid', tokenTypeClaim: 'kind', jtiClaim: 'token_id' } })
    const forged = signHmac(claims(id, 'access'), SECRET)
    assertTokenNotValid(t, await me(app, `Bearer ${forged}`), 'default claim names')
  })

  t.test('updateLastLogin: true records the login in the store', async t => {
    const { app, id, username } = await setup({ jwt: { updateLastLogin: true } })
    await app.users.updateUser(id, { lastLogin: null })
    const before = Date.now()
    assertOk(t, await login(app, username), 'login')
    const user = await app.users.findUserById(id)
    t.ok(user?.lastLogin instanceof Date, 'lastLogin is set')
    t.ok((user?.lastLogin?.getTime() ?? 0) >= before - 1000, 'lastLogin is now')
  })

  t.test('updateLastLogin: false (default) leaves lastLogin null', async t => {
    const { app, id, username } = await setup()
    assertOk(t, await login(app, username), 'login')
    t.equal((await app.users.findUserById(id))?.lastLogin, null)
  })

  t.test('a failed login does not record a login', async t => {
    const { app, id, username } = await setup({ jwt: { updateLastLogin: true } })
    await app.users.updateUser(id, { lastLogin: null })
    t.equal((await login(app, username, 'wrong-password-123')).statusCode, 401)
    t.equal((await app.users.findUserById(id))?.lastLogin, null)
  })

  t.test('wrong password, unknown user and inactive user: 401 {detail}, identical bodies', async t => {
    const { app, username } = await setup()
    const inactiveUser = await setup()
    await app.users.updateUser(inactiveUser.id, { isActive: false })

    const wrong = await login(app, username, 'not-the-password-42')
    const unknown = await login(app, 'nobody', PASSWORD)
    const inactive = await login(app, inactiveUser.username, PASSWORD)
    for (const [name, res] of [['wrong password', wrong], ['unknown user', unknown], ['inactive user', inactive]] as const) {
      t.equal(res.statusCode, 401, `${name}: 401`)
      const body = json(res) as Body
      t.same(Object.keys(body), ['detail'], `${name}: only detail`)
      t.type(body.detail, 'string')
    }
    t.equal(unknown.body, wrong.body, 'unknown user looks like a wrong password')
    t.equal(inactive.body, wrong.body, 'inactive user looks like a wrong password')
    t.equal(wrong.headers['www-authenticate'], 'Bearer realm="api"')
  })

  t.test('missing fields: 400 {field: [..]}', async t => {
    const { app, username } = await setup()
    assertFieldError(t, await post(app, '/jwt/create/', {}), ['username', 'password'])
    assertFieldError(t, await post(app, '/jwt/create/', { username }), ['password'])
    assertFieldError(t, await post(app, '/jwt/create/', { password: PASSWORD }), ['username'])
    assertFieldError(t, await post(app, '/jwt/create/', { username: '', password: '' }), ['username', 'password'])
  })

  t.test('form-encoded credentials work', async t => {
    const { app, username } = await setup()
    const res = await app.app.inject({
      method: 'POST',
      url: '/auth/jwt/create/',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `username=${username}&password=${encodeURIComponent(PASSWORD)}`
    })
    t.equal(res.statusCode, 200)
    t.same(Object.keys(json(res) as Body).sort(), ['access', 'refresh'])
  })

  t.test('malformed JSON: 400 {detail}', async t => {
    const app = await appFor()
    const res = await app.app.inject({
      method: 'POST', url: '/auth/jwt/create/', headers: { 'content-type': 'application/json' }, payload: '{"username":'
    })
    t.equal(res.statusCode, 400)
    t.type((json(res) as Body).detail, 'string')
  })
})

// ---- audience / issuer ------------------------------------------------------------------------------

t.test('audience and issuer', async t => {
  const opts = { jwt: { audience: 'my-frontend', issuer: 'https://issuer.example' } }

  t.test('add aud and iss to both tokens', async t => {
    const { app, username } = await setup(opts)
    const { access, refresh } = await pair(app, username)
    for (const token of [access, refresh]) {
      const p = decodeJwt(token).payload
      t.equal(p.aud, 'my-frontend')
      t.equal(p.iss, 'https://issuer.example')
    }
    t.equal((await me(app, `Bearer ${access}`)).statusCode, 200)
    const refreshed = await post(app, '/jwt/refresh/', { refresh })
    t.equal(refreshed.statusCode, 200)
    const p = decodeJwt((json(refreshed) as Body).access as string).payload
    t.equal(p.aud, 'my-frontend', 'the refreshed access token keeps aud')
    t.equal(p.iss, 'https://issuer.example', 'the refreshed access token keeps iss')
  })

  t.test('a hand-signed token with the right aud and iss is accepted (control)', async t => {
    const { app, id } = await setup(opts)
    const token = signHmac({ ...claims(id, 'access'), aud: 'my-frontend', iss: 'https://issuer.example' }, SECRET)
    t.equal((await me(app, `Bearer ${token}`)).statusCode, 200)
    t.equal((await post(app, '/jwt/verify/', { token })).statusCode, 200)
  })

  t.test('a token without aud and iss, signed with the same key, is rejected', async t => {
    const { app, id } = await setup(opts)
    const token = signHmac(claims(id, 'access'), SECRET)
    assertTokenNotValid(t, await me(app, `Bearer ${token}`), '/users/me/')
    assertTokenNotValid(t, await post(app, '/jwt/verify/', { token }), '/jwt/verify/')
    const refresh = signHmac(claims(id, 'refresh'), SECRET)
    assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh }), '/jwt/refresh/')
  })

  t.test('a token with only one of aud / iss is rejected', async t => {
    const { app, id } = await setup(opts)
    const onlyAud = signHmac({ ...claims(id, 'access'), aud: 'my-frontend' }, SECRET)
    const onlyIss = signHmac({ ...claims(id, 'access'), iss: 'https://issuer.example' }, SECRET)
    assertTokenNotValid(t, await me(app, `Bearer ${onlyAud}`), 'missing iss')
    assertTokenNotValid(t, await me(app, `Bearer ${onlyIss}`), 'missing aud')
  })

  t.test('a token for another audience or issuer is rejected', async t => {
    const { app, id } = await setup(opts)
    const otherAud = signHmac({ ...claims(id, 'access'), aud: 'someone-else', iss: 'https://issuer.example' }, SECRET)
    const otherIss = signHmac({ ...claims(id, 'access'), aud: 'my-frontend', iss: 'https://evil.example' }, SECRET)
    assertTokenNotValid(t, await me(app, `Bearer ${otherAud}`), 'other aud')
    assertTokenNotValid(t, await me(app, `Bearer ${otherIss}`), 'other iss')
    assertTokenNotValid(t, await post(app, '/jwt/verify/', { token: otherAud }), 'verify other aud')
  })
})

// ---- /jwt/refresh/ ----------------------------------------------------------------------------------

t.test('POST /jwt/refresh/', async t => {
  t.test('returns exactly {access} by default, a new access token for the same user', async t => {
    const { app, id, username } = await setup()
    const { refresh } = await pair(app, username)
    const res = await post(app, '/jwt/refresh/', { refresh })
    t.equal(res.statusCode, 200)
    const body = json(res) as Body
    t.same(Object.keys(body), ['access'])
    const p = decodeJwt(body.access as string).payload
    t.equal(p.token_type, 'access')
    t.equal(p.user_id, id)
    t.match(p.jti, HEX32)
    t.not(p.jti, decodeJwt(refresh).payload.jti)
    t.equal((p.exp as number) - (p.iat as number), 300)
    t.equal((await me(app, `Bearer ${body.access as string}`)).statusCode, 200, 'the new access token works')
  })

  t.test('without rotation the same refresh token can be used again', async t => {
    const { app, username } = await setup()
    const { refresh } = await pair(app, username)
    assertOk(t, await post(app, '/jwt/refresh/', { refresh }), 'first')
    assertOk(t, await post(app, '/jwt/refresh/', { refresh }), 'second')
  })

  t.test('an access token given as refresh: 401 {detail, code: token_not_valid}', async t => {
    const { app, username } = await setup()
    const { access } = await pair(app, username)
    const res = await post(app, '/jwt/refresh/', { refresh: access })
    assertTokenNotValid(t, res, 'access as refresh')
    t.same(Object.keys(json(res) as Body).sort(), ['code', 'detail'])
  })

  t.test('garbage: 401 token_not_valid', async t => {
    const app = await appFor()
    for (const refresh of ['garbage', 'a.b.c', 'eyJhbGciOiJIUzI1NiJ9.e30.', '....']) {
      assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh }), JSON.stringify(refresh))
    }
  })

  t.test('a hand-signed refresh token that is still valid is accepted (control)', async t => {
    const { app, id } = await setup()
    const refresh = signHmac(claims(id, 'refresh'), SECRET)
    assertOk(t, await post(app, '/jwt/refresh/', { refresh }), 'forged but valid')
  })

  t.test('expired: 401 token_not_valid', async t => {
    const { app, id } = await setup()
    const refresh = signHmac(claims(id, 'refresh', { iatOffset: -90000, lifetime: 86400 }), SECRET)
    assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh }), 'expired')
  })

  t.test('a refresh token without exp: 401 token_not_valid', async t => {
    const { app, id } = await setup()
    const { exp: _exp, ...noExp } = claims(id, 'refresh')
    assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh: signHmac(noExp, SECRET) }), 'no exp')
  })

  t.test('tampered signature or payload: 401 token_not_valid', async t => {
    const { app, username } = await setup()
    const { refresh } = await pair(app, username)
    assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh: tamperSignature(refresh) }), 'signature')
    const raised = tamperPayload(refresh, (p) => ({ ...p, user_id: 2 }))
    assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh: raised }), 'payload')
    assertOk(t, await post(app, '/jwt/refresh/', { refresh }), 'the untouched token still works')
  })

  t.test('signed with another secret: 401 token_not_valid', async t => {
    const { app, id } = await setup()
    const refresh = signHmac(claims(id, 'refresh'), 'another-secret-that-is-long-enough-42')
    assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh }), 'other secret')
  })

  t.test('missing refresh: 400 {refresh: [..]}', async t => {
    const app = await appFor()
    assertFieldError(t, await post(app, '/jwt/refresh/', {}), ['refresh'])
    assertFieldError(t, await post(app, '/jwt/refresh/', { refresh: '' }), ['refresh'])
  })

  t.test('rotateRefreshTokens: {access, refresh} with a new jti; the new refresh works', async t => {
    const { app, id, username } = await setup({ jwt: { rotateRefreshTokens: true } })
    const { refresh } = await pair(app, username)
    const res = await post(app, '/jwt/refresh/', { refresh })
    t.equal(res.statusCode, 200)
    const body = json(res) as Body
    t.same(Object.keys(body).sort(), ['access', 'refresh'])
    const next = decodeJwt(body.refresh as string).payload
    t.equal(next.token_type, 'refresh')
    t.equal(next.user_id, id)
    t.match(next.jti, HEX32)
    t.not(next.jti, decodeJwt(refresh).payload.jti, 'new jti')
    t.equal((next.exp as number) - (next.iat as number), 86400, 'a full refresh lifetime')
    t.equal(decodeJwt(body.access as string).payload.token_type, 'access')
    assertOk(t, await post(app, '/jwt/refresh/', { refresh: body.refresh }), 'the rotated refresh works')
  })

  t.test('rotation with reuse detection: reusing the old refresh is 401 and revokes the new one too', async t => {
    // refreshReuseInterval 0: any reuse counts (test/token-security.test.ts covers the interval).
    const { app, username } = await setup({ jwt: { rotateRefreshTokens: true, refreshReuseInterval: 0 } })
    const { refresh: first } = await pair(app, username)
    const rotated = await post(app, '/jwt/refresh/', { refresh: first })
    t.equal(rotated.statusCode, 200)
    const second = (json(rotated) as Body).refresh as string

    assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh: first }), 'reused old refresh')
    assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh: second }), 'new refresh of the same family')
    assertTokenNotValid(t, await post(app, '/jwt/verify/', { token: second }), 'verify new refresh of the family')
  })

  t.test('reuse detection revokes only that family: another login of the same user keeps working', async t => {
    const { app, username } = await setup({ jwt: { rotateRefreshTokens: true, refreshReuseInterval: 0 } })
    const { refresh: first } = await pair(app, username)
    const { refresh: other } = await pair(app, username)
    t.equal((await post(app, '/jwt/refresh/', { refresh: first })).statusCode, 200)
    t.equal((await post(app, '/jwt/refresh/', { refresh: first })).statusCode, 401)
    assertOk(t, await post(app, '/jwt/refresh/', { refresh: other }), 'other family')
  })

  t.test('refreshReuseDetection: false and blacklistAfterRotation: false: the old refresh still works', async t => {
    const { app, username } = await setup({ jwt: { rotateRefreshTokens: true, refreshReuseDetection: false, blacklistAfterRotation: false } })
    const { refresh: first } = await pair(app, username)
    const one = await post(app, '/jwt/refresh/', { refresh: first })
    t.equal(one.statusCode, 200)
    const two = await post(app, '/jwt/refresh/', { refresh: first })
    t.equal(two.statusCode, 200, 'simplejwt lets an un-blacklisted old refresh token be used again')
    t.same(Object.keys(json(two) as Body).sort(), ['access', 'refresh'])
    assertOk(t, await post(app, '/jwt/refresh/', { refresh: (json(one) as Body).refresh }), 'the first rotation result works')
  })

  t.test('blacklistAfterRotation: true: the old refresh is 401 on refresh and on verify', async t => {
    const { app, username } = await setup({ jwt: { rotateRefreshTokens: true, blacklistAfterRotation: true } })
    const { refresh: first } = await pair(app, username)
    assertOk(t, await post(app, '/jwt/verify/', { token: first }), 'verify before rotation')
    const rotated = await post(app, '/jwt/refresh/', { refresh: first })
    t.equal(rotated.statusCode, 200)
    assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh: first }), 'old refresh')
    assertTokenNotValid(t, await post(app, '/jwt/verify/', { token: first }), 'verify old refresh')
  })

  t.test('blacklistAfterRotation with reuse detection (default): reusing the old refresh revokes the family', async t => {
    const { app, username } = await setup({ jwt: { rotateRefreshTokens: true, blacklistAfterRotation: true, refreshReuseInterval: 0 } })
    const { refresh: first } = await pair(app, username)
    const rotated = await post(app, '/jwt/refresh/', { refresh: first })
    t.equal(rotated.statusCode, 200)
    const second = (json(rotated) as Body).refresh as string
    assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh: first }), 'reused old refresh')
    assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh: second }), 'new refresh of the reused family')
  })

  t.test('blacklistAfterRotation without reuse detection: the new refresh survives a reuse of the old', async t => {
    const { app, username } = await setup({ jwt: { rotateRefreshTokens: true, blacklistAfterRotation: true, refreshReuseDetection: false } })
    const { refresh: first } = await pair(app, username)
    const rotated = await post(app, '/jwt/refresh/', { refresh: first })
    const second = (json(rotated) as Body).refresh as string
    assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh: first }), 'old refresh')
    assertOk(t, await post(app, '/jwt/refresh/', { refresh: second }), 'new refresh')
  })

  t.test('a refresh token for a deleted user does not mint access tokens that work', async t => {
    const { app, id, username } = await setup()
    const { refresh } = await pair(app, username)
    await app.users.deleteUser(id)
    const res = await post(app, '/jwt/refresh/', { refresh })
    if (res.statusCode === 200) {
      const access = (json(res) as Body).access as string
      const body = json(await me(app, `Bearer ${access}`)) as Body
      t.equal(body.code, 'user_not_found', 'the minted access token is refused')
    } else {
      t.equal(res.statusCode, 401)
    }
  })
})

// ---- /jwt/verify/ -----------------------------------------------------------------------------------

t.test('POST /jwt/verify/', async t => {
  t.test('200 {} for a valid access token and a valid refresh token', async t => {
    const { app, username } = await setup()
    const { access, refresh } = await pair(app, username)
    for (const token of [access, refresh]) {
      const res = await post(app, '/jwt/verify/', { token })
      t.equal(res.statusCode, 200)
      t.same(json(res), {})
    }
  })

  t.test('401 token_not_valid for garbage, expired, tampered and foreign tokens', async t => {
    const { app, id, username } = await setup()
    const { access } = await pair(app, username)
    const cases: Array<[string, string]> = [
      ['garbage', 'not-a-token'],
      ['expired access', signHmac(claims(id, 'access', { iatOffset: -400 }), SECRET)],
      ['expired refresh', signHmac(claims(id, 'refresh', { iatOffset: -90000 }), SECRET)],
      ['tampered signature', tamperSignature(access)],
      ['tampered payload', tamperPayload(access, (p) => ({ ...p, user_id: 999 }))],
      ['other secret', signHmac(claims(id, 'access'), 'another-secret-that-is-long-enough-42')],
      ['unsigned', unsigned(claims(id, 'access'))]
    ]
    for (const [name, token] of cases) {
      const res = await post(app, '/jwt/verify/', { token })
      assertTokenNotValid(t, res, name)
      t.same(Object.keys(json(res) as Body).sort(), ['code', 'detail'], `${name}: {detail, code}`)
    }
  })

  t.test('a token with no token_type or no jti is not valid', async t => {
    const { app, id } = await setup()
    const { token_type: _type, ...noType } = claims(id, 'access')
    const { jti: _jti, ...noJti } = claims(id, 'access')
    assertTokenNotValid(t, await post(app, '/jwt/verify/', { token: signHmac(noType, SECRET) }), 'no token_type')
    assertTokenNotValid(t, await post(app, '/jwt/verify/', { token: signHmac(noJti, SECRET) }), 'no jti')
  })

  t.test('missing token: 400 {token: [..]}', async t => {
    const app = await appFor()
    assertFieldError(t, await post(app, '/jwt/verify/', {}), ['token'])
    assertFieldError(t, await post(app, '/jwt/verify/', { token: '' }), ['token'])
  })
})

// ---- /jwt/blacklist/ --------------------------------------------------------------------------------

t.test('POST /jwt/blacklist/', async t => {
  t.test('200 {}; the refresh token then fails refresh, verify and a second blacklist', async t => {
    const { app, username } = await setup()
    const { refresh } = await pair(app, username)
    const res = await post(app, '/jwt/blacklist/', { refresh })
    t.equal(res.statusCode, 200)
    t.same(json(res), {})
    assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh }), 'refresh with a blacklisted token')
    assertTokenNotValid(t, await post(app, '/jwt/blacklist/', { refresh }), 'blacklisting again')
    assertTokenNotValid(t, await post(app, '/jwt/verify/', { token: refresh }), 'verify a blacklisted token')
  })

  t.test('blacklisting one refresh token leaves other logins alone', async t => {
    const { app, username } = await setup()
    const one = await pair(app, username)
    const two = await pair(app, username)
    t.equal((await post(app, '/jwt/blacklist/', { refresh: one.refresh })).statusCode, 200)
    assertOk(t, await post(app, '/jwt/refresh/', { refresh: two.refresh }), 'other refresh token')
  })

  t.test('an access token: 401 token_not_valid, and it stays usable', async t => {
    const { app, username } = await setup()
    const { access } = await pair(app, username)
    assertTokenNotValid(t, await post(app, '/jwt/blacklist/', { refresh: access }), 'access token')
    t.equal((await me(app, `Bearer ${access}`)).statusCode, 200)
  })

  t.test('garbage and expired tokens: 401 token_not_valid', async t => {
    const { app, id } = await setup()
    assertTokenNotValid(t, await post(app, '/jwt/blacklist/', { refresh: 'garbage' }), 'garbage')
    const expired = signHmac(claims(id, 'refresh', { iatOffset: -90000 }), SECRET)
    assertTokenNotValid(t, await post(app, '/jwt/blacklist/', { refresh: expired }), 'expired')
  })

  t.test('missing refresh: 400 {refresh: [..]}', async t => {
    const app = await appFor()
    assertFieldError(t, await post(app, '/jwt/blacklist/', {}), ['refresh'])
  })

  t.test('with rotation, a blacklisted refresh cannot be rotated', async t => {
    const { app, username } = await setup({ jwt: { rotateRefreshTokens: true } })
    const { refresh } = await pair(app, username)
    t.equal((await post(app, '/jwt/blacklist/', { refresh })).statusCode, 200)
    assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh }), 'rotate a blacklisted token')
  })
})

// ---- asymmetric keys --------------------------------------------------------------------------------

const spki = { type: 'spki', format: 'pem' } as const
const pkcs8 = { type: 'pkcs8', format: 'pem' } as const
const rsaPair = (): { publicKey: string, privateKey: string } =>
  generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: spki, privateKeyEncoding: pkcs8 })
const rsa = rsaPair()
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: spki, privateKeyEncoding: pkcs8 })
const ed = generateKeyPairSync('ed25519', { publicKeyEncoding: spki, privateKeyEncoding: pkcs8 })
const LINK_SECRET = 'link-secret-0123456789abcdef-0123456789abcdef'

t.test('asymmetric algorithms', async t => {
  const cases = [
    ['RS256', rsa],
    ['ES256', ec],
    ['EdDSA', ed]
  ] as const
  for (const [algorithm, keys] of cases) {
    t.test(`${algorithm}: log in, header alg, /users/me/, refresh and verify`, async t => {
      const app = await appFor({
        secretKey: LINK_SECRET,
        jwt: { algorithm, signingKey: keys.privateKey, verifyingKey: keys.publicKey }
      })
      const username = nextUsername()
      const { id } = await activeUser(app, username)
      const { access, refresh } = await pair(app, username)
      t.equal(decodeJwt(access).header.alg, algorithm)
      t.equal(decodeJwt(refresh).header.alg, algorithm)
      t.equal(decodeJwt(access).payload.user_id, id)
      const res = await me(app, `Bearer ${access}`)
      t.equal(res.statusCode, 200)
      t.same(json(res), { id, username, email: `${username}@example.com` })
      const refreshed = await post(app, '/jwt/refresh/', { refresh })
      t.equal(refreshed.statusCode, 200)
      t.equal(decodeJwt((json(refreshed) as Body).access as string).header.alg, algorithm)
      t.equal((await post(app, '/jwt/verify/', { token: access })).statusCode, 200)
      assertTokenNotValid(t, await me(app, `Bearer ${tamperSignature(access)}`), 'tampered signature')
    })
  }

  t.test('RS256: a token signed with another RSA key is rejected', async t => {
    const other = rsaPair()
    const { app } = await setup({ secretKey: LINK_SECRET, jwt: { algorithm: 'RS256', signingKey: rsa.privateKey, verifyingKey: rsa.publicKey } })
    const { access } = await setup({ secretKey: LINK_SECRET, jwt: { algorithm: 'RS256', signingKey: other.privateKey, verifyingKey: other.publicKey } })
    assertTokenNotValid(t, await me(app, `Bearer ${access}`), 'other RSA key')
  })
})

// ---- attacks ----------------------------------------------------------------------------------------

t.test('attacks', async t => {
  t.test('control: a correctly hand-signed HS256 token is accepted', async t => {
    const { app, id } = await setup()
    const token = signHmac(claims(id, 'access'), SECRET)
    t.equal((await me(app, `Bearer ${token}`)).statusCode, 200)
    t.equal((await post(app, '/jwt/verify/', { token })).statusCode, 200)
  })

  t.test('alg none (no signature) is rejected', async t => {
    const { app, id } = await setup()
    for (const token of [unsigned(claims(id, 'access')), unsigned(claims(id, 'access')).slice(0, -1)]) {
      const res = await me(app, `Bearer ${token}`)
      assertTokenNotValid(t, res, '/users/me/')
      assertTokenNotValid(t, await post(app, '/jwt/verify/', { token }), '/jwt/verify/')
    }
    assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh: unsigned(claims(id, 'refresh')) }), '/jwt/refresh/')
  })

  t.test('alg none is rejected by an RS256 app too', async t => {
    const { app, id } = await setup({ secretKey: LINK_SECRET, jwt: { algorithm: 'RS256', signingKey: rsa.privateKey, verifyingKey: rsa.publicKey } })
    const token = unsigned(claims(id, 'access'))
    assertTokenNotValid(t, await me(app, `Bearer ${token}`), '/users/me/')
    assertTokenNotValid(t, await post(app, '/jwt/verify/', { token }), '/jwt/verify/')
  })

  t.test('algorithm confusion: HS256 signed with the RSA public key PEM is rejected by an RS256 app', async t => {
    const { app, id } = await setup({ secretKey: LINK_SECRET, jwt: { algorithm: 'RS256', signingKey: rsa.privateKey, verifyingKey: rsa.publicKey } })
    for (const key of [rsa.publicKey, rsa.publicKey.trim()]) {
      const token = signHmac(claims(id, 'access'), key)
      assertTokenNotValid(t, await me(app, `Bearer ${token}`), '/users/me/')
      assertTokenNotValid(t, await post(app, '/jwt/verify/', { token }), '/jwt/verify/')
      assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh: signHmac(claims(id, 'refresh'), key) }), '/jwt/refresh/')
    }
  })

  t.test('another HMAC algorithm with the right secret is rejected (one allowed algorithm)', async t => {
    const { app, id } = await setup()
    const token = signHmac(claims(id, 'access'), SECRET, 'HS512')
    assertTokenNotValid(t, await me(app, `Bearer ${token}`), 'HS512 against HS256 app')
  })

  t.test('a token signed with another secret is rejected', async t => {
    const { app, id } = await setup()
    const token = signHmac(claims(id, 'access'), 'another-secret-that-is-long-enough-42')
    assertTokenNotValid(t, await me(app, `Bearer ${token}`), '/users/me/')
    assertTokenNotValid(t, await post(app, '/jwt/verify/', { token }), '/jwt/verify/')
  })

  t.test('a token from another app with a different secret is rejected', async t => {
    const { app } = await setup()
    const { access } = await setup({ jwt: { signingKey: 'a-completely-different-secret-9876543210' } })
    assertTokenNotValid(t, await me(app, `Bearer ${access}`), 'foreign token')
  })

  t.test('a raised user_id in a re-encoded payload is rejected', async t => {
    const { app, username } = await setup()
    const bob = await setup()
    const { access } = await pair(app, username)
    const forged = tamperPayload(access, (p) => ({ ...p, user_id: bob.id }))
    assertTokenNotValid(t, await me(app, `Bearer ${forged}`), 'raised user_id')
  })
})

// ---- leeway -----------------------------------------------------------------------------------------

t.test('leeway', async t => {
  t.test('a token expired 5 s ago fails with leeway 0', async t => {
    const { app, id } = await setup()
    const token = signHmac(claims(id, 'access', { iatOffset: -305 }), SECRET)
    assertTokenNotValid(t, await me(app, `Bearer ${token}`), '/users/me/')
    assertTokenNotValid(t, await post(app, '/jwt/verify/', { token }), '/jwt/verify/')
  })

  t.test('a token expired 5 s ago passes with leeway: 30', async t => {
    const { app, id } = await setup({ jwt: { leeway: 30 } })
    const token = signHmac(claims(id, 'access', { iatOffset: -305 }), SECRET)
    t.equal((await me(app, `Bearer ${token}`)).statusCode, 200)
    t.equal((await post(app, '/jwt/verify/', { token })).statusCode, 200)
  })

  t.test('a token expired 60 s ago fails even with leeway: 30', async t => {
    const { app, id } = await setup({ jwt: { leeway: 30 } })
    const token = signHmac(claims(id, 'access', { iatOffset: -360 }), SECRET)
    assertTokenNotValid(t, await me(app, `Bearer ${token}`), '/users/me/')
  })
})
