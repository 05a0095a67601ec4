import type { LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { buildApp, json } from './helpers/app.js'
import { buildDjRestAuthApp, cookie, dra } from './helpers/dj-rest-auth.js'
import { startGitHub } from './helpers/github-server.js'
import { codeAt, fixClock, secretOf } from './helpers/mfa.js'

/*
 * Regression: social login bypassed two-factor sign-in. A provider proves who the person is, not their
 * second factor: a user with MFA on who signs in with GitHub gets the dialect's first step and no token
 * (dj-rest-auth's {ephemeral_token, mfa_required}, trench's {ephemeral_token, method}); the code completes it.
 */

const REDIRECT = 'http://127.0.0.1/callback'
const gh = await startGitHub({ app: { secret: 'gh-secret-app', redirectUris: [REDIRECT] } }, {
  octocat: { id: 583231, login: 'octocat', name: 'The Octocat', email: null, emails: [{ email: 'octocat@example.com', primary: true, verified: true }] }
})
t.teardown(gh.close)

t.test('dj-rest-auth: a social login of a user with MFA on answers the first step, not a token', async (t) => {
  const a = await buildDjRestAuthApp({ useJwt: true, mfa: true, emailVerification: 'none' }, {
    core: { mfa: true, social: { providers: { github: { clientId: 'app', clientSecret: 'gh-secret-app', oauthUrl: gh.url, apiUrl: gh.apiUrl, timeout: 3 } } } }
  })
  t.teardown(() => a.app.close())
  const clock = fixClock(a.app)
  const first = await dra(a, 'POST', '/github/', { access_token: gh.issueToken({ clientId: 'app', login: 'octocat' }) })
  t.equal(first.statusCode, 200, first.body)
  const { access } = json(first) as { access: string }
  t.ok(access.length > 20, 'without MFA: the login response')

  const auth = { authorization: `Bearer ${access}` }
  const init = json(await dra(a, 'GET', '/mfa/totp/activate/', undefined, auth)) as { secret: string, activation_token: string }
  const activated = await dra(a, 'POST', '/mfa/totp/activate/', { activation_token: init.activation_token, code: codeAt(init.secret, clock.now) }, auth)
  t.equal(activated.statusCode, 200, activated.body)

  clock.now += 60_000
  const again = await dra(a, 'POST', '/github/', { access_token: gh.issueToken({ clientId: 'app', login: 'octocat' }) })
  t.equal(again.statusCode, 200, again.body)
  const step = json(again) as Record<string, unknown>
  t.same(Object.keys(step).sort(), ['ephemeral_token', 'mfa_required'], 'the first step only: no access or refresh token')
  t.equal(step.mfa_required, true)
  t.equal(again.headers['set-cookie'], undefined, 'no token cookie either')

  const wrong = await dra(a, 'POST', '/mfa/verify/', { ephemeral_token: step.ephemeral_token, code: '000000' })
  t.equal(wrong.statusCode, 400)
  const verified = await dra(a, 'POST', '/mfa/verify/', { ephemeral_token: step.ephemeral_token, code: codeAt(init.secret, clock.now) })
  t.equal(verified.statusCode, 200, verified.body)
  t.match(json(verified), { access: String, user: { username: String } })
})

t.test('djoser: o/{provider}/ for a user with MFA on answers trench\'s first step, and login/code/ completes it', async (t) => {
  const a = await buildApp({ mfa: true, sendActivationEmail: false, social: {
    providers: { github: { clientId: 'app', clientSecret: 'gh-secret-app', oauthUrl: gh.url, apiUrl: gh.apiUrl, timeout: 3 } },
    allowedRedirectUris: [REDIRECT]
  } })
  t.teardown(() => a.app.close())
  const clock = fixClock(a.app)
  async function viaGitHub (): Promise<LightMyRequestResponse> {
    const started = await a.app.inject({ url: `/auth/o/github/?redirect_uri=${encodeURIComponent(REDIRECT)}` })
    const kept = cookie(started, 'fastify-accounts-social-github')
    const url = new URL((json(started) as { authorization_url: string }).authorization_url)
    const back = new URL((await fetch(url, { redirect: 'manual' })).headers.get('location') ?? '')
    return await a.app.inject({
      method: 'POST',
      url: `/auth/o/github/?${new URLSearchParams({ code: back.searchParams.get('code') ?? '', state: back.searchParams.get('state') ?? '' }).toString()}`,
      headers: { cookie: `${kept?.name ?? ''}=${kept?.value ?? ''}` }
    })
  }
  const first = await viaGitHub()
  t.equal(first.statusCode, 201, first.body)
  const { access } = json(first) as { access: string }
  const auth = { authorization: `Bearer ${access}` }
  const uri = (json(await a.app.inject({ method: 'POST', url: '/auth/app/activate/', headers: auth, payload: {} })) as { details: string }).details
  const secret = secretOf(uri)
  const confirmed = await a.app.inject({ method: 'POST', url: '/auth/app/activate/confirm/', headers: auth, payload: { code: codeAt(secret, clock.now) } })
  t.equal(confirmed.statusCode, 200, confirmed.body)

  clock.now += 60_000
  const again = await viaGitHub()
  t.equal(again.statusCode, 200, again.body)
  const step = json(again) as Record<string, unknown>
  t.same(Object.keys(step).sort(), ['ephemeral_token', 'method'], 'the first step only: no token')
  const done = await a.app.inject({ method: 'POST', url: '/auth/login/code/', payload: { ephemeral_token: step.ephemeral_token, code: codeAt(secret, clock.now) } })
  t.equal(done.statusCode, 200, done.body)
  t.match(json(done), { access: String, refresh: String })
})
