// `authenticate: 'stateless'` (simplejwt's JWTStatelessUserAuthentication): app.authenticate builds request.user,
// a TokenUser, from the verified access token without a store lookup; the djoser routes still load the user.
// What it gives up is tested as what a user sees: a deactivated or deleted user, or a session a password change
// ended, keeps access to the app's routes until the token expires, while the plugin's own routes refuse it.
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import type { AccountsOptions } from '../lib/index.js'
import { activeUser, buildApp, json, PASSWORD, SECRET, type TestApp } from './helpers/app.js'
import { claims, signHmac, tamperSignature } from './helpers/jwt.js'
import { assertTokenError, bearer, opaqueToken, send, tokenAuth } from './helpers/users.js'

type Body = Record<string, unknown>

/** The option as a consumer passes it after declaring the mode in AccountsAuthentication (this program declares none). */
const STATELESS = { authenticate: 'stateless' } as unknown as Pick<AccountsOptions, 'authenticate'>

/** An app whose app.authenticate is stateless, and how many times its user store was asked for a user by id. */
async function statelessApp (t: Test): Promise<TestApp & { lookups: () => number }> {
  const app = await buildApp(STATELESS)
  t.teardown(() => app.app.close())
  let lookups = 0
  const findUserById = app.users.findUserById.bind(app.users)
  app.users.findUserById = async (id) => {
    lookups++
    return await findUserById(id)
  }
  return { ...app, lookups: () => lookups }
}

async function privateRoute (app: TestApp, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.app.inject({ method: 'GET', url: '/private', headers })
}

function userOf (res: LightMyRequestResponse): Body {
  return (json(res) as { user: Body }).user
}

function payloadOf (token: string): Body {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as Body
}

t.test('a JWT gives a TokenUser of its claims, with no store lookup', async t => {
  const app = await statelessApp(t)
  const alice = await activeUser(app, 'alice')
  const before = app.lookups()
  const res = await privateRoute(app, bearer(alice.access))
  t.equal(res.statusCode, 200)
  t.equal(app.lookups(), before, 'the user store was not asked')
  const user = userOf(res)
  t.same(user, { id: alice.id, username: '', isStaff: false, isSuperuser: false, isActive: true, claims: payloadOf(alice.access) },
    "simplejwt's TokenUser: id from user_id, username and flags from claims the token does not carry, the claims themselves")
  t.notOk('email' in user || 'password' in user, 'nothing the token does not say')
})

t.test("a token's username, is_staff and is_superuser claims (a custom token serializer's) are read, as simplejwt's TokenUser does", async t => {
  const app = await statelessApp(t)
  const token = signHmac({ ...claims(42, 'access'), username: 'zoë', is_staff: true, is_superuser: 'yes', tenant: 'acme' }, SECRET)
  const res = await privateRoute(app, bearer(token))
  t.equal(res.statusCode, 200)
  t.match(userOf(res), { id: 42, username: 'zoë', isStaff: true, isSuperuser: false, isActive: true, claims: { tenant: 'acme' } },
    'only a boolean true makes a flag; custom claims stay in claims')
})

t.test('the djoser routes still load the user: users/me/ answers from the store', async t => {
  const app = await statelessApp(t)
  const alice = await activeUser(app, 'alice')
  const res = await send(app, 'GET', '/auth/users/me/', undefined, bearer(alice.access))
  t.equal(res.statusCode, 200)
  t.same(json(res), { id: alice.id, username: 'alice', email: 'alice@example.com' }, "djoser's user, from the store")
  t.ok(app.lookups() > 0, 'the store was asked')
})

t.test('what it gives up: a deactivated user keeps access to app routes until the token expires', async t => {
  const app = await statelessApp(t)
  const alice = await activeUser(app, 'alice')
  await app.users.updateUser(alice.id, { isActive: false })
  t.equal((await privateRoute(app, bearer(alice.access))).statusCode, 200, 'the app route lets the token in')
  assertTokenError(t, await send(app, 'GET', '/auth/users/me/', undefined, bearer(alice.access)), 'user_inactive')
})

t.test('what it gives up: a deleted user keeps access to app routes until the token expires', async t => {
  const app = await statelessApp(t)
  const alice = await activeUser(app, 'alice')
  t.equal((await send(app, 'DELETE', '/auth/users/me/', { current_password: PASSWORD }, bearer(alice.access))).statusCode, 204)
  t.equal(await app.users.findUserById(alice.id), null, 'the user is gone')
  t.equal((await privateRoute(app, bearer(alice.access))).statusCode, 200, 'the app route lets the token in')
  assertTokenError(t, await send(app, 'GET', '/auth/users/me/', undefined, bearer(alice.access)), 'user_not_found')
})

t.test("what it gives up: a password change's session cut-off is not checked", async t => {
  const app = await statelessApp(t)
  const alice = await activeUser(app, 'alice')
  const other = await activeUser(app, 'alice-2')
  const second = await send(app, 'POST', '/auth/jwt/create/', { username: 'alice-2', password: PASSWORD })
  const elsewhere = (json(second) as { access: string }).access
  const changed = await send(app, 'POST', '/auth/users/set_password/', { current_password: PASSWORD, new_password: 'another-long-passphrase-77' }, bearer(other.access))
  t.equal(changed.statusCode, 204)
  t.equal((await privateRoute(app, bearer(elsewhere))).statusCode, 200, 'the other session still reaches the app route')
  assertTokenError(t, await send(app, 'GET', '/auth/users/me/', undefined, bearer(elsewhere)), 'token_not_valid')
  t.equal((await privateRoute(app, bearer(alice.access))).statusCode, 200, 'another user is untouched')
})

t.test('an opaque token is looked up as always, and its user given as a TokenUser', async t => {
  const app = await statelessApp(t)
  const alice = await activeUser(app, 'alice')
  const key = await opaqueToken(app, 'alice')
  const res = await privateRoute(app, tokenAuth(key))
  t.equal(res.statusCode, 200)
  t.same(userOf(res), { id: alice.id, username: 'alice', isStaff: false, isSuperuser: false, isActive: true, claims: {} })
  t.equal((await send(app, 'POST', '/auth/token/logout/', undefined, tokenAuth(key))).statusCode, 204)
  const after = await privateRoute(app, tokenAuth(key))
  t.equal(after.statusCode, 401, 'a logged-out key is refused')
  t.same(Object.keys(json(after) as Body), ['detail'], "DRF's {detail}")
})

t.test('the default mode (store) refuses a deactivated user at once: the control', async t => {
  const app = await buildApp()
  t.teardown(() => app.app.close())
  const alice = await activeUser(app, 'alice')
  const ok = await privateRoute(app, bearer(alice.access))
  t.equal(ok.statusCode, 200)
  t.equal(userOf(ok).email, 'alice@example.com', 'request.user is the stored user')
  await app.users.updateUser(alice.id, { isActive: false })
  assertTokenError(t, await privateRoute(app, bearer(alice.access)), 'user_inactive')
})

// ---- refusals: the same 401s as the default authenticator --------------------------------------------------

t.test('no credentials: 401 {detail}', async t => {
  const app = await statelessApp(t)
  const cases: Array<Record<string, string>> = [{}, { authorization: '' }, { authorization: 'Basic YWxpY2U6cHc=' }]
  for (const headers of cases) {
    const res = await privateRoute(app, headers)
    t.equal(res.statusCode, 401, JSON.stringify(headers))
    t.same(Object.keys(json(res) as Body), ['detail'])
  }
})

t.test('a token whose signature does not verify: 401 token_not_valid, with messages', async t => {
  const app = await statelessApp(t)
  const alice = await activeUser(app, 'alice')
  const before = app.lookups()
  const res = await privateRoute(app, bearer(tamperSignature(alice.access)))
  assertTokenError(t, res, 'token_not_valid')
  t.match((json(res) as Body).messages, [{ token_class: 'AccessToken', token_type: 'access' }])
  t.equal(app.lookups(), before, 'no lookup for a refused token either')
})

t.test('a refresh token, an expired token, a token of another key: 401 token_not_valid', async t => {
  const app = await statelessApp(t)
  const alice = await activeUser(app, 'alice')
  assertTokenError(t, await privateRoute(app, bearer(alice.refresh)), 'token_not_valid')
  assertTokenError(t, await privateRoute(app, bearer(signHmac(claims(alice.id, 'access', { iatOffset: -600 }), SECRET))), 'token_not_valid')
  assertTokenError(t, await privateRoute(app, bearer(signHmac(claims(alice.id, 'access'), `${SECRET}-another`))), 'token_not_valid')
})

t.test('a token without a usable user id claim: 401 token_not_valid', async t => {
  const app = await statelessApp(t)
  for (const userId of [undefined, 'alice', -1, 1.5]) {
    const { user_id: _userId, ...rest } = claims(1, 'access')
    const token = signHmac(userId === undefined ? rest : { ...rest, user_id: userId }, SECRET)
    const res = await privateRoute(app, bearer(token))
    assertTokenError(t, res, 'token_not_valid')
    t.match((json(res) as Body).detail, /user identification/, `user_id ${String(userId)}`)
  }
})

t.test('a malformed Authorization header: 401 in the dialect shape, never a 500', async t => {
  const app = await statelessApp(t)
  const alice = await activeUser(app, 'alice')
  for (const authorization of [`Bearer ${alice.access} extra`, 'Bearer', 'Token', 'Token a b', 'Bearer not.a.jwt', 'Token unknown-key']) {
    const res = await privateRoute(app, { authorization })
    t.equal(res.statusCode, 401, authorization.slice(0, 20))
    t.type((json(res) as Body).detail, 'string')
  }
})

t.test('every refusal is an auth.failed event, as with the default authenticator', async t => {
  const app = await statelessApp(t)
  const failures: unknown[] = []
  app.app.accounts.events.on('auth.failed', (payload) => { failures.push(payload) })
  await privateRoute(app, bearer('not.a.jwt'))
  t.match(failures, [{ scheme: 'jwt', reason: 'invalid', userId: null }])
})

t.test("the option: 'store' or 'stateless', and only with the djoser dialect", async t => {
  for (const [what, extra] of [
    ['an unknown mode', { authenticate: 'cached' }],
    ['with dj-rest-auth', { ...STATELESS, dialect: 'dj-rest-auth' }],
    ['with drf-jwt', { ...STATELESS, dialect: 'drf-jwt' }]
  ] as const) {
    await t.rejects(buildApp(extra as unknown as Partial<AccountsOptions>), { name: 'OptionsError' }, what)
  }
  const explicit = await buildApp({ authenticate: 'store' })
  t.teardown(() => explicit.app.close())
  t.equal(explicit.app.accounts.options.authenticate, 'store', "'store' is accepted, and the default")
})
