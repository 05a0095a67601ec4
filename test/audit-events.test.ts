import t from 'tap'
import type { AccountsEventName, AccountsEventPayload } from '../lib/index.js'
import { activeUser, buildApp, json, PASSWORD, type TestApp } from './helpers/app.js'
import { buildDjRestAuthApp, DRA } from './helpers/dj-rest-auth.js'
import { buildDrfJwtApp, createUser as createDrfUser, drfToken } from './helpers/drf-jwt.js'
import { bearer, buildSanicApp, get as sanicGet, loggedIn } from './helpers/sanic-jwt.js'

/*
 * Issue 13 item 8 (ASVS 7.1.3, 7.1.4): the audit trail. Every event names the request behind it (id, IP,
 * user agent); refused credentials, wrong current passwords, 429s and 403s each emit an event of their own,
 * in every dialect, and none carries a password or a token.
 */

const AUDIT: AccountsEventName[] = ['auth.failed', 'password.wrongCurrent', 'rateLimit.exceeded', 'permission.denied']
const UA = { 'user-agent': 'audit-test/1.0' }

type Seen = Array<{ event: AccountsEventName, payload: AccountsEventPayload<AccountsEventName> }>

function record (app: TestApp['app']): Seen {
  const seen: Seen = []
  for (const event of AUDIT) app.accounts.events.on(event, (payload) => { seen.push({ event, payload }) })
  return seen
}

const withoutRequest = (seen: Seen): Array<{ event: string, payload: object }> =>
  seen.map(({ event, payload: { request: _request, ...rest } }) => ({ event, payload: rest }))

t.test('djoser: refused JWTs and opaque tokens emit auth.failed with the reason and the request', async (t) => {
  const a = await buildApp({ sendActivationEmail: false })
  t.teardown(() => a.app.close())
  const seen = record(a.app)
  const { id, access } = await activeUser(a)

  t.equal((await a.app.inject({ url: '/private', headers: { authorization: `Bearer ${access}`, ...UA } })).statusCode, 200)
  t.equal((await a.app.inject({ url: '/private' })).statusCode, 401)
  t.same(seen, [], 'a valid token and a request without credentials emit nothing')

  t.equal((await a.app.inject({ url: '/private', headers: { authorization: 'Bearer not.a.jwt', ...UA } })).statusCode, 401)
  t.equal((await a.app.inject({ url: '/auth/users/me/', headers: { authorization: `Token ${'0'.repeat(40)}`, ...UA } })).statusCode, 401)
  t.match(seen, [
    { event: 'auth.failed', payload: { scheme: 'jwt', reason: 'invalid', userId: null, request: { requestId: /^req-/, ip: '127.0.0.1', userAgent: 'audit-test/1.0' } } },
    { event: 'auth.failed', payload: { scheme: 'token', reason: 'invalid', userId: null } }
  ])

  // A password change ends the other sessions: their access token is now refused as revoked.
  const other = json(await a.app.inject({ method: 'POST', url: '/auth/jwt/create/', payload: { username: 'alice', password: PASSWORD } })) as { access: string }
  const changed = await a.app.inject({
    method: 'POST', url: '/auth/users/set_password/', headers: { authorization: `Bearer ${access}` },
    payload: { current_password: PASSWORD, new_password: 'another-horse-battery-9' }
  })
  t.equal(changed.statusCode, 204)
  seen.length = 0
  t.equal((await a.app.inject({ url: '/private', headers: { authorization: `Bearer ${other.access}` } })).statusCode, 401)
  t.same(withoutRequest(seen), [{ event: 'auth.failed', payload: { scheme: 'jwt', reason: 'revoked', userId: id } }])

  seen.length = 0
  await a.users.updateUser(id, { isActive: false })
  t.equal((await a.app.inject({ url: '/private', headers: { authorization: `Bearer ${access}` } })).statusCode, 401)
  await a.users.deleteUser(id)
  t.equal((await a.app.inject({ url: '/private', headers: { authorization: `Bearer ${access}` } })).statusCode, 401)
  t.same(withoutRequest(seen), [
    { event: 'auth.failed', payload: { scheme: 'jwt', reason: 'inactive', userId: id } },
    { event: 'auth.failed', payload: { scheme: 'jwt', reason: 'no-user', userId: id } }
  ])
  t.notMatch(JSON.stringify(seen), /eyJ|not\.a\.jwt|0{40}/, 'no token in any payload')
})

t.test('djoser: a wrong current_password emits password.wrongCurrent for each action; a right one nothing', async (t) => {
  const a = await buildApp({ sendActivationEmail: false, emailChangeRequiresPassword: true })
  t.teardown(() => a.app.close())
  const seen = record(a.app)
  const { id, access } = await activeUser(a)
  const auth = { authorization: `Bearer ${access}` }
  const wrong = 'wrong-password-123'
  const answers = [
    await a.app.inject({ method: 'POST', url: '/auth/users/set_password/', headers: auth, payload: { current_password: wrong, new_password: 'another-horse-battery-9' } }),
    await a.app.inject({ method: 'POST', url: '/auth/users/set_username/', headers: auth, payload: { current_password: wrong, new_username: 'alicia' } }),
    await a.app.inject({ method: 'PATCH', url: '/auth/users/me/', headers: auth, payload: { current_password: wrong, email: 'new@example.com' } }),
    await a.app.inject({ method: 'DELETE', url: '/auth/users/me/', headers: auth, payload: { current_password: wrong } })
  ]
  t.same(answers.map((r) => r.statusCode), [400, 400, 400, 400])
  t.same(withoutRequest(seen), ['set-password', 'set-username', 'change-email', 'delete-account'].map((action) => ({ event: 'password.wrongCurrent', payload: { userId: id, action } })))
  t.notMatch(JSON.stringify(seen), /wrong-password/, 'the guess is not in the event')

  seen.length = 0
  const right = await a.app.inject({ method: 'POST', url: '/auth/users/set_username/', headers: auth, payload: { current_password: PASSWORD, new_username: 'alicia' } })
  t.equal(right.statusCode, 204)
  t.same(seen, [])
  t.equal((await a.users.findUserById(id))?.username, 'alicia')
})

t.test('djoser: 429s emit rateLimit.exceeded naming the budget', async (t) => {
  const a = await buildApp({ sendActivationEmail: false, rateLimit: { perIp: { max: 4, timeWindow: 60 }, perAccountFailures: { max: 2, timeWindow: 900 } } })
  t.teardown(() => a.app.close())
  const seen = record(a.app)
  const { access } = await activeUser(a)
  seen.length = 0
  const statuses: number[] = []
  for (let i = 0; i < 3; i++) {
    statuses.push((await a.app.inject({ method: 'POST', url: '/auth/jwt/create/', payload: { username: 'alice', password: 'wrong-password-123' } })).statusCode)
  }
  t.same(statuses, [401, 401, 429], 'the third failure for the account is throttled')
  t.same(withoutRequest(seen), [{ event: 'rateLimit.exceeded', payload: { limit: 'login', scope: 'account', userId: null } }])

  seen.length = 0
  const byAddress = await a.app.inject({ method: 'POST', url: '/auth/jwt/create/', payload: { username: 'bob', password: 'wrong-password-123' } })
  t.equal(byAddress.statusCode, 429, 'the fifth login from one address is over the per-IP budget of 4')
  t.same(withoutRequest(seen), [{ event: 'rateLimit.exceeded', payload: { limit: 'login', scope: 'address', userId: null } }])

  seen.length = 0
  const guess = await a.app.inject({
    method: 'POST', url: '/auth/users/set_password/', headers: { authorization: `Bearer ${access}`, 'x-forwarded-for': '10.0.0.1' },
    payload: { current_password: 'wrong-password-123', new_password: 'another-horse-battery-9' }
  })
  t.equal(guess.statusCode, 429, 'current_password checks share the exhausted budget')
  t.equal(seen.length, 1)
  t.match(seen[0], { event: 'rateLimit.exceeded', payload: { limit: 'password', userId: Number } })
})

t.test('djoser: another user\'s record emits permission.denied (not-staff)', async (t) => {
  const a = await buildApp({ sendActivationEmail: false, hideUsers: false })
  t.teardown(() => a.app.close())
  const seen = record(a.app)
  const alice = await activeUser(a)
  const bob = await activeUser(a, 'bob')
  const res = await a.app.inject({ url: `/auth/users/${bob.id}/`, headers: { authorization: `Bearer ${alice.access}` } })
  t.equal(res.statusCode, 403)
  t.same(withoutRequest(seen), [{ event: 'permission.denied', payload: { userId: alice.id, reason: 'not-staff' } }])
  seen.length = 0
  t.equal((await a.app.inject({ url: `/auth/users/${alice.id}/`, headers: { authorization: `Bearer ${alice.access}` } })).statusCode, 200)
  t.same(seen, [])
})

t.test('dj-rest-auth cookie mode: a cross-site request emits permission.denied (cross-site), a bad cookie auth.failed', async (t) => {
  const a = await buildDjRestAuthApp({ useJwt: true, jwtAuthCookie: 'jwt-auth', jwtAuthHttpOnly: false, emailVerification: 'none' }, { core: { protocol: 'https', domain: 'app.example.com' } })
  t.teardown(() => a.app.close())
  const seen = record(a.app)
  const created = await a.app.inject({ method: 'POST', url: `${DRA}/registration/`, payload: { username: 'carol', email: 'carol@example.com', password1: PASSWORD, password2: PASSWORD } })
  t.equal(created.statusCode, 201, created.body)
  const login = await a.app.inject({ method: 'POST', url: `${DRA}/login/`, payload: { username: 'carol', password: PASSWORD } })
  t.equal(login.statusCode, 200, login.body)
  const access = (json(login) as { access: string }).access
  seen.length = 0
  const forged = await a.app.inject({
    method: 'POST', url: `${DRA}/password/change/`, headers: { cookie: `jwt-auth=${access}`, origin: 'https://evil.example', ...UA },
    payload: { new_password1: 'another-horse-battery-9', new_password2: 'another-horse-battery-9' }
  })
  t.equal(forged.statusCode, 403)
  t.match(seen, [{ event: 'permission.denied', payload: { userId: null, reason: 'cross-site', request: { userAgent: 'audit-test/1.0' } } }])

  seen.length = 0
  const bad = await a.app.inject({ url: `${DRA}/user/`, headers: { cookie: 'jwt-auth=forged.token.value' } })
  t.equal(bad.statusCode, 401)
  t.same(withoutRequest(seen), [{ event: 'auth.failed', payload: { scheme: 'jwt', reason: 'invalid', userId: null } }])
})

t.test('drf-jwt and sanic-jwt authenticators emit auth.failed too', async (t) => {
  const drf = await buildDrfJwtApp()
  t.teardown(() => drf.app.close())
  const drfSeen = record(drf.app)
  const user = await createDrfUser(drf)
  t.equal((await drf.app.inject({ url: '/private', headers: { authorization: `JWT ${drfToken(user)}` } })).statusCode, 200)
  t.equal((await drf.app.inject({ url: '/private', headers: { authorization: `JWT ${drfToken(user, { exp: 1 })}` } })).statusCode, 401)
  await drf.users.updateUser(user.id, { isActive: false })
  t.equal((await drf.app.inject({ url: '/private', headers: { authorization: `JWT ${drfToken(user)}` } })).statusCode, 401)
  t.same(withoutRequest(drfSeen), [
    { event: 'auth.failed', payload: { scheme: 'jwt', reason: 'invalid', userId: null } },
    { event: 'auth.failed', payload: { scheme: 'jwt', reason: 'inactive', userId: user.id } }
  ])

  const sanic = await buildSanicApp()
  t.teardown(() => sanic.app.close())
  const sanicSeen = record(sanic.app as TestApp['app'])
  const session = await loggedIn(sanic)
  t.equal((await sanicGet(sanic, '/private', bearer(session.access))).statusCode, 200)
  t.equal((await sanicGet(sanic, '/private', bearer('x.y.z'))).statusCode, 401)
  t.match(sanicSeen, [{ event: 'auth.failed', payload: { scheme: 'jwt', reason: 'invalid', userId: null, request: { ip: '127.0.0.1' } } }])
})
