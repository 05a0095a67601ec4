import t from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import type { AccountsEventPayload } from '../lib/index.js'
import { SECRET } from './helpers/app.js'
import { buildDjRestAuthApp, cookie, DRA, json, PASSWORD, type DjTestApp } from './helpers/dj-rest-auth.js'
import { claims, signHmac } from './helpers/jwt.js'

/*
 * Issue 13 item 1, the rest of it: dj-rest-auth's JWT_AUTH_COOKIE_USE_CSRF. A request authenticated by a JWT
 * cookie must also send Django's double submit (the `csrftoken` cookie echoed in `X-CSRFToken`), else 403
 * {detail} in Django's words, and nothing changes. The token is bound to the session: a pair planted from
 * another session is refused. Header-authenticated requests and safe methods are untouched. Sessions from
 * before a move from Django (no sid) keep Django's own comparison, so their frontends keep working.
 */

const NEW_PASSWORD = 'another-horse-battery-staple-2'
const CHANGE = { new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD }
const DJ = { useJwt: true, jwtAuthCookie: 'jwt-auth', jwtAuthRefreshCookie: 'jwt-refresh', jwtAuthCookieUseCsrf: true, emailVerification: 'none' } as const
const cookies = (pairs: Record<string, string | undefined>): string =>
  Object.entries(pairs).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${String(v)}`).join('; ')

interface Session { access: string, refresh: string, csrf: string, id: number }

async function app (t: { teardown: (fn: () => unknown) => void }, dj: Record<string, unknown> = {}): Promise<DjTestApp> {
  const a = await buildDjRestAuthApp({ ...DJ, ...dj })
  t.teardown(() => a.app.close())
  return a
}

async function signIn (a: DjTestApp, username = 'alice'): Promise<Session> {
  if ((await a.users.findUserByUsername(username)) === null) {
    const created = await a.app.inject({ method: 'POST', url: `${DRA}/registration/`, payload: { username, email: `${username}@example.com`, password1: PASSWORD, password2: PASSWORD } })
    if (created.statusCode !== 201) throw new Error(created.body)
  }
  const login = await a.app.inject({ method: 'POST', url: `${DRA}/login/`, payload: { username, password: PASSWORD } })
  if (login.statusCode !== 200) throw new Error(login.body)
  const user = await a.users.findUserByUsername(username)
  return {
    access: cookie(login, 'jwt-auth')?.value ?? '',
    refresh: cookie(login, 'jwt-refresh')?.value ?? '',
    csrf: cookie(login, 'csrftoken')?.value ?? '',
    id: user?.id ?? 0
  }
}

async function changePassword (a: DjTestApp, cookieHeader: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await a.app.inject({ method: 'POST', url: `${DRA}/password/change/`, headers: { cookie: cookieHeader, ...headers }, payload: CHANGE })
}

async function passwordIs (a: DjTestApp, password: string, username = 'alice'): Promise<boolean> {
  return (await a.app.inject({ method: 'POST', url: `${DRA}/login/`, payload: { username, password } })).statusCode === 200
}

t.test('login sets a readable csrftoken cookie beside the JWT cookies', async (t) => {
  const a = await app(t)
  await signIn(a)
  const login = await a.app.inject({ method: 'POST', url: `${DRA}/login/`, payload: { username: 'alice', password: PASSWORD } })
  const token = cookie(login, 'csrftoken')
  t.ok(token !== undefined && token.value.length > 20, 'a token')
  t.equal(token?.attributes.httponly, undefined, 'not HttpOnly: the page echoes it')
  t.equal(token?.attributes.path, '/')
  t.equal(token?.attributes.samesite, 'Lax')
  t.equal(cookie(login, 'jwt-auth')?.attributes.httponly, true, 'the JWT cookies stay HttpOnly')
})

t.test('a cookie-authenticated unsafe request needs the pair; refused ones change nothing', async (t) => {
  const a = await app(t)
  const s = await signIn(a)
  const seen: Array<AccountsEventPayload<'permission.denied'>> = []
  a.app.accounts.events.on('permission.denied', (payload) => { seen.push(payload) })

  const noHeader = await changePassword(a, cookies({ 'jwt-auth': s.access, csrftoken: s.csrf }))
  t.equal(noHeader.statusCode, 403)
  t.same(json(noHeader), { detail: 'CSRF Failed: CSRF token missing.' })

  const noCookie = await changePassword(a, cookies({ 'jwt-auth': s.access }), { 'x-csrftoken': s.csrf })
  t.equal(noCookie.statusCode, 403)
  t.same(json(noCookie), { detail: 'CSRF Failed: CSRF cookie not set.' })

  const mismatch = await changePassword(a, cookies({ 'jwt-auth': s.access, csrftoken: s.csrf }), { 'x-csrftoken': `${s.csrf}x` })
  t.equal(mismatch.statusCode, 403)
  t.same(json(mismatch), { detail: "CSRF Failed: CSRF token from the 'X-Csrftoken' HTTP header incorrect." })

  t.ok(await passwordIs(a, PASSWORD), 'the password did not change')
  t.equal(seen.length, 3)
  t.match(seen[0], { reason: 'csrf-token', request: { ip: '127.0.0.1' } })

  const patched = await a.app.inject({ method: 'PATCH', url: `${DRA}/user/`, headers: { cookie: cookies({ 'jwt-auth': s.access, csrftoken: s.csrf }) }, payload: { first_name: 'Mallory' } })
  t.equal(patched.statusCode, 403)
  t.equal((await a.users.findUserById(s.id))?.firstName ?? '', '', 'the profile did not change')

  const ok = await changePassword(a, cookies({ 'jwt-auth': s.access, csrftoken: s.csrf }), { 'x-csrftoken': s.csrf })
  t.equal(ok.statusCode, 200, ok.body)
  t.ok(await passwordIs(a, NEW_PASSWORD), 'with the pair, the password changed')
})

t.test('a pair planted from another session is refused (the token is bound to the session)', async (t) => {
  const a = await app(t)
  const victim = await signIn(a)
  const attacker = await signIn(a, 'mallory')
  const planted = await changePassword(a, cookies({ 'jwt-auth': victim.access, csrftoken: attacker.csrf }), { 'x-csrftoken': attacker.csrf })
  t.equal(planted.statusCode, 403)
  t.same(json(planted), { detail: "CSRF Failed: CSRF token from the 'X-Csrftoken' HTTP header incorrect." })
  const sameUserOtherLogin = await signIn(a)
  const crossed = await changePassword(a, cookies({ 'jwt-auth': victim.access, csrftoken: sameUserOtherLogin.csrf }), { 'x-csrftoken': sameUserOtherLogin.csrf })
  t.equal(crossed.statusCode, 403, 'even the same user\'s other session')
  t.ok(await passwordIs(a, PASSWORD))
})

t.test('header credentials and safe methods need no token', async (t) => {
  const a = await app(t)
  const s = await signIn(a)
  const read = await a.app.inject({ url: `${DRA}/user/`, headers: { cookie: cookies({ 'jwt-auth': s.access }) } })
  t.equal(read.statusCode, 200)
  const byHeader = await a.app.inject({ method: 'POST', url: `${DRA}/password/change/`, headers: { authorization: `Bearer ${s.access}` }, payload: CHANGE })
  t.equal(byHeader.statusCode, 200, byHeader.body)
})

t.test('token/refresh/ and logout/ from the refresh cookie need the pair too', async (t) => {
  const a = await app(t)
  const s = await signIn(a)
  const refused = await a.app.inject({ method: 'POST', url: `${DRA}/token/refresh/`, headers: { cookie: cookies({ 'jwt-refresh': s.refresh, csrftoken: s.csrf }) }, payload: {} })
  t.equal(refused.statusCode, 403)
  t.same(json(refused), { detail: 'CSRF Failed: CSRF token missing.' })
  t.equal(cookie(refused, 'jwt-auth'), undefined, 'no new access cookie')

  const refreshed = await a.app.inject({
    method: 'POST', url: `${DRA}/token/refresh/`, headers: { cookie: cookies({ 'jwt-refresh': s.refresh, csrftoken: s.csrf }), 'x-csrftoken': s.csrf }, payload: {}
  })
  t.equal(refreshed.statusCode, 200, refreshed.body)
  const renewed = cookie(refreshed, 'csrftoken')?.value
  t.ok(renewed !== undefined && renewed !== '', 'a csrftoken comes with the new access cookie')
  // A refresh token posted in the body is not a browser's doing: no pair needed.
  const posted = await a.app.inject({ method: 'POST', url: `${DRA}/token/refresh/`, payload: { refresh: s.refresh } })
  t.equal(posted.statusCode, 200)

  const forgedLogout = await a.app.inject({ method: 'POST', url: `${DRA}/logout/`, headers: { cookie: cookies({ 'jwt-refresh': s.refresh, csrftoken: s.csrf }) }, payload: {} })
  t.equal(forgedLogout.statusCode, 403)
  const stillValid = await a.app.inject({ method: 'POST', url: `${DRA}/token/refresh/`, payload: { refresh: s.refresh } })
  t.equal(stillValid.statusCode, 200, 'the refused logout blacklisted nothing')

  const logout = await a.app.inject({
    method: 'POST', url: `${DRA}/logout/`, headers: { cookie: cookies({ 'jwt-refresh': s.refresh, csrftoken: s.csrf }), 'x-csrftoken': s.csrf }, payload: {}
  })
  t.equal(logout.statusCode, 200, logout.body)
  t.equal(cookie(logout, 'csrftoken')?.value, '', 'the csrftoken cookie is cleared with the JWT cookies')
  const dead = await a.app.inject({ method: 'POST', url: `${DRA}/token/refresh/`, payload: { refresh: s.refresh } })
  t.equal(dead.statusCode, 401, 'the logout blacklisted the refresh token')
})

t.test('a session from before the move from Django (no sid) keeps Django\'s comparison', async (t) => {
  const a = await app(t)
  const s = await signIn(a)
  const legacy = signHmac(claims(s.id, 'access'), SECRET)
  const secret = 'a'.repeat(16) + 'B'.repeat(16)
  // Django's masked form of `secret` under a mask of all 'b' (index 1): each char shifted by one.
  const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
  const masked = 'b'.repeat(32) + [...secret].map((c) => chars[(chars.indexOf(c) + 1) % chars.length]).join('')
  const bad = await changePassword(a, cookies({ 'jwt-auth': legacy, csrftoken: masked }), { 'x-csrftoken': 'c'.repeat(32) })
  t.equal(bad.statusCode, 403)
  t.same(json(bad), { detail: "CSRF Failed: CSRF token from the 'X-Csrftoken' HTTP header incorrect." })
  const short = await changePassword(a, cookies({ 'jwt-auth': legacy, csrftoken: 'abc' }), { 'x-csrftoken': 'abc' })
  t.equal(short.statusCode, 403)
  t.same(json(short), { detail: 'CSRF Failed: CSRF cookie has incorrect length.' })
  t.ok(await passwordIs(a, PASSWORD), 'nothing changed')
  // Last: the change ends the other sessions, this legacy one among them.
  const good = await changePassword(a, cookies({ 'jwt-auth': legacy, csrftoken: masked }), { 'x-csrftoken': secret })
  t.equal(good.statusCode, 200, good.body)
})

t.test('options: the setting needs a JWT cookie; names and the access cookie path are configurable', async (t) => {
  await t.rejects(buildDjRestAuthApp({ useJwt: true, jwtAuthCookieUseCsrf: true }), /jwtAuthCookieUseCsrf needs jwtAuthCookie or jwtAuthRefreshCookie/)
  await t.rejects(buildDjRestAuthApp({ ...DJ, csrfCookieName: 'jwt-auth' }), /csrfCookieName must differ/)
  const a = await app(t, { csrfCookieName: 'xsrf', csrfHeaderName: 'X-XSRF-Token', jwtAuthCookiePath: '/api/' })
  await signIn(a)
  const login = await a.app.inject({ method: 'POST', url: `${DRA}/login/`, payload: { username: 'alice', password: PASSWORD } })
  const xsrf = cookie(login, 'xsrf')?.value ?? ''
  t.equal(cookie(login, 'jwt-auth')?.attributes.path, '/api/')
  const access = cookie(login, 'jwt-auth')?.value ?? ''
  const wrongHeader = await changePassword(a, cookies({ 'jwt-auth': access, xsrf }), { 'x-csrftoken': xsrf })
  t.same(json(wrongHeader), { detail: 'CSRF Failed: CSRF token missing.' })
  const right = await changePassword(a, cookies({ 'jwt-auth': access, xsrf }), { 'x-xsrf-token': xsrf })
  t.equal(right.statusCode, 200, right.body)
})

t.test('without the setting, the Origin check alone guards cookie requests (unchanged)', async (t) => {
  const a = await app(t, { jwtAuthCookieUseCsrf: false })
  const s = await signIn(a)
  t.equal(s.csrf, '', 'no csrftoken cookie')
  const ok = await changePassword(a, cookies({ 'jwt-auth': s.access }))
  t.equal(ok.statusCode, 200)
})
