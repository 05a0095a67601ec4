import { createHash } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { json, PASSWORD, type TestApp } from './helpers/app.js'
import { appFor, me, post, setup } from './helpers/jwt.js'

type Body = Record<string, unknown>

const KEY = /^[0-9a-f]{40}$/

const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex')

async function tokenLogin (app: TestApp, username: string, password = PASSWORD): Promise<LightMyRequestResponse> {
  return await post(app, '/token/login/', { username, password })
}

async function key (app: TestApp, username: string): Promise<string> {
  const res = await tokenLogin(app, username)
  if (res.statusCode !== 200) throw new Error(`token login failed: ${res.body}`)
  return (json(res) as { auth_token: string }).auth_token
}

async function logout (app: TestApp, authorization?: string): Promise<LightMyRequestResponse> {
  return await app.app.inject({ method: 'POST', url: '/auth/token/logout/', headers: authorization === undefined ? {} : { authorization } })
}

/** DRF's AuthenticationFailed / NotAuthenticated: 401 and a body of exactly {detail}. */
function assertDetail401 (t: Test, res: LightMyRequestResponse, what: string): void {
  t.equal(res.statusCode, 401, `${what}: 401`)
  const body = json(res) as Body
  t.same(Object.keys(body), ['detail'], `${what}: only detail`)
  t.type(body.detail, 'string', `${what}: detail is a message`)
}

function assertNonFieldErrors (t: Test, res: LightMyRequestResponse, what: string): void {
  t.equal(res.statusCode, 400, `${what}: 400`)
  const body = json(res) as Body
  t.same(Object.keys(body), ['non_field_errors'], `${what}: only non_field_errors`)
  t.ok(Array.isArray(body.non_field_errors) && body.non_field_errors.length > 0, `${what}: a list of messages`)
  t.ok((body.non_field_errors as unknown[]).every((m) => typeof m === 'string'), `${what}: messages are strings`)
}

function assertFieldError (t: Test, res: LightMyRequestResponse, fields: string[]): void {
  t.equal(res.statusCode, 400)
  const body = json(res) as Body
  t.same(Object.keys(body).sort(), [...fields].sort(), 'one key per bad field')
  for (const field of fields) {
    t.ok(Array.isArray(body[field]) && (body[field] as unknown[]).length > 0, `${field}: a list of messages`)
  }
}

// ---- /token/login/ ----------------------------------------------------------------------------------

t.test('POST /token/login/', async t => {
  t.test('200 {auth_token}: 40 lower-case hex characters', async t => {
    const { app, username } = await setup()
    const res = await tokenLogin(app, username)
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /^application\/json/)
    const body = json(res) as Body
    t.same(Object.keys(body), ['auth_token'])
    t.match(body.auth_token, KEY)
  })

  t.test('the trailing slash is optional', async t => {
    const { app, username } = await setup()
    const res = await post(app, '/token/login', { username, password: PASSWORD })
    t.equal(res.statusCode, 200)
    t.match((json(res) as Body).auth_token, KEY)
  })

  t.test('the store holds only the sha256 of the key, never the key', async t => {
    const { app, id, username } = await setup()
    const auth = await key(app, username)
    t.equal(await app.tokens.findAuthToken(auth), null, 'not findable by the key itself')
    const record = await app.tokens.findAuthToken(sha256(auth))
    t.ok(record, 'findable by sha256(key)')
    t.equal(record?.userId, id)
    t.equal(record?.hash, sha256(auth))
    t.not(record?.hash, auth)
    t.notOk(JSON.stringify(record).includes(auth), 'the record does not carry the key anywhere')
  })

  t.test('Token <key> authenticates /users/me/', async t => {
    const { app, id, username, email } = await setup()
    const auth = await key(app, username)
    const res = await me(app, `Token ${auth}`)
    t.equal(res.statusCode, 200)
    t.same(json(res), { id, username, email })
  })

  t.test('the Token keyword is case-insensitive, as in DRF', async t => {
    const { app, username } = await setup()
    const auth = await key(app, username)
    t.equal((await me(app, `token ${auth}`)).statusCode, 200)
  })

  t.test('each login makes a new token, and all of them work', async t => {
    const { app, username } = await setup()
    const one = await key(app, username)
    const two = await key(app, username)
    t.not(one, two)
    t.equal((await me(app, `Token ${one}`)).statusCode, 200)
    t.equal((await me(app, `Token ${two}`)).statusCode, 200)
  })

  t.test('wrong password, unknown user, inactive user: 400 {non_field_errors}, identical bodies', async t => {
    const { app, username } = await setup()
    const inactive = await setup()
    await app.users.updateUser(inactive.id, { isActive: false })
    const wrong = await tokenLogin(app, username, 'not-the-password-42')
    const unknown = await tokenLogin(app, 'nobody-here', PASSWORD)
    const off = await tokenLogin(app, inactive.username, PASSWORD)
    assertNonFieldErrors(t, wrong, 'wrong password')
    assertNonFieldErrors(t, unknown, 'unknown user')
    assertNonFieldErrors(t, off, 'inactive user')
    t.equal(unknown.body, wrong.body, 'unknown user looks like a wrong password')
    t.equal(off.body, wrong.body, 'inactive user looks like a wrong password')
  })

  t.test('a failed login records no login', async t => {
    const { app, id, username } = await setup()
    t.equal((await tokenLogin(app, username, 'not-the-password-42')).statusCode, 400)
    t.equal((await app.users.findUserById(id))?.lastLogin, null)
  })

  t.test('missing fields: 400 {field: [..]}', async t => {
    const app = await appFor()
    assertFieldError(t, await post(app, '/token/login/', {}), ['username', 'password'])
    assertFieldError(t, await post(app, '/token/login/', { username: 'someone' }), ['password'])
    assertFieldError(t, await post(app, '/token/login/', { password: PASSWORD }), ['username'])
    assertFieldError(t, await post(app, '/token/login/', { username: '', password: '' }), ['username', 'password'])
  })

  t.test('no body at all: 400 with both fields', async t => {
    const app = await appFor()
    const res = await app.app.inject({ method: 'POST', url: '/auth/token/login/' })
    assertFieldError(t, res, ['username', 'password'])
  })

  t.test('a form-encoded body works', async t => {
    const { app, username } = await setup()
    const res = await app.app.inject({
      method: 'POST',
      url: '/auth/token/login/',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `username=${username}&password=${encodeURIComponent(PASSWORD)}`
    })
    t.equal(res.statusCode, 200)
    const auth = (json(res) as Body).auth_token as string
    t.match(auth, KEY)
    t.equal((await me(app, `Token ${auth}`)).statusCode, 200)
  })

  t.test('a form-encoded body with a wrong password: 400 {non_field_errors}', async t => {
    const { app, username } = await setup()
    const res = await app.app.inject({
      method: 'POST',
      url: '/auth/token/login/',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `username=${username}&password=wrong-password-42`
    })
    assertNonFieldErrors(t, res, 'form wrong password')
  })

  t.test('the login is recorded (last login)', async t => {
    const { app, id, username } = await setup()
    t.equal((await app.users.findUserById(id))?.lastLogin, null, 'no login recorded yet')
    const before = Date.now()
    await key(app, username)
    const lastLogin = (await app.users.findUserById(id))?.lastLogin
    t.ok(lastLogin instanceof Date, 'lastLogin is set')
    t.ok((lastLogin?.getTime() ?? 0) >= before - 1000, 'lastLogin is now')
  })

  t.test('an opaque token is not a JWT: Bearer <key> is refused', async t => {
    const { app, username } = await setup()
    const auth = await key(app, username)
    const res = await me(app, `Bearer ${auth}`)
    t.equal(res.statusCode, 401)
    t.equal((json(res) as Body).code, 'token_not_valid')
  })
})

// ---- Token authentication failures --------------------------------------------------------------------

t.test('Token authentication failures: 401 {detail}', async t => {
  t.test('an unknown 40-hex key', async t => {
    const app = await appFor()
    assertDetail401(t, await me(app, `Token ${'0'.repeat(40)}`), 'unknown key')
  })

  t.test('a key of the wrong shape', async t => {
    const app = await appFor()
    assertDetail401(t, await me(app, 'Token not-a-key'), 'not hex')
    assertDetail401(t, await me(app, `Token ${'A'.repeat(40)}`), 'upper-case hex')
    assertDetail401(t, await me(app, `Token ${'a'.repeat(41)}`), 'too long')
  })

  t.test('the hash of a key is not a key', async t => {
    const { app, username } = await setup()
    const auth = await key(app, username)
    assertDetail401(t, await me(app, `Token ${sha256(auth)}`), 'hash as key')
  })

  t.test('Token alone and Token with two values', async t => {
    const { app, username } = await setup()
    const auth = await key(app, username)
    assertDetail401(t, await me(app, 'Token'), 'Token alone')
    assertDetail401(t, await me(app, `Token ${auth} extra`), 'Token a b')
    assertDetail401(t, await me(app, 'Token a b'), 'Token a b (literal)')
  })

  t.test('a token of a user made inactive stops working', async t => {
    const { app, id, username } = await setup()
    const auth = await key(app, username)
    await app.users.updateUser(id, { isActive: false })
    assertDetail401(t, await me(app, `Token ${auth}`), 'inactive user')
  })

  t.test('a token of a deleted user stops working', async t => {
    const { app, id, username } = await setup()
    const auth = await key(app, username)
    await app.users.deleteUser(id)
    assertDetail401(t, await me(app, `Token ${auth}`), 'deleted user')
  })

  t.test('the 401 carries a WWW-Authenticate challenge', async t => {
    const app = await appFor()
    const res = await me(app, `Token ${'0'.repeat(40)}`)
    t.equal(res.statusCode, 401)
    t.equal(res.headers['www-authenticate'], 'Bearer realm="api"')
  })
})

// ---- /token/logout/ ---------------------------------------------------------------------------------

t.test('POST /token/logout/', async t => {
  t.test('with Token: 204, that token is dead, another token of the same user still works', async t => {
    const { app, username } = await setup()
    const one = await key(app, username)
    const two = await key(app, username)
    const res = await logout(app, `Token ${one}`)
    t.equal(res.statusCode, 204)
    t.equal(res.body, '')
    assertDetail401(t, await me(app, `Token ${one}`), 'logged-out token')
    t.equal((await me(app, `Token ${two}`)).statusCode, 200, 'the other token')
    t.equal(await app.tokens.findAuthToken(sha256(one)), null, 'gone from the store')
  })

  t.test('logging out twice with the same token: the second is 401', async t => {
    const { app, username } = await setup()
    const auth = await key(app, username)
    t.equal((await logout(app, `Token ${auth}`)).statusCode, 204)
    assertDetail401(t, await logout(app, `Token ${auth}`), 'second logout')
  })

  t.test('with a JWT: 204 and every opaque token of the user is dead', async t => {
    const { app, username, access } = await setup()
    const one = await key(app, username)
    const two = await key(app, username)
    const res = await logout(app, `Bearer ${access}`)
    t.equal(res.statusCode, 204)
    t.equal(res.body, '')
    assertDetail401(t, await me(app, `Token ${one}`), 'first token')
    assertDetail401(t, await me(app, `Token ${two}`), 'second token')
  })

  t.test('logging out one user leaves other users\' tokens alone', async t => {
    const alice = await setup()
    const bob = await setup()
    const aliceKey = await key(alice.app, alice.username)
    const bobKey = await key(bob.app, bob.username)
    t.equal((await logout(alice.app, `Bearer ${alice.access}`)).statusCode, 204)
    t.equal((await logout(alice.app, `Token ${aliceKey}`)).statusCode, 401)
    t.equal((await me(bob.app, `Token ${bobKey}`)).statusCode, 200)
  })

  t.test('anonymous: 401 {detail}', async t => {
    const app = await appFor()
    const res = await logout(app)
    assertDetail401(t, res, 'anonymous')
    t.equal(res.headers['www-authenticate'], 'Bearer realm="api"')
  })

  t.test('Token with a wrong key: 401 {detail}', async t => {
    const { app, username } = await setup()
    const auth = await key(app, username)
    assertDetail401(t, await logout(app, `Token ${'f'.repeat(40)}`), 'wrong key')
    t.equal((await me(app, `Token ${auth}`)).statusCode, 200, 'a failed logout kills nothing')
  })

  t.test('Token alone and Token a b: 401 {detail}', async t => {
    const app = await appFor()
    assertDetail401(t, await logout(app, 'Token'), 'Token alone')
    assertDetail401(t, await logout(app, 'Token a b'), 'Token a b')
  })

  t.test('with an invalid JWT: 401 token_not_valid and nothing is logged out', async t => {
    const { app, username } = await setup()
    const auth = await key(app, username)
    const res = await logout(app, 'Bearer not-a-jwt')
    t.equal(res.statusCode, 401)
    t.equal((json(res) as Body).code, 'token_not_valid')
    t.equal((await me(app, `Token ${auth}`)).statusCode, 200)
  })
})
