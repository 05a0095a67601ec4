/**
 * TokenService's audit events: token.refreshed, token.reuseDetected and token.revoked (blacklist, logout,
 * password change, user deletion), with ids and never a token.
 */
import t, { type Test } from 'tap'
import type { AccountsEventName, AccountsEventPayload, AccountsEvents } from '../lib/index.js'
import { json, linkFrom, PASSWORD, type TestApp } from './helpers/app.js'
import { decodeJwt, post, setup, type Overrides } from './helpers/jwt.js'

type Recorded = Array<{ event: AccountsEventName, payload: AccountsEvents[AccountsEventName] }>
type Pair = { access: string, refresh: string }

const TOKEN_EVENTS = ['token.refreshed', 'token.reuseDetected', 'token.revoked'] as const satisfies AccountsEventName[]
const NEW_PASSWORD = 'a-brand-new-passphrase-42'

/** A user in the shared app for `overrides`, and the token events emitted from now on until the end of `t`. */
async function recording (t: Test, overrides: Overrides = {}, outsideRequest = false): Promise<Awaited<ReturnType<typeof setup>> & { events: Recorded }> {
  const user = await setup(overrides)
  const events: Recorded = []
  for (const event of TOKEN_EVENTS) {
    // The request behind each event is checked here and kept out of the payloads the cases compare.
    const listener = ({ request, ...payload }: AccountsEventPayload<typeof event>): void => {
      if (outsideRequest) t.equal(request, null, `${event} called outside a request names none`)
      else t.match(request, { requestId: /^req-/, ip: '127.0.0.1', userAgent: 'lightMyRequest' }, `${event} names its request`)
      events.push({ event, payload })
    }
    user.app.app.accounts.events.on(event, listener)
    t.teardown(() => { user.app.app.accounts.events.off(event, listener) })
  }
  return { ...user, events }
}

const bearer = (access: string): Record<string, string> => ({ authorization: `Bearer ${access}` })

async function tokenLogin (app: TestApp, username: string, password = PASSWORD): Promise<string> {
  const res = await post(app, '/token/login/', { username, password })
  if (res.statusCode !== 200) throw new Error(`token login: ${res.body}`)
  return (json(res) as { auth_token: string }).auth_token
}

function noSecrets (t: Test, events: Recorded): void {
  t.notMatch(JSON.stringify(events), /eyJ|[0-9a-f]{40}|\$argon2/, 'no token, key or hash in any payload')
}

t.test('token.refreshed', async t => {
  t.test('{userId, rotated: false} without rotation', async t => {
    const { app, id, refresh, events } = await recording(t)
    t.equal((await post(app, '/jwt/refresh/', { refresh })).statusCode, 200)
    t.same(events, [{ event: 'token.refreshed', payload: { userId: id, rotated: false } }])
    noSecrets(t, events)
  })

  t.test('{userId, rotated: true} with rotation', async t => {
    const { app, id, refresh, events } = await recording(t, { jwt: { rotateRefreshTokens: true } })
    t.equal((await post(app, '/jwt/refresh/', { refresh })).statusCode, 200)
    t.same(events, [{ event: 'token.refreshed', payload: { userId: id, rotated: true } }])
  })

  t.test('a refused refresh emits nothing', async t => {
    const { app, access, events } = await recording(t)
    t.equal((await post(app, '/jwt/refresh/', { refresh: access })).statusCode, 401)
    t.equal((await post(app, '/jwt/refresh/', { refresh: 'garbage' })).statusCode, 401)
    t.same(events, [])
  })

  t.test('a throwing listener does not break the refresh', async t => {
    const { app, refresh } = await recording(t)
    const boom = (): void => { throw new Error('listener bug') }
    app.app.accounts.events.on('token.refreshed', boom)
    t.teardown(() => { app.app.accounts.events.off('token.refreshed', boom) })
    t.equal((await post(app, '/jwt/refresh/', { refresh })).statusCode, 200)
  })
})

t.test('token.reuseDetected', async t => {
  t.test('{userId, family} when a rotated-out token is reused past the interval; the family is the first jti', async t => {
    const { app, id, refresh, events } = await recording(t, { jwt: { rotateRefreshTokens: true, refreshReuseInterval: 0 } })
    t.equal((await post(app, '/jwt/refresh/', { refresh })).statusCode, 200)
    events.length = 0
    t.equal((await post(app, '/jwt/refresh/', { refresh })).statusCode, 401)
    t.same(events, [{ event: 'token.reuseDetected', payload: { userId: id, family: decodeJwt(refresh).payload.jti } }])
  })

  t.test('the family is kept along the chain', async t => {
    const { app, id, refresh, events } = await recording(t, { jwt: { rotateRefreshTokens: true, refreshReuseInterval: 0 } })
    const second = json(await post(app, '/jwt/refresh/', { refresh })) as Pair
    t.equal((await post(app, '/jwt/refresh/', { refresh: second.refresh })).statusCode, 200)
    events.length = 0
    t.equal((await post(app, '/jwt/refresh/', { refresh: second.refresh })).statusCode, 401)
    t.same(events, [{ event: 'token.reuseDetected', payload: { userId: id, family: decodeJwt(refresh).payload.jti } }])
  })

  t.test('not within the interval (a client racing itself)', async t => {
    const { app, refresh, events } = await recording(t, { jwt: { rotateRefreshTokens: true } })
    t.equal((await post(app, '/jwt/refresh/', { refresh })).statusCode, 200)
    events.length = 0
    t.equal((await post(app, '/jwt/refresh/', { refresh })).statusCode, 401)
    t.same(events, [])
  })

  t.test('not without reuse detection', async t => {
    const { app, refresh, events } = await recording(t, { jwt: { rotateRefreshTokens: true, blacklistAfterRotation: true, refreshReuseDetection: false, refreshReuseInterval: 0 } })
    t.equal((await post(app, '/jwt/refresh/', { refresh })).statusCode, 200)
    events.length = 0
    t.equal((await post(app, '/jwt/refresh/', { refresh })).statusCode, 401)
    t.same(events, [])
  })
})

t.test('token.revoked', async t => {
  t.test('blacklist: {userId, reason: blacklist}, once', async t => {
    const { app, id, refresh, events } = await recording(t)
    t.equal((await post(app, '/jwt/blacklist/', { refresh })).statusCode, 200)
    t.equal((await post(app, '/jwt/blacklist/', { refresh })).statusCode, 401, 'a second blacklist is refused')
    t.same(events, [{ event: 'token.revoked', payload: { userId: id, reason: 'blacklist' } }])
    noSecrets(t, events)
  })

  t.test('logout with the opaque token: {userId, reason: logout}', async t => {
    const { app, id, username, events } = await recording(t)
    const key = await tokenLogin(app, username)
    t.equal((await post(app, '/token/logout/', {}, { authorization: `Token ${key}` })).statusCode, 204)
    t.same(events, [{ event: 'token.revoked', payload: { userId: id, reason: 'logout' } }])
    noSecrets(t, events)
  })

  t.test('logout with a JWT deletes the opaque tokens: {userId, reason: logout}; nothing when there were none', async t => {
    const { app, id, username, access, events } = await recording(t)
    await tokenLogin(app, username)
    await tokenLogin(app, username)
    t.equal((await post(app, '/token/logout/', {}, bearer(access))).statusCode, 204)
    t.same(events, [{ event: 'token.revoked', payload: { userId: id, reason: 'logout' } }])
    events.length = 0
    t.equal((await post(app, '/token/logout/', {}, bearer(access))).statusCode, 204)
    t.same(events, [], 'no opaque token left: nothing revoked')
  })

  t.test('the service looks the owner up when the caller does not give it', async t => {
    const { app, id, username, events } = await recording(t, {}, true)
    const key = await tokenLogin(app, username)
    await app.app.accounts.tokens.deleteAuthToken(key)
    await app.app.accounts.tokens.deleteAuthToken(key)
    t.same(events, [{ event: 'token.revoked', payload: { userId: id, reason: 'logout' } }], 'once: the second delete found nothing')
  })

  t.test('set_password: {userId, reason: password-change}', async t => {
    const { app, id, username, access, events } = await recording(t)
    await tokenLogin(app, username)
    const res = await post(app, '/users/set_password/', { current_password: PASSWORD, new_password: NEW_PASSWORD }, bearer(access))
    t.equal(res.statusCode, 204, res.body)
    t.same(events, [{ event: 'token.revoked', payload: { userId: id, reason: 'password-change' } }])
  })

  t.test('a reset: {userId, reason: password-reset} (every session ended)', async t => {
    const { app, id, email, events } = await recording(t)
    t.equal((await post(app, '/users/reset_password/', { email })).statusCode, 204)
    const res = await post(app, '/users/reset_password_confirm/', { ...linkFrom(app.mailer, email), new_password: NEW_PASSWORD })
    t.equal(res.statusCode, 204, res.body)
    t.same(events, [{ event: 'token.revoked', payload: { userId: id, reason: 'password-reset' } }])
  })

  t.test('a change with no refresh or opaque token left in the store still reports it: its cut-off ends access tokens', async t => {
    const { app, id, access, refresh, events } = await recording(t)
    t.equal((await post(app, '/jwt/blacklist/', { refresh })).statusCode, 200)
    events.length = 0
    t.equal((await post(app, '/users/set_password/', { current_password: PASSWORD, new_password: NEW_PASSWORD }, bearer(access))).statusCode, 204)
    t.same(events, [{ event: 'token.revoked', payload: { userId: id, reason: 'password-change' } }])
    noSecrets(t, events)
  })

  t.test('logoutOnPasswordChange alone (opaque tokens only): {userId, reason: password-change}', async t => {
    const { app, id, username, access, refresh, events } = await recording(t, { revokeTokensOnPasswordChange: false, logoutOnPasswordChange: true })
    await tokenLogin(app, username)
    t.equal((await post(app, '/users/set_password/', { current_password: PASSWORD, new_password: NEW_PASSWORD }, bearer(access))).statusCode, 204)
    t.same(events, [{ event: 'token.revoked', payload: { userId: id, reason: 'password-change' } }])
    t.equal((await post(app, '/jwt/refresh/', { refresh })).statusCode, 200, 'the refresh token survives, as asked')
  })

  t.test('nothing to revoke: no event', async t => {
    const { app, access, events } = await recording(t, { revokeTokensOnPasswordChange: false })
    t.equal((await post(app, '/users/set_password/', { current_password: PASSWORD, new_password: NEW_PASSWORD }, bearer(access))).statusCode, 204)
    t.same(events, [])
  })

  t.test('deleting the account: {userId, reason: user-deleted}', async t => {
    const { app, id, access, events } = await recording(t)
    const res = await app.app.inject({ method: 'DELETE', url: '/auth/users/me/', headers: bearer(access), payload: { current_password: PASSWORD } })
    t.equal(res.statusCode, 204, res.body)
    t.same(events, [{ event: 'token.revoked', payload: { userId: id, reason: 'user-deleted' } }])
  })
})
