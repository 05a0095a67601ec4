import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import type { SocialOptions } from '../lib/social/options.js'
import { buildApp, json, type TestApp } from './helpers/app.js'
import { cookie, setCookies } from './helpers/dj-rest-auth.js'
import { startGitHub } from './helpers/github-server.js'
import { APP_SECRET, OTHER_REDIRECT_URI, REDIRECT_URI, startIdp } from './helpers/oidc-provider.js'
import { closedPortUrl } from './helpers/social.js'

// djoser's o/{provider}/ over HTTP (app.inject): the authorization URL with its state kept in a signed cookie,
// then the callback against a real OpenID Connect provider (oidc-provider) and a local GitHub.

const idp = await startIdp()
t.teardown(idp.close)
const gh = await startGitHub({ app: { secret: 'gh-secret-app', redirectUris: [REDIRECT_URI] } }, {
  octocat: { id: 583231, login: 'octocat', name: 'The Octocat', email: null, emails: [{ email: 'octocat@example.com', primary: true, verified: true }] }
})
t.teardown(gh.close)

const COOKIE = 'fastify-accounts-social-'
const social = (extra: SocialOptions = {}): SocialOptions => ({
  providers: {
    keycloak: { type: 'oidc', issuer: idp.issuer, clientId: 'app', clientSecret: APP_SECRET, timeout: 3 },
    google: { clientId: 'app', clientSecret: APP_SECRET, issuer: idp.issuer, timeout: 3 },
    github: { clientId: 'app', clientSecret: 'gh-secret-app', oauthUrl: gh.url, apiUrl: gh.apiUrl, timeout: 3 },
    twitter: { consumerKey: 'k', consumerSecret: 's' }
  },
  allowedRedirectUris: [REDIRECT_URI],
  ...extra
})

async function build (t: Test, extra: SocialOptions = {}, core: Record<string, unknown> = {}): Promise<TestApp> {
  const a = await buildApp({ social: social(extra), ...core })
  t.teardown(async () => { await a.app.close() })
  return a
}

interface Started { url: URL, cookie: string, res: LightMyRequestResponse }

/** GET o/{provider}/ with the allowed redirect_uri: the authorization URL and the state cookie to send back. */
async function start (a: TestApp, provider: string, redirectUri = REDIRECT_URI): Promise<Started> {
  const res = await a.app.inject({ url: `/auth/o/${provider}/?redirect_uri=${encodeURIComponent(redirectUri)}` })
  if (res.statusCode !== 200) throw new Error(`GET o/${provider}/: ${res.statusCode} ${res.body}`)
  const kept = cookie(res, COOKIE + provider)
  if (kept === undefined) throw new Error('no state cookie')
  return { url: new URL((json(res) as { authorization_url: string }).authorization_url), cookie: `${kept.name}=${kept.value}`, res }
}

async function callback (a: TestApp, provider: string, query: Record<string, string>, cookieHeader?: string, body?: Record<string, string> | string, contentType?: string): Promise<LightMyRequestResponse> {
  return await a.app.inject({
    method: 'POST',
    url: `/auth/o/${provider}/?${new URLSearchParams(query).toString()}`,
    headers: { ...(cookieHeader === undefined ? {} : { cookie: cookieHeader }), ...(contentType === undefined ? {} : { 'content-type': contentType }) },
    ...(body === undefined ? {} : { payload: body })
  })
}

const nonField = (message: string): { non_field_errors: string[] } => ({ non_field_errors: [message] })

t.test('GET o/{provider}/: the authorization URL (state, nonce, PKCE) and a signed HttpOnly SameSite=Lax cookie; POST signs in: 201', async (t) => {
  const a = await build(t)
  const started = await start(a, 'keycloak')
  t.same(Object.keys(json(started.res) as object), ['authorization_url'])
  t.equal(started.url.origin, idp.issuer)
  t.match(Object.fromEntries(started.url.searchParams), { client_id: 'app', redirect_uri: REDIRECT_URI, response_type: 'code', code_challenge_method: 'S256', state: /.{32,}/, nonce: /.{32,}/ })
  const kept = cookie(started.res, `${COOKIE}keycloak`)
  t.match(kept?.attributes, { httponly: true, samesite: 'Lax', path: '/', 'max-age': '600' })
  t.notOk(kept?.attributes.secure, 'not Secure over http')
  t.notMatch(decodeURIComponent(kept?.value ?? ''), started.url.searchParams.get('code_challenge') ?? '-', 'the challenge is not the verifier')

  const back = await idp.authorize(started.url.href)
  const res = await callback(a, 'keycloak', { code: back.searchParams.get('code') ?? '', state: back.searchParams.get('state') ?? '' }, started.cookie)
  t.equal(res.statusCode, 201, res.body)
  const body = json(res) as { access: string, refresh: string, user: string }
  t.same(Object.keys(body).sort(), ['access', 'refresh', 'user'])
  t.equal(body.user, 'alice', 'str(user): the username')
  const me = await a.app.inject({ url: '/auth/users/me/', headers: { authorization: `Bearer ${body.access}` } })
  t.match(json(me), { username: 'alice', email: 'alice@example.com' })
  const refreshed = await a.app.inject({ method: 'POST', url: '/auth/jwt/refresh/', payload: { refresh: body.refresh } })
  t.equal(refreshed.statusCode, 200, 'a working refresh token')
  const cleared = cookie(res, `${COOKIE}keycloak`)
  t.equal(cleared?.value, '', 'the flow\'s cookie is cleared')
  t.equal(cleared?.attributes['max-age'], '0')

  // The same code and cookie again: the provider refuses a used code.
  const reused = await callback(a, 'keycloak', { code: back.searchParams.get('code') ?? '', state: back.searchParams.get('state') ?? '' }, started.cookie)
  t.same([reused.statusCode, json(reused)], [400, nonField('Failed to exchange code for access token')])
})

t.test('code and state in a form body or a JSON body work as in the query string', async (t) => {
  const a = await build(t)
  for (const [body, type] of [['form', 'application/x-www-form-urlencoded'], ['json', 'application/json']] as const) {
    const started = await start(a, 'keycloak')
    const back = await idp.authorize(started.url.href)
    const fields = { code: back.searchParams.get('code') ?? '', state: back.searchParams.get('state') ?? '' }
    const payload = body === 'form' ? new URLSearchParams(fields).toString() : JSON.stringify(fields)
    const res = await callback(a, 'keycloak', {}, started.cookie, payload, type)
    t.equal(res.statusCode, 201, `${body}: ${res.body}`)
  }
  t.equal((await a.users.listUsers()).length, 1, 'one user, signed in twice')
})

t.test('redirect_uri outside allowedRedirectUris: 400 with the bare JSON string djoser sends', async (t) => {
  const a = await build(t)
  for (const query of [`?redirect_uri=${encodeURIComponent(OTHER_REDIRECT_URI)}`, '', '?redirect_uri=', `?redirect_uri=${encodeURIComponent(`${REDIRECT_URI}/x`)}`]) {
    const res = await a.app.inject({ url: `/auth/o/keycloak/${query}` })
    t.equal(res.statusCode, 400, query)
    t.equal(res.body, '"redirect_uri must be in SOCIAL_AUTH_ALLOWED_REDIRECT_URIS"')
    t.match(res.headers['content-type'], /^application\/json/)
    t.equal(setCookies(res).length, 0, 'no cookie')
  }
})

t.test('provider names are python-social-auth\'s; an unknown one (X too) is 404 {detail}', async (t) => {
  const a = await build(t)
  t.equal((await start(a, 'google-oauth2')).url.origin, idp.issuer, 'google is google-oauth2')
  t.equal((await start(a, 'github')).url.origin, gh.url, 'github')
  for (const name of ['google', 'twitter', 'nope']) {
    const get = await a.app.inject({ url: `/auth/o/${name}/?redirect_uri=${encodeURIComponent(REDIRECT_URI)}` })
    t.same([get.statusCode, json(get)], [404, { detail: `Provider '${name}' not supported` }], `GET ${name}`)
    const post = await callback(a, name, { code: 'c', state: 's' })
    t.same([post.statusCode, json(post)], [404, { detail: `Provider '${name}' not supported` }], `POST ${name}`)
  }
})

t.test('state missing, not kept (no cookie, a forged one, another provider\'s), different; cancelled: djoser\'s words', async (t) => {
  const a = await build(t)
  const started = await start(a, 'keycloak')
  const back = await idp.authorize(started.url.href)
  const code = back.searchParams.get('code') ?? ''
  const state = back.searchParams.get('state') ?? ''
  const cases: Array<[string, LightMyRequestResponse, string]> = [
    ['no state', await callback(a, 'keycloak', { code }, started.cookie), 'State could not be found in request data.'],
    ['no cookie', await callback(a, 'keycloak', { code, state }), 'State could not be found in server-side session data.'],
    ['a forged cookie', await callback(a, 'keycloak', { code, state }, started.cookie.replace(/.(;|$)/, 'x')), 'State could not be found in server-side session data.'],
    ['unsigned', await callback(a, 'keycloak', { code, state }, `${COOKIE}keycloak=${Buffer.from(JSON.stringify({ p: 'keycloak', s: state, v: 'v', r: REDIRECT_URI, e: 9e9 })).toString('base64url')}`),
      'State could not be found in server-side session data.'],
    ['another provider\'s cookie', await callback(a, 'keycloak', { code, state }, started.cookie.replace(`${COOKIE}keycloak`, `${COOKIE}github`)), 'State could not be found in server-side session data.'],
    ['another state', await callback(a, 'keycloak', { code, state: `${state}x` }, started.cookie), 'Invalid state has been provided.']
  ]
  for (const [what, res, message] of cases) t.same([res.statusCode, json(res)], [400, nonField(message)], what)
  const github = await start(a, 'github')
  const moved = await callback(a, 'keycloak', { code, state }, github.cookie.replace(`${COOKIE}github`, `${COOKIE}keycloak`))
  t.same([moved.statusCode, json(moved)], [400, nonField('State could not be found in server-side session data.')], 'github\'s flow under keycloak\'s name')

  const denied = await idp.authorize((await start(a, 'keycloak')).url.href, { deny: true })
  const fresh = await start(a, 'keycloak')
  const canceled = await callback(a, 'keycloak', { error: 'access_denied' }, fresh.cookie)
  t.same([canceled.statusCode, json(canceled)], [400, nonField('Authentication process canceled')], `cancelled (${denied.searchParams.get('error') ?? ''})`)
  t.equal((await a.users.listUsers()).length, 0, 'nothing stored')

  const ok = await callback(a, 'keycloak', { code, state }, started.cookie)
  t.equal(ok.statusCode, 201, 'the right cookie and state still work')
})

t.test('GitHub through o/github/: 201 with the user; loginField email sends the email as `user`', async (t) => {
  const a = await build(t, {}, { loginField: 'email' })
  const started = await start(a, 'github')
  const back = new URL((await fetch(started.url, { redirect: 'manual' })).headers.get('location') ?? '')
  const res = await callback(a, 'github', { code: back.searchParams.get('code') ?? '', state: back.searchParams.get('state') ?? '' }, started.cookie)
  t.equal(res.statusCode, 201, res.body)
  t.equal((json(res) as { user: string }).user, 'octocat@example.com')
})

t.test('a provider that cannot be reached: 400 on GET and POST, never 5xx', async (t) => {
  const a = await build(t, { providers: { keycloak: { type: 'oidc', issuer: await closedPortUrl(), clientId: 'app', clientSecret: 'x', timeout: 1 } } })
  const get = await a.app.inject({ url: `/auth/o/keycloak/?redirect_uri=${encodeURIComponent(REDIRECT_URI)}` })
  t.equal(get.statusCode, 400)
  t.match(json(get), { non_field_errors: [String] })
  const post = await callback(a, 'keycloak', { code: 'c', state: 's' })
  t.equal(post.statusCode, 400)
})

t.test('events: login.succeeded with method social; social.connected on the sign-up', async (t) => {
  const a = await build(t)
  const seen: Array<[string, Record<string, unknown>]> = []
  a.app.accounts.events.on('login.succeeded', (p) => { seen.push(['login.succeeded', p]) })
  a.app.accounts.events.on('social.connected', (p) => { seen.push(['social.connected', p]) })
  const started = await start(a, 'google-oauth2')
  const back = await idp.authorize(started.url.href)
  const res = await callback(a, 'google-oauth2', { code: back.searchParams.get('code') ?? '', state: back.searchParams.get('state') ?? '' }, started.cookie)
  t.equal(res.statusCode, 201, res.body)
  t.match(seen, [['social.connected', { provider: 'google' }], ['login.succeeded', { method: 'social', provider: 'google', request: { ip: '127.0.0.1' } }]])
})

t.test('POST o/{provider}/ shares the login rate limit', async (t) => {
  const a = await build(t, {}, { rateLimit: { perIp: { max: 1, timeWindow: 60 } } })
  t.equal((await callback(a, 'keycloak', { code: 'c' })).statusCode, 400)
  t.equal((await callback(a, 'keycloak', { code: 'c' })).statusCode, 429)
})
