import SwaggerParser from '@apidevtools/swagger-parser'
import swagger from '@fastify/swagger'
import { calculatePKCECodeChallenge, randomPKCECodeVerifier } from 'openid-client'
import { swaggerOptions } from '../lib/http/openapi.js'
import t, { type Test } from 'tap'
import type { AccountsEventName, AccountsEventPayload } from '../lib/events.js'
import type { SocialOptions } from '../lib/social/options.js'
import { json, PASSWORD } from './helpers/app.js'
import { buildDjRestAuthApp, cookie, dra, registered, tokenKey, type DjTestApp } from './helpers/dj-rest-auth.js'
import { startFacebook } from './helpers/facebook-server.js'
import { startGitHub } from './helpers/github-server.js'
import { APP_SECRET, REDIRECT_URI, startIdp } from './helpers/oidc-provider.js'
import { closedPortUrl, silentServer } from './helpers/social.js'
import { startX } from './helpers/x-server.js'

// dj-rest-auth's social views over HTTP (app.inject), against a real OpenID Connect provider (oidc-provider)
// and local GitHub and X servers: every success and every failure the issue names, in dj-rest-auth's shapes.

const idp = await startIdp()
t.teardown(idp.close)
const gh = await startGitHub({ app: { secret: 'gh-secret-app', redirectUris: [REDIRECT_URI] }, other: { secret: 'gh-secret-other', redirectUris: [REDIRECT_URI] } }, {
  octocat: { id: 583231, login: 'octocat', name: 'The Octocat', email: null, emails: [{ email: 'octocat@example.com', primary: true, verified: true }] }
})
t.teardown(gh.close)
const x = await startX({ 'consumer-key': 'consumer-secret' }, { 42: { id: 42, screen_name: 'jack', name: 'Jack Dorsey', email: 'jack@example.com' } })
t.teardown(x.close)
const graph = await startFacebook({ 1111: { secret: 'fb-secret-1111' }, 2222: { secret: 'fb-secret-2222' } }, {
  10001: { id: '10001', name: 'Frank Facebook', first_name: 'Frank', last_name: 'Facebook', email: 'frank@example.com' }
})
t.teardown(graph.close)

const providers = (): NonNullable<SocialOptions['providers']> => ({
  keycloak: { type: 'oidc', issuer: idp.issuer, clientId: 'app', clientSecret: APP_SECRET, timeout: 3 },
  google: { clientId: 'app', clientSecret: APP_SECRET, issuer: idp.issuer, tokenInfoUrl: `${idp.issuer}/tokeninfo`, timeout: 3 },
  github: { clientId: 'app', clientSecret: 'gh-secret-app', oauthUrl: gh.url, apiUrl: gh.apiUrl, timeout: 3 },
  twitter: { consumerKey: 'consumer-key', consumerSecret: 'consumer-secret', apiUrl: x.apiUrl, timeout: 3 },
  facebook: { clientId: '1111', clientSecret: 'fb-secret-1111', graphApiUrl: graph.graphApiUrl, timeout: 3 }
})

interface Built extends DjTestApp {
  events: Array<{ event: AccountsEventName, payload: AccountsEventPayload<AccountsEventName> }>
}

async function build (t: Test, social: SocialOptions = {}, dj: Parameters<typeof buildDjRestAuthApp>[0] = {}, core: Record<string, unknown> = {}): Promise<Built> {
  const a = await buildDjRestAuthApp(dj, { core: { social: { providers: providers(), callbackUrl: REDIRECT_URI, ...social }, ...core } })
  t.teardown(async () => { await a.app.close() })
  const events: Built['events'] = []
  for (const event of ['login.succeeded', 'social.connected', 'social.disconnected', 'user.created'] as const) {
    a.app.accounts.events.on(event, (payload) => { events.push({ event, payload }) })
  }
  return { ...a, events }
}

const errors = (res: { body: string }): unknown => json(res as never)
const nonField = (message: string): { non_field_errors: string[] } => ({ non_field_errors: [message] })

async function nothingStored (t: Test, a: Built, users = 0): Promise<void> {
  t.equal((await a.users.listUsers()).length, users, `${users} user(s): nothing created`)
  const social = a.app.accounts.social
  for (const user of await a.users.listUsers()) t.same(await social?.accounts.listSocialAccounts(user.id), [], 'no social account linked')
  t.notOk(a.events.some((e) => e.event === 'login.succeeded'), 'no login.succeeded')
}

t.test('id_token on its own (beyond dj-rest-auth): a new user, {key}, its social account listed; the same person again signs in', async (t) => {
  const a = await build(t)
  const res = await dra(a, 'POST', '/keycloak/', { id_token: await idp.idToken() })
  t.equal(res.statusCode, 200, res.body)
  const { key } = json(res) as { key: string }
  t.match(key, /^[0-9a-f]{40}$/, 'the token login response')
  const me = await dra(a, 'GET', '/user/', undefined, { authorization: `Token ${key}` })
  t.match(json(me), { username: 'alice', email: 'alice@example.com', first_name: 'Alice', last_name: 'Liddell' })
  const [user] = await a.users.listUsers()
  t.equal(user.password, '', 'an unusable password')
  t.equal(user.isActive, true, 'active at once: the provider verified the email')
  t.equal(a.mailer.outbox.length, 0, 'no activation mail')

  const list = await dra(a, 'GET', '/socialaccounts/', undefined, { authorization: `Token ${key}` })
  t.equal(list.statusCode, 200)
  const accounts = json(list) as Array<Record<string, unknown>>
  t.equal(accounts.length, 1)
  t.match(accounts[0], { id: 1, provider: 'keycloak', uid: 'alice-sub' })
  t.same(Object.keys(accounts[0]).sort(), ['date_joined', 'id', 'last_login', 'provider', 'uid'])
  t.ok(!Number.isNaN(Date.parse(accounts[0].last_login as string)), 'ISO dates')

  const login = a.events.find((e) => e.event === 'login.succeeded')?.payload as AccountsEventPayload<'login.succeeded'>
  t.match(login, { userId: user.id, method: 'social', provider: 'keycloak' }, 'login.succeeded says social and the provider')
  t.ok(login.request !== null && typeof login.request.requestId === 'string', 'with the request behind it')
  t.match(a.events.find((e) => e.event === 'social.connected')?.payload, { userId: user.id, provider: 'keycloak', accountId: 1 })

  const again = await dra(a, 'POST', '/keycloak/', { code: await idp.code({}) })
  t.equal(again.statusCode, 200, `a code, exchanged with callbackUrl: ${again.body}`)
  t.equal((await a.users.listUsers()).length, 1, 'the same user')
  t.equal(a.events.filter((e) => e.event === 'social.connected').length, 1, 'no second link')
})

t.test('code with code_verifier (PKCE, beyond dj-rest-auth); a wrong verifier, a bad code and a reused code are refused', async (t) => {
  const a = await build(t)
  const verifier = randomPKCECodeVerifier()
  const code = await idp.code({ codeChallenge: await calculatePKCECodeChallenge(verifier) })
  const wrong = await dra(a, 'POST', '/keycloak/', { code, code_verifier: randomPKCECodeVerifier() })
  t.equal(wrong.statusCode, 400)
  t.same(errors(wrong), nonField('Failed to exchange code for access token'))
  await nothingStored(t, a)

  const code2 = await idp.code({ codeChallenge: await calculatePKCECodeChallenge(verifier) })
  const ok = await dra(a, 'POST', '/keycloak/', { code: code2, code_verifier: verifier })
  t.equal(ok.statusCode, 200, ok.body)
  const reused = await dra(a, 'POST', '/keycloak/', { code: code2, code_verifier: verifier })
  t.equal(reused.statusCode, 400)
  t.same(errors(reused), nonField('Failed to exchange code for access token'), 'a reused code')
  const bad = await dra(a, 'POST', '/keycloak/', { code: 'not-a-code' })
  t.same([bad.statusCode, errors(bad)], [400, nonField('Failed to exchange code for access token')], 'a bad code')
})

t.test('no way in, a foreign audience, a forged or expired id_token: 400 "Incorrect input…" / "Incorrect value", nothing stored', async (t) => {
  const a = await build(t)
  for (const body of [{}, { access_token: '', code: '' }]) {
    const res = await dra(a, 'POST', '/keycloak/', body)
    t.equal(res.statusCode, 400)
    t.same(errors(res), nonField('Incorrect input. access_token or code is required.'))
  }
  const form = await a.app.inject({ method: 'POST', url: '/dj-rest-auth/keycloak/', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '' })
  t.same([form.statusCode, errors(form)], [400, nonField('Incorrect input. access_token or code is required.')], 'an empty form body too')

  const foreign = await dra(a, 'POST', '/keycloak/', { id_token: await idp.idToken({ clientId: 'other-app' }) })
  t.same([foreign.statusCode, errors(foreign)], [400, nonField('Incorrect value')], 'an id_token issued to another app')
  const now = Math.floor(Date.now() / 1000)
  const expired = await idp.sign({ iss: idp.issuer, aud: 'app', sub: 'alice-sub', email: 'alice@example.com', email_verified: true, iat: now - 7200, exp: now - 3600 })
  t.same([(await dra(a, 'POST', '/keycloak/', { id_token: expired })).statusCode], [400], 'an expired id_token')
  const garbage = await dra(a, 'POST', '/keycloak/', { id_token: 'eyJhbGciOiJub25lIn0.e30.' })
  t.same([garbage.statusCode, errors(garbage)], [400, nonField('Incorrect value')], 'an unsigned token')
  const wrongType = await dra(a, 'POST', '/keycloak/', { id_token: 42 })
  t.equal(wrongType.statusCode, 400, 'a number is DRF text, and no token')
  const array = await dra(a, 'POST', '/keycloak/', { id_token: ['x'] })
  t.equal(array.statusCode, 400)
  t.match(errors(array), { id_token: [String] }, 'a field error for a list')
  await nothingStored(t, a)
})

t.test('access_token: google checks it with tokeninfo (another app\'s token is refused); github checks the app', async (t) => {
  const a = await build(t)
  const mine = await dra(a, 'POST', '/google/', { access_token: await idp.accessToken() })
  t.equal(mine.statusCode, 200, mine.body)
  const other = await dra(a, 'POST', '/google/', { access_token: await idp.accessToken({ clientId: 'other-app', accountId: 'bob-sub' }) })
  t.same([other.statusCode, errors(other)], [400, nonField('Incorrect value')])
  const ghOther = await dra(a, 'POST', '/github/', { access_token: gh.issueToken({ clientId: 'other', login: 'octocat' }) })
  t.same([ghOther.statusCode, errors(ghOther)], [400, nonField('Incorrect value')], 'a GitHub token of another OAuth app')
  const ghMine = await dra(a, 'POST', '/github/', { access_token: gh.issueToken({ clientId: 'app', login: 'octocat' }) })
  t.equal(ghMine.statusCode, 200, ghMine.body)
  t.equal((await a.users.listUsers()).length, 2, 'alice (google) and octocat (github)')
  const github = await a.app.accounts.social?.accounts.findSocialAccount('github', '583231')
  t.ok(github, 'the github link, under GitHub\'s numeric id')
  t.notMatch(JSON.stringify(github?.extraData), /gho_|access_token/, 'no provider token in the extra data')
})

t.test('an email another account has: 400 "User is already registered with this e-mail address.", nothing stored', async (t) => {
  const a = await build(t)
  await registered(a, 'alice2', 'alice@example.com')
  const res = await dra(a, 'POST', '/keycloak/', { id_token: await idp.idToken() })
  t.equal(res.statusCode, 400)
  t.same(errors(res), nonField('User is already registered with this e-mail address.'))
  await nothingStored(t, a, 1)
})

t.test('emailAuthentication: the provider-verified email signs in the local user; auto-connect links it', async (t) => {
  const a = await build(t, { emailAuthentication: true })
  await registered(a, 'alice2', 'alice@example.com')
  const res = await dra(a, 'POST', '/keycloak/', { id_token: await idp.idToken() })
  t.equal(res.statusCode, 200, res.body)
  const me = await dra(a, 'GET', '/user/', undefined, { authorization: `Token ${(json(res) as { key: string }).key}` })
  t.match(json(me), { username: 'alice2' }, 'the local user')
  t.same(await a.app.accounts.social?.accounts.listSocialAccounts(1), [], 'no link without auto-connect')
  t.equal((await dra(a, 'POST', '/login/', { username: 'alice2', password: PASSWORD })).statusCode, 200, 'a verified local email keeps its password')

  const b = await build(t, { emailAuthentication: true, emailAuthenticationAutoConnect: true })
  await registered(b, 'alice2', 'alice@example.com')
  t.equal((await dra(b, 'POST', '/keycloak/', { id_token: await idp.idToken() })).statusCode, 200)
  t.match(await b.app.accounts.social?.accounts.listSocialAccounts(1), [{ provider: 'keycloak', uid: 'alice-sub' }], 'linked')
})

t.test('a provider-unverified email: the account waits for its activation link (mandatory verification), 400 and a mail', async (t) => {
  const a = await build(t)
  const res = await dra(a, 'POST', '/keycloak/', { id_token: await idp.idToken({ accountId: 'bob-sub' }) })
  t.equal(res.statusCode, 400)
  t.same(errors(res), nonField('User account is disabled.'))
  const [bob] = await a.users.listUsers()
  t.match(bob, { username: 'bob', isActive: false })
  await a.app.accounts.users.mailsSent()
  t.ok(a.mailer.last('bob@example.com'), 'the activation link went out')
})

t.test('a provider down, too slow, or discovery failing: 400, never 5xx', async (t) => {
  const slow = await silentServer(t)
  const a = await build(t, {
    providers: {
      down: { type: 'oidc', issuer: await closedPortUrl(), clientId: 'app', clientSecret: 'x', timeout: 1 },
      slow: { type: 'oidc', issuer: slow.url, clientId: 'app', clientSecret: 'x', timeout: 0.5 },
      ghdown: { type: 'github', clientId: 'app', clientSecret: 'x', oauthUrl: await closedPortUrl(), apiUrl: await closedPortUrl(), timeout: 1 }
    }
  })
  for (const [name, body] of [['down', { id_token: 'a.b.c' }], ['slow', { code: 'abc' }], ['ghdown', { code: 'abc' }], ['ghdown', { access_token: 'abc' }]] as const) {
    const started = Date.now()
    const res = await dra(a, 'POST', `/${name}/`, body)
    t.equal(res.statusCode, 400, `${name}: ${res.body}`)
    t.match(errors(res), { non_field_errors: [String] })
    t.ok(Date.now() - started < 3000, 'within the timeout')
  }
  await nothingStored(t, a)
})

t.test('twitter: access_token and token_secret (OAuth 1.0a); each is required; a wrong pair is refused', async (t) => {
  const a = await build(t)
  const pair = x.issueToken('consumer-key', 42)
  const missing = await dra(a, 'POST', '/twitter/', { access_token: pair.token })
  t.equal(missing.statusCode, 400)
  t.same(errors(missing), { token_secret: ['This field is required.'] })
  const wrong = await dra(a, 'POST', '/twitter/', { access_token: pair.token, token_secret: 'nope' })
  t.same([wrong.statusCode, errors(wrong)], [400, nonField('Incorrect value')])
  await nothingStored(t, a)
  const ok = await dra(a, 'POST', '/twitter/', { access_token: pair.token, token_secret: pair.secret })
  t.equal(ok.statusCode, 200, ok.body)
  t.match(await a.app.accounts.social?.accounts.findSocialAccount('twitter', '42'), { provider: 'twitter' })
})

t.test('JWT mode: {access, refresh, user} with the expiration fields and cookies, as login/ answers', async (t) => {
  const a = await build(t, {}, { useJwt: true, jwtAuthHttpOnly: false, jwtAuthCookie: 'app-auth', jwtAuthRefreshCookie: 'app-refresh', jwtAuthReturnExpiration: true })
  const res = await dra(a, 'POST', '/keycloak/', { id_token: await idp.idToken() })
  t.equal(res.statusCode, 200, res.body)
  const body = json(res) as Record<string, unknown>
  t.same(Object.keys(body).sort(), ['access', 'access_expiration', 'refresh', 'refresh_expiration', 'user'])
  t.same(body.user, { pk: 1, username: 'alice', email: 'alice@example.com', first_name: 'Alice', last_name: 'Liddell' })
  t.equal(cookie(res, 'app-auth')?.value, body.access)
  t.equal(cookie(res, 'app-refresh')?.value, body.refresh)
  const me = await dra(a, 'GET', '/user/', undefined, { authorization: `Bearer ${String(body.access)}` })
  t.equal(me.statusCode, 200)
  const http = await build(t, {}, { useJwt: true, jwtAuthHttpOnly: true, jwtAuthRefreshCookie: 'app-refresh' })
  const httpOnly = await dra(http, 'POST', '/keycloak/', { id_token: await idp.idToken() })
  t.equal((json(httpOnly) as { refresh: string }).refresh, '', 'JWT_AUTH_HTTPONLY: the refresh token only in its cookie')
})

t.test('connect: links to the signed-in user; 401 without one; an account linked to another user is 400', async (t) => {
  const a = await build(t)
  await registered(a, 'carol', 'carol@example.com')
  const key = await tokenKey(a, 'carol')
  const auth = { authorization: `Token ${key}` }
  const anonymous = await dra(a, 'POST', '/github/connect/', { access_token: gh.issueToken({ clientId: 'app', login: 'octocat' }) })
  t.equal(anonymous.statusCode, 401)
  t.match(errors(anonymous), { detail: String })
  const res = await dra(a, 'POST', '/github/connect/', { access_token: gh.issueToken({ clientId: 'app', login: 'octocat' }) }, auth)
  t.equal(res.statusCode, 200, res.body)
  t.match(json(res), { key: /^[0-9a-f]{40}$/ }, 'the login response, as SocialConnectView (a LoginView) gives')
  t.match(json(await dra(a, 'GET', '/socialaccounts/', undefined, auth)), [{ provider: 'github', uid: '583231' }])
  t.match(a.events.find((e) => e.event === 'social.connected')?.payload, { provider: 'github', request: { requestId: String } })
  const again = await dra(a, 'POST', '/github/connect/', { access_token: gh.issueToken({ clientId: 'app', login: 'octocat' }) }, auth)
  t.equal(again.statusCode, 200, 'connecting it again to the same user is fine')

  await registered(a, 'dave', 'dave@example.com')
  const daveKey = await tokenKey(a, 'dave')
  const taken = await dra(a, 'POST', '/github/connect/', { access_token: gh.issueToken({ clientId: 'app', login: 'octocat' }) }, { authorization: `Token ${daveKey}` })
  t.equal(taken.statusCode, 400)
  t.same(errors(taken), nonField('The social account is already connected to a different account.'))
  t.same(json(await dra(a, 'GET', '/socialaccounts/', undefined, { authorization: `Token ${daveKey}` })), [], 'dave got nothing')
  const bad = await dra(a, 'POST', '/keycloak/connect/', { id_token: 'x.y.z' }, auth)
  t.same([bad.statusCode, errors(bad)], [400, nonField('Incorrect value')])
})

t.test('disconnect: 200 {} for the caller\'s own; 404 for another\'s or a bad id; 400 for the last way in of a user without a password', async (t) => {
  const a = await build(t)
  await registered(a, 'carol', 'carol@example.com')
  const carol = { authorization: `Token ${await tokenKey(a, 'carol')}` }
  await dra(a, 'POST', '/github/connect/', { access_token: gh.issueToken({ clientId: 'app', login: 'octocat' }) }, carol)
  const social = await dra(a, 'POST', '/keycloak/', { id_token: await idp.idToken() })
  const alice = { authorization: `Token ${(json(social) as { key: string }).key}` }
  const [aliceAccount] = json(await dra(a, 'GET', '/socialaccounts/', undefined, alice)) as Array<{ id: number }>
  const [carolAccount] = json(await dra(a, 'GET', '/socialaccounts/', undefined, carol)) as Array<{ id: number }>

  const foreign = await dra(a, 'POST', `/socialaccounts/${aliceAccount.id}/disconnect/`, {}, carol)
  t.same([foreign.statusCode, errors(foreign)], [404, { detail: 'Not found.' }], 'not the caller\'s')
  for (const id of ['abc', '0', '99999999999999999999']) {
    const res = await dra(a, 'POST', `/socialaccounts/${id}/disconnect/`, {}, carol)
    t.equal(res.statusCode, 404, `id ${id}`)
  }
  t.equal((await dra(a, 'POST', `/socialaccounts/${carolAccount.id}/disconnect/`, {})).statusCode, 401, 'anonymous')
  const last = await dra(a, 'POST', `/socialaccounts/${aliceAccount.id}/disconnect/`, {}, alice)
  t.same([last.statusCode, errors(last)], [400, nonField('Your account has no password set up.')], 'alice has no password and no other account')
  const ok = await dra(a, 'POST', `/socialaccounts/${carolAccount.id}/disconnect/`, {}, carol)
  t.same([ok.statusCode, json(ok)], [200, {}])
  t.same(json(await dra(a, 'GET', '/socialaccounts/', undefined, carol)), [])
  t.match(a.events.find((e) => e.event === 'social.disconnected')?.payload, { provider: 'github', accountId: carolAccount.id })
  const twice = await dra(a, 'POST', `/socialaccounts/${carolAccount.id}/disconnect/`, {}, carol)
  t.equal(twice.statusCode, 404, 'gone')
})

t.test('deleting a user deletes their social accounts (memory store)', async (t) => {
  const a = await build(t)
  await registered(a, 'carol', 'carol@example.com')
  const carol = { authorization: `Token ${await tokenKey(a, 'carol')}` }
  await dra(a, 'POST', '/github/connect/', { access_token: gh.issueToken({ clientId: 'app', login: 'octocat' }) }, carol)
  const deleted = await a.app.inject({ method: 'DELETE', url: '/djoser/users/me/', headers: carol, payload: { current_password: PASSWORD } })
  t.equal(deleted.statusCode, 204)
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(await a.app.accounts.social?.accounts.findSocialAccount('github', '583231'), null)
  const back = await dra(a, 'POST', '/github/', { access_token: gh.issueToken({ clientId: 'app', login: 'octocat' }) })
  t.equal(back.statusCode, 200, 'the GitHub account signs up anew')
})

t.test('the social login routes share the login rate limit (per address)', async (t) => {
  const a = await build(t, {}, {}, { rateLimit: { perIp: { max: 2, timeWindow: 60 } } })
  t.equal((await dra(a, 'POST', '/keycloak/', {})).statusCode, 400)
  t.equal((await dra(a, 'POST', '/login/', { username: 'x', password: 'y' })).statusCode, 400)
  const limited = await dra(a, 'POST', '/keycloak/', { id_token: await idp.idToken() })
  t.equal(limited.statusCode, 429)
  t.match(errors(limited), { detail: String })
  await nothingStored(t, a)
})

t.test('without providers there are no social routes', async (t) => {
  const a = await buildDjRestAuthApp()
  t.teardown(async () => { await a.app.close() })
  t.equal(a.app.accounts.social, null)
  t.equal((await dra(a, 'POST', '/keycloak/', {})).statusCode, 404)
  t.equal((await dra(a, 'GET', '/socialaccounts/')).statusCode, 404)
})

t.test('emailAuthentication with a local email never verified: its password is wiped and its sessions end first (pre-hijacking)', async (t) => {
  const a = await build(t, { emailAuthentication: true }, { emailVerification: 'optional' })
  await registered(a, 'mallory', 'alice@example.com')
  const key = await tokenKey(a, 'mallory')
  const revoked: unknown[] = []
  a.app.accounts.events.on('token.revoked', (p) => { revoked.push(p) })
  const res = await dra(a, 'POST', '/keycloak/', { id_token: await idp.idToken() })
  t.equal(res.statusCode, 200, res.body)
  const [user] = await a.users.listUsers()
  t.equal(user.password, '', 'the password someone else may have set is gone')
  t.equal((await dra(a, 'POST', '/login/', { username: 'mallory', password: PASSWORD })).statusCode, 400, 'it no longer logs in')
  t.equal((await dra(a, 'GET', '/user/', undefined, { authorization: `Token ${key}` })).statusCode, 401, 'its old session ended')
  t.match(revoked, [{ userId: user.id, reason: 'password-reset' }])
  const me = await dra(a, 'GET', '/user/', undefined, { authorization: `Token ${(json(res) as { key: string }).key}` })
  t.equal(me.statusCode, 200, 'the new session works')
})

t.test('emailAuthentication: an account waiting for its activation link is opened by the provider-verified email', async (t) => {
  const a = await build(t, { emailAuthentication: true })
  const res = await dra(a, 'POST', '/registration/', { username: 'alice2', email: 'alice@example.com', password1: PASSWORD, password2: PASSWORD })
  t.equal(res.statusCode, 201)
  const signedIn = await dra(a, 'POST', '/keycloak/', { id_token: await idp.idToken() })
  t.equal(signedIn.statusCode, 200, signedIn.body)
  const [user] = await a.users.listUsers()
  t.match(user, { username: 'alice2', isActive: true, password: '' }, 'active, with the unproven password wiped')
})

t.test('the OpenAPI document has the social routes of both dialects, and is valid', async (t) => {
  for (const useJwt of [false, true]) {
    const a = await buildDjRestAuthApp({ useJwt }, {
      core: { social: { providers: providers(), allowedRedirectUris: [REDIRECT_URI] } },
      before: async (app) => { await app.register(swagger, swaggerOptions({ title: 'fastify-accounts', version: '0.0.0' })) }
    })
    t.teardown(async () => { await a.app.close() })
    const doc = a.app.swagger() as { paths: Record<string, Record<string, unknown>> }
    for (const path of ['/dj-rest-auth/keycloak/', '/dj-rest-auth/keycloak/connect/', '/dj-rest-auth/twitter/', '/dj-rest-auth/socialaccounts/', '/dj-rest-auth/socialaccounts/{id}/disconnect/', '/djoser/o/{provider}/']) {
      t.ok(doc.paths[path], `${path} (useJwt ${String(useJwt)})`)
    }
    t.ok(doc.paths['/djoser/o/{provider}/'].get !== undefined && doc.paths['/djoser/o/{provider}/'].post !== undefined)
    t.notOk(doc.paths['/dj-rest-auth/keycloak'], 'the slash-less twin is hidden')
    t.ok(await SwaggerParser.validate(structuredClone(doc) as never), 'valid')
  }
})

t.test('facebook: an access token is checked with debug_token against the app id; another app\'s token is refused', async (t) => {
  const a = await build(t)
  const foreign = await dra(a, 'POST', '/facebook/', { access_token: graph.issueToken({ appId: '2222', userId: '10001' }) })
  t.same([foreign.statusCode, errors(foreign)], [400, nonField('Incorrect value')])
  await nothingStored(t, a)
  const res = await dra(a, 'POST', '/facebook/', { access_token: graph.issueToken({ appId: '1111', userId: '10001' }) })
  t.equal(res.statusCode, 400, 'Facebook\'s email is not verified (VERIFIED_EMAIL off): mandatory verification keeps the new account waiting')
  t.same(errors(res), nonField('User account is disabled.'))
  t.match(await a.users.listUsers(), [{ username: 'frank', email: 'frank@example.com', isActive: false }])
  t.match(await a.app.accounts.social?.accounts.findSocialAccount('facebook', '10001'), { provider: 'facebook' })
})
