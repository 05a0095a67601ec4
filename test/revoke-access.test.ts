/**
 * revokeAccessOnPasswordChange: every token carries `ver`, a keyed hash of the user's password hash; with
 * the option on, a token whose `ver` is not the current one (or that has none, as simplejwt's) is refused
 * as soon as the password changes, without waiting for the access token to expire. Off (the default), the
 * tokens of simplejwt and of this plugin before the change go on working, as in simplejwt.
 */
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { json, linkFrom, PASSWORD, SECRET } from './helpers/app.js'
import { claims, decodeJwt, me, post, setup, signHmac } from './helpers/jwt.js'

type Body = Record<string, unknown>
const NEW_PASSWORD = 'a-brand-new-passphrase-42'
const ON = { revokeAccessOnPasswordChange: true }

function assertRevoked (t: Test, res: LightMyRequestResponse, what: string): void {
  t.equal(res.statusCode, 401, `${what}: 401 (${res.body})`)
  t.equal((json(res) as Body).code, 'token_not_valid', `${what}: code token_not_valid`)
}

async function setPassword (app: Awaited<ReturnType<typeof setup>>['app'], access: string, current = PASSWORD, next = NEW_PASSWORD): Promise<void> {
  const res = await post(app, '/users/set_password/', { current_password: current, new_password: next }, { authorization: `Bearer ${access}` })
  if (res.statusCode !== 204) throw new Error(`set_password: ${res.statusCode} ${res.body}`)
}

async function login (app: Awaited<ReturnType<typeof setup>>['app'], username: string, password = NEW_PASSWORD): Promise<{ access: string, refresh: string }> {
  const res = await post(app, '/jwt/create/', { username, password })
  if (res.statusCode !== 200) throw new Error(`login: ${res.statusCode} ${res.body}`)
  return json(res) as { access: string, refresh: string }
}

t.test('every token carries ver, a short keyed hash of the password hash, the same in both tokens of a pair', async t => {
  const { app, id, access, refresh } = await setup()
  const ver = decodeJwt(access).payload.ver
  t.match(ver, /^[A-Za-z0-9_-]{12}$/)
  t.equal(decodeJwt(refresh).payload.ver, ver)
  const hash = (await app.users.findUserById(id))?.password ?? ''
  t.notOk(hash.includes(ver as string), 'not a piece of the hash')
  const refreshed = json(await post(app, '/jwt/refresh/', { refresh })) as Body
  t.equal(decodeJwt(refreshed.access as string).payload.ver, ver, 'a refreshed access token inherits it')
})

t.test('off (default): tokens issued before a password change go on working, as in simplejwt', async t => {
  const { app, username, access, refresh } = await setup({ revokeTokensOnPasswordChange: false })
  await setPassword(app, access)
  t.equal((await me(app, `Bearer ${access}`)).statusCode, 200, 'the old access token')
  t.equal((await post(app, '/jwt/verify/', { token: access })).statusCode, 200, '/jwt/verify/ of it')
  t.equal((await post(app, '/jwt/refresh/', { refresh })).statusCode, 200, 'the old refresh token (nothing revoked it)')
  t.equal((await me(app, `Bearer ${(await login(app, username)).access}`)).statusCode, 200, 'a new login')
})

t.test('off (default): a token without ver (simplejwt\'s) is accepted', async t => {
  const { app, id } = await setup()
  const token = signHmac(claims(id, 'access'), SECRET)
  t.equal((await me(app, `Bearer ${token}`)).statusCode, 200)
  t.equal((await post(app, '/jwt/refresh/', { refresh: signHmac(claims(id, 'refresh'), SECRET) })).statusCode, 200)
})

t.test('on: set_password stops the access tokens issued before it at once', async t => {
  const { app, username, access } = await setup(ON)
  const other = await setup(ON) // another user, untouched
  const second = await login(app, username, PASSWORD) // another session of the same user
  await setPassword(app, access)
  for (const [name, token] of [['the session that changed it', access], ['another session', second.access]] as const) {
    const res = await me(app, `Bearer ${token}`)
    assertRevoked(t, res, name)
    t.match(json(res), { detail: 'Given token not valid for any token type', messages: [{ token_class: 'AccessToken', token_type: 'access' }] }, `${name}: simplejwt's shape`)
    assertRevoked(t, await post(app, '/jwt/verify/', { token }), `${name} on /jwt/verify/`)
  }
  const fresh = await login(app, username)
  t.equal((await me(app, `Bearer ${fresh.access}`)).statusCode, 200, 'a token issued after the change works')
  t.equal((await post(app, '/jwt/verify/', { token: fresh.access })).statusCode, 200)
  t.equal((await me(app, `Bearer ${other.access}`)).statusCode, 200, 'another user is untouched')
})

t.test('on: a reset stops them too', async t => {
  const { app, username, email, access } = await setup(ON)
  t.equal((await post(app, '/users/reset_password/', { email })).statusCode, 204)
  const res = await post(app, '/users/reset_password_confirm/', { ...linkFrom(app.mailer, email), new_password: NEW_PASSWORD })
  t.equal(res.statusCode, 204, res.body)
  assertRevoked(t, await me(app, `Bearer ${access}`), 'the access token issued before the reset')
  t.equal((await me(app, `Bearer ${(await login(app, username)).access}`)).statusCode, 200, 'a new login')
})

t.test('on, without revokeTokensOnPasswordChange: refresh tokens issued before the change are refused by their ver', async t => {
  const { app, username, access, refresh } = await setup({ ...ON, revokeTokensOnPasswordChange: false })
  await setPassword(app, access)
  t.equal((await app.tokens.findRefreshToken(decodeJwt(refresh).payload.jti as string))?.revokedAt, null, 'the refresh token is not revoked in the store')
  assertRevoked(t, await post(app, '/jwt/refresh/', { refresh }), '/jwt/refresh/')
  assertRevoked(t, await post(app, '/jwt/verify/', { token: refresh }), '/jwt/verify/')
  const fresh = await login(app, username)
  const refreshed = await post(app, '/jwt/refresh/', { refresh: fresh.refresh })
  t.equal(refreshed.statusCode, 200, 'a refresh token issued after the change refreshes')
  t.equal((await me(app, `Bearer ${(json(refreshed) as Body).access as string}`)).statusCode, 200, 'into an access token that works')
})

t.test('on, with rotation: a rotated pair keeps the ver and works until the next change', async t => {
  const { app, username, refresh } = await setup({ ...ON, jwt: { rotateRefreshTokens: true } })
  const rotated = json(await post(app, '/jwt/refresh/', { refresh })) as { access: string, refresh: string }
  t.equal((await me(app, `Bearer ${rotated.access}`)).statusCode, 200)
  await setPassword(app, rotated.access)
  assertRevoked(t, await me(app, `Bearer ${rotated.access}`), 'after the change')
  assertRevoked(t, await post(app, '/jwt/refresh/', { refresh: rotated.refresh }), 'its refresh token')
  t.equal((await me(app, `Bearer ${(await login(app, username)).access}`)).statusCode, 200)
})

t.test('on: a token without ver (simplejwt\'s, from before a move) is refused', async t => {
  const { app, id } = await setup(ON)
  assertRevoked(t, await me(app, `Bearer ${signHmac(claims(id, 'access'), SECRET)}`), 'access without ver')
  assertRevoked(t, await post(app, '/jwt/refresh/', { refresh: signHmac(claims(id, 'refresh'), SECRET) }), 'refresh without ver')
})

t.test('on: a forged ver is refused; the right one, hand-signed, is accepted (control)', async t => {
  const { app, id, access } = await setup(ON)
  const ver = decodeJwt(access).payload.ver as string
  t.equal((await me(app, `Bearer ${signHmac({ ...claims(id, 'access'), ver }, SECRET)}`)).statusCode, 200, 'control')
  for (const forged of ['', 'x'.repeat(12), ver.toUpperCase() === ver ? ver.toLowerCase() : ver.toUpperCase(), 0, null]) {
    assertRevoked(t, await me(app, `Bearer ${signHmac({ ...claims(id, 'access'), ver: forged }, SECRET)}`), `ver ${JSON.stringify(forged)}`)
  }
})

t.test('on: checked against the user authentication already loads (one lookup per request)', async t => {
  const { app, id, access } = await setup(ON)
  const original = app.users.findUserById.bind(app.users)
  let lookups = 0
  app.users.findUserById = async (userId: number) => { lookups++; return await original(userId) }
  t.teardown(() => { app.users.findUserById = original })
  t.equal((await me(app, `Bearer ${access}`)).statusCode, 200)
  t.equal(lookups, 1, `one findUserById for /users/me/ (user ${id})`)
})
