import Fastify from 'fastify'
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import accounts from '../lib/index.js'
import { fastHasher, json, PASSWORD, SECRET, type TestApp } from './helpers/app.js'
import { appFor, claims, post, setup, signHmac, tamperSignature } from './helpers/jwt.js'

type Body = Record<string, unknown>

async function get (app: TestApp, authorization?: string): Promise<LightMyRequestResponse> {
  return await app.app.inject({ method: 'GET', url: '/private', headers: authorization === undefined ? {} : { authorization } })
}

function assertDetailOnly (t: Test, res: LightMyRequestResponse, what: string): void {
  t.equal(res.statusCode, 401, `${what}: 401`)
  const body = json(res) as Body
  t.same(Object.keys(body), ['detail'], `${what}: only detail`)
  t.type(body.detail, 'string', `${what}: detail is a message`)
}

function assertCode (t: Test, res: LightMyRequestResponse, code: string, what: string): Body {
  t.equal(res.statusCode, 401, `${what}: 401`)
  const body = json(res) as Body
  t.equal(body.code, code, `${what}: code ${code}`)
  t.type(body.detail, 'string', `${what}: detail is a message`)
  return body
}

/** simplejwt's JWTAuthentication answer for a token that is not a valid access token. */
function assertTokenNotValid (t: Test, res: LightMyRequestResponse, what: string): void {
  const body = assertCode(t, res, 'token_not_valid', what)
  t.same(Object.keys(body).sort(), ['code', 'detail', 'messages'], `${what}: {detail, code, messages}`)
  const messages = body.messages as Array<Record<string, unknown>>
  t.ok(Array.isArray(messages) && messages.length === 1, `${what}: one message`)
  t.equal(messages[0]?.token_class, 'AccessToken', `${what}: token_class`)
  t.equal(messages[0]?.token_type, 'access', `${what}: token_type`)
  t.type(messages[0]?.message, 'string', `${what}: message`)
  t.same(Object.keys(messages[0] ?? {}).sort(), ['message', 'token_class', 'token_type'], `${what}: message keys`)
}

const USER_KEYS = ['dateJoined', 'email', 'firstName', 'id', 'isActive', 'isStaff', 'isSuperuser', 'lastLogin', 'lastName', 'username']

t.test('app.authenticate fills request.user', async t => {
  t.test('Bearer <access>: 200 with the user, without password', async t => {
    const { app, id, username, email, access } = await setup()
    const before = Date.now()
    const res = await get(app, `Bearer ${access}`)
    t.equal(res.statusCode, 200)
    const user = (json(res) as { user: Body }).user
    t.same(Object.keys(user).sort(), USER_KEYS)
    t.notOk('password' in user, 'no password')
    t.notOk(res.body.includes('$argon2'), 'no hash anywhere in the body')
    t.equal(user.id, id)
    t.equal(user.username, username)
    t.equal(user.email, email)
    t.equal(user.isActive, true)
    t.equal(user.isStaff, false)
    t.equal(user.isSuperuser, false)
    t.equal(user.lastLogin, null)
    t.type(user.dateJoined, 'string')
    const joined = Date.parse(user.dateJoined as string)
    t.ok(joined <= before && joined > before - 60_000, 'dateJoined is when the user registered')
  })

  t.test('Token <key>: 200 with the same user shape', async t => {
    const { app, id, username } = await setup()
    const login = await post(app, '/token/login/', { username, password: PASSWORD })
    const key = (json(login) as { auth_token: string }).auth_token
    const res = await get(app, `Token ${key}`)
    t.equal(res.statusCode, 200)
    const user = (json(res) as { user: Body }).user
    t.same(Object.keys(user).sort(), USER_KEYS)
    t.equal(user.id, id)
    t.type(user.lastLogin, 'string', 'token login recorded the last login')
  })

  t.test('staff flags come from the store', async t => {
    const { app, id, access } = await setup()
    await app.users.updateUser(id, { isStaff: true, isSuperuser: true })
    const user = (json(await get(app, `Bearer ${access}`)) as { user: Body }).user
    t.equal(user.isStaff, true)
    t.equal(user.isSuperuser, true)
  })
})

t.test('app.authenticate failures', async t => {
  t.test('no Authorization header: 401 {detail} with WWW-Authenticate: Bearer realm="api"', async t => {
    const app = await appFor()
    const res = await get(app)
    assertDetailOnly(t, res, 'no header')
    t.equal(res.headers['www-authenticate'], 'Bearer realm="api"')
  })

  t.test('an empty Authorization header: 401 {detail}', async t => {
    const app = await appFor()
    assertDetailOnly(t, await get(app, ''), 'empty header')
  })

  t.test('an unknown scheme: 401 {detail}', async t => {
    const { app, access } = await setup()
    assertDetailOnly(t, await get(app, 'Basic dXNlcjpwYXNz'), 'Basic')
    assertDetailOnly(t, await get(app, `JWT ${access}`), 'JWT not configured')
    assertDetailOnly(t, await get(app, `bearer ${access}`), 'header types are case-sensitive, as in simplejwt')
  })

  t.test('Bearer alone or Bearer a b: 401 {detail, code: bad_authorization_header}', async t => {
    const { app, access } = await setup()
    for (const [name, header] of [['Bearer alone', 'Bearer'], ['Bearer a b', 'Bearer a b'], ['token plus extra', `Bearer ${access} extra`]]) {
      const res = await get(app, header)
      const body = assertCode(t, res, 'bad_authorization_header', name)
      t.same(Object.keys(body).sort(), ['code', 'detail'], `${name}: {detail, code}`)
      t.equal(res.headers['www-authenticate'], 'Bearer realm="api"', `${name}: challenge`)
    }
  })

  t.test('a bad token: 401 token_not_valid with messages', async t => {
    const { app, id, access } = await setup()
    assertTokenNotValid(t, await get(app, 'Bearer garbage'), 'garbage')
    assertTokenNotValid(t, await get(app, `Bearer ${tamperSignature(access)}`), 'tampered')
    assertTokenNotValid(t, await get(app, `Bearer ${signHmac(claims(id, 'access', { iatOffset: -400 }), SECRET)}`), 'expired')
    assertTokenNotValid(t, await get(app, `Bearer ${signHmac(claims(id, 'access'), 'another-secret-that-is-long-enough-42')}`), 'other secret')
    t.equal((await get(app, `Bearer ${access}`)).statusCode, 200, 'control: the untouched token works')
  })

  t.test('a refresh token used as access: 401 token_not_valid', async t => {
    const { app, refresh } = await setup()
    assertTokenNotValid(t, await get(app, `Bearer ${refresh}`), 'refresh as access')
  })

  t.test('a token without a usable user id: 401 token_not_valid', async t => {
    const app = await appFor()
    const { user_id: _id, ...noUser } = claims(1, 'access')
    const res = await get(app, `Bearer ${signHmac(noUser, SECRET)}`)
    t.equal(res.statusCode, 401)
    t.equal((json(res) as Body).code, 'token_not_valid')
  })

  t.test('a deleted user: 401 {detail, code: user_not_found}', async t => {
    const { app, id, access } = await setup()
    t.equal(await app.users.deleteUser(id), true)
    const body = assertCode(t, await get(app, `Bearer ${access}`), 'user_not_found', 'deleted user')
    t.same(Object.keys(body).sort(), ['code', 'detail'])
  })

  t.test('a token for an id that never existed: 401 user_not_found', async t => {
    const app = await appFor()
    assertCode(t, await get(app, `Bearer ${signHmac(claims(987654, 'access'), SECRET)}`), 'user_not_found', 'unknown id')
  })

  t.test('an inactive user: 401 {detail, code: user_inactive}', async t => {
    const { app, id, access } = await setup()
    await app.users.updateUser(id, { isActive: false })
    const body = assertCode(t, await get(app, `Bearer ${access}`), 'user_inactive', 'inactive user')
    t.same(Object.keys(body).sort(), ['code', 'detail'])
    await app.users.updateUser(id, { isActive: true })
    t.equal((await get(app, `Bearer ${access}`)).statusCode, 200, 'reactivated: works again')
  })
})

t.test('jwt.authHeaderTypes: [\'JWT\']', async t => {
  t.test('JWT <token> works, Bearer <token> is 401', async t => {
    const { app, id, access } = await setup({ jwt: { authHeaderTypes: ['JWT'] } })
    const ok = await get(app, `JWT ${access}`)
    t.equal(ok.statusCode, 200)
    t.equal((json(ok) as { user: Body }).user.id, id)
    const res = await get(app, `Bearer ${access}`)
    assertDetailOnly(t, res, 'Bearer')
    t.equal(res.headers['www-authenticate'], 'JWT realm="api"', 'the challenge names the first header type')
  })

  t.test('several header types all work', async t => {
    const { app, access } = await setup({ jwt: { authHeaderTypes: ['Bearer', 'JWT'] } })
    t.equal((await get(app, `Bearer ${access}`)).statusCode, 200)
    t.equal((await get(app, `JWT ${access}`)).statusCode, 200)
  })

  t.test('JWT alone: bad_authorization_header', async t => {
    const app = await appFor({ jwt: { authHeaderTypes: ['JWT'] } })
    assertCode(t, await get(app, 'JWT'), 'bad_authorization_header', 'JWT alone')
  })
})

t.test('request.user without the hook', async t => {
  t.test('is null on a route without app.authenticate, even with a valid token', async t => {
    const ref = await setup()
    const app = Fastify({ logger: false })
    await app.register(accounts, { prefix: '/auth', store: { users: ref.app.users, tokens: ref.app.tokens }, passwordHasher: fastHasher, jwt: { signingKey: SECRET } })
    app.get('/open', async (request) => ({ user: request.user, auth: request.auth }))
    app.get('/closed', { onRequest: app.authenticate }, async (request) => ({ id: request.user?.id, scheme: request.auth?.scheme }))
    await app.ready()
    t.teardown(() => app.close())
    const open = await app.inject({ method: 'GET', url: '/open', headers: { authorization: `Bearer ${ref.access}` } })
    t.equal(open.statusCode, 200)
    t.same(json(open), { user: null, auth: null })
    const closed = await app.inject({ method: 'GET', url: '/closed', headers: { authorization: `Bearer ${ref.access}` } })
    t.equal(closed.statusCode, 200, 'the same token on a hooked route (control)')
    t.same(json(closed), { id: ref.id, scheme: 'jwt' })
  })
})

t.test('concurrent requests do not share user objects', async t => {
  const ref = await setup()
  const other = await setup()
  const app = Fastify({ logger: false })
  await app.register(accounts, { prefix: '/auth', store: { users: ref.app.users, tokens: ref.app.tokens }, passwordHasher: fastHasher, jwt: { signingKey: SECRET } })
  const seen: unknown[] = []
  app.get('/mutate', { onRequest: app.authenticate }, async (request) => {
    const user = request.user
    seen.push(user)
    await new Promise((resolve) => setImmediate(resolve))
    // A handler that scribbles on its user must not change what another request sees.
    const before = user?.username
    if (user !== null) user.username = `changed-${String(user.id)}`
    return { before }
  })
  await app.ready()
  t.teardown(() => app.close())

  const headers = [ref.access, other.access, ref.access, other.access, ref.access, other.access].map((token) => ({ authorization: `Bearer ${token}` }))
  const responses = await Promise.all(headers.map(async (h) => await app.inject({ method: 'GET', url: '/mutate', headers: h })))
  responses.forEach((res, i) => {
    t.equal(res.statusCode, 200)
    t.same(json(res), { before: i % 2 === 0 ? ref.username : other.username }, `request ${i} saw its own, untouched user`)
  })
  t.equal(new Set(seen).size, seen.length, 'every request had its own user object')
  t.equal((await ref.app.users.findUserById(ref.id))?.username, ref.username, 'the store is untouched')
})
