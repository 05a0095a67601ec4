import { calculatePKCECodeChallenge, randomPKCECodeVerifier } from 'openid-client'
import t from 'tap'
import { GitHubSocialProvider, type GitHubSettings } from '../lib/social/github.js'
import { startGitHub } from './helpers/github-server.js'
import { closedPortUrl, failsWith, silentServer } from './helpers/social.js'

// GitHub against a local server that checks what GitHub checks (test/helpers/github-server.ts).

const REDIRECT = 'http://127.0.0.1:9/github/callback'
const gh = await startGitHub({
  app: { secret: 'gh-secret-app', redirectUris: [REDIRECT] },
  other: { secret: 'gh-secret-other', redirectUris: [REDIRECT] }
}, {
  octocat: {
    id: 583231,
    login: 'octocat',
    name: 'The Octocat',
    email: null,
    emails: [{ email: 'second@example.com', primary: false, verified: true }, { email: 'octocat@example.com', primary: true, verified: true }, { email: 'old@example.com', primary: false, verified: false }]
  },
  nov: { id: 2, login: 'nov', name: null, email: 'public@example.com', emails: [{ email: 'nov@example.com', primary: true, verified: false }] }
})
t.teardown(gh.close)

const github = (extra: Partial<GitHubSettings> = {}): GitHubSocialProvider =>
  new GitHubSocialProvider('github', { clientId: 'app', clientSecret: 'gh-secret-app', oauthUrl: gh.url, apiUrl: gh.apiUrl, timeoutMs: 2000, ...extra })
const provider = github()

async function follow (url: string): Promise<URL> {
  const response = await fetch(url, { redirect: 'manual' })
  return new URL(response.headers.get('location') ?? '')
}

t.test('server-started flow: authorize URL with state and PKCE; the callback exchanges the code and reads the user', async (t) => {
  const started = await provider.authorizationUrl({ redirectUri: REDIRECT })
  const url = new URL(started.url)
  t.equal(url.origin + url.pathname, `${gh.url}/login/oauth/authorize`)
  t.match(Object.fromEntries(url.searchParams), { client_id: 'app', redirect_uri: REDIRECT, scope: 'read:user user:email', state: started.state, code_challenge_method: 'S256' })
  t.equal(started.nonce, undefined, 'no nonce outside OpenID Connect')
  const back = await follow(started.url)
  const params = { code: back.searchParams.get('code') ?? '', state: back.searchParams.get('state') ?? '' }
  const profile = await provider.completeAuthorization(params, started)
  t.same(profile, {
    provider: 'github',
    uid: '583231',
    email: 'octocat@example.com',
    emailVerified: true,
    username: 'octocat',
    firstName: 'The',
    lastName: 'Octocat',
    extra: { login: 'octocat', id: 583231, node_id: 'U_583231', type: 'User', site_admin: false, name: 'The Octocat', email: null }
  }, 'the verified primary email; the name split')
  await failsWith(t, provider.completeAuthorization(params, started), 'ACCOUNTS_SOCIAL_CODE_EXCHANGE', 'the code again')

  const next = await provider.authorizationUrl({ redirectUri: REDIRECT })
  const code = (await follow(next.url)).searchParams.get('code') ?? ''
  await failsWith(t, provider.completeAuthorization({ code }, next), 'ACCOUNTS_SOCIAL_STATE', 'no state')
  await failsWith(t, provider.completeAuthorization({ code, state: 'forged' }, next), 'ACCOUNTS_SOCIAL_STATE', 'wrong state')
  await failsWith(t, provider.completeAuthorization({ code, state: next.state }, undefined), 'ACCOUNTS_SOCIAL_STATE', 'nothing kept')
  await failsWith(t, provider.completeAuthorization({ code, state: next.state }, { ...next, codeVerifier: randomPKCECodeVerifier() }), 'ACCOUNTS_SOCIAL_CODE_EXCHANGE', 'another verifier')

  gh.authorizing.deny = true
  t.teardown(() => { gh.authorizing.deny = false })
  const denied = await follow((await provider.authorizationUrl({ redirectUri: REDIRECT })).url)
  await failsWith(t, provider.completeAuthorization({ error: denied.searchParams.get('error') ?? '', state: denied.searchParams.get('state') ?? '' }, next),
    'ACCOUNTS_SOCIAL_STATE', 'a cancellation with the state of another flow is a state mismatch first')
  const third = await provider.authorizationUrl({ redirectUri: REDIRECT })
  const cancelled = await follow(third.url)
  await failsWith(t, provider.completeAuthorization({ error: cancelled.searchParams.get('error') ?? '', state: cancelled.searchParams.get('state') ?? '' }, third), 'ACCOUNTS_SOCIAL_CANCELED')
})

t.test('dj-rest-auth code: client secret, code owner, expiry, redirect URI and PKCE are checked by the server', async (t) => {
  const verifier = randomPKCECodeVerifier()
  const challenge = await calculatePKCECodeChallenge(verifier)
  t.match(await provider.authenticate({ code: gh.issueCode({ clientId: 'app', login: 'octocat', redirectUri: REDIRECT, codeChallenge: challenge }), redirectUri: REDIRECT, codeVerifier: verifier }),
    { uid: '583231' })
  await failsWith(t, provider.authenticate({ code: gh.issueCode({ clientId: 'app', login: 'octocat', codeChallenge: challenge }), codeVerifier: randomPKCECodeVerifier() }), 'ACCOUNTS_SOCIAL_CODE_EXCHANGE', 'wrong verifier')
  await failsWith(t, provider.authenticate({ code: gh.issueCode({ clientId: 'app', login: 'octocat', issuedAt: Date.now() - 11 * 60_000 }) }), 'ACCOUNTS_SOCIAL_CODE_EXCHANGE', 'expired code')
  await failsWith(t, provider.authenticate({ code: gh.issueCode({ clientId: 'other', login: 'octocat' }) }), 'ACCOUNTS_SOCIAL_CODE_EXCHANGE', 'a code of another app')
  await failsWith(t, provider.authenticate({ code: gh.issueCode({ clientId: 'app', login: 'octocat', redirectUri: REDIRECT }), redirectUri: 'http://127.0.0.1:9/elsewhere' }), 'ACCOUNTS_SOCIAL_CODE_EXCHANGE', 'another redirect_uri')
  await failsWith(t, provider.authenticate({ code: 'nonsense' }), 'ACCOUNTS_SOCIAL_CODE_EXCHANGE', 'a bad code')
  await failsWith(t, github({ clientSecret: 'wrong' }).authenticate({ code: gh.issueCode({ clientId: 'app', login: 'octocat' }) }), 'ACCOUNTS_SOCIAL_CODE_EXCHANGE', 'a wrong client secret')
})

t.test('access token: checked with GitHub to be this app\'s, then the user', async (t) => {
  t.match(await provider.authenticate({ accessToken: gh.issueToken({ clientId: 'app', login: 'octocat' }) }), { uid: '583231', emailVerified: true })
  await failsWith(t, provider.authenticate({ accessToken: gh.issueToken({ clientId: 'other', login: 'octocat' }) }), 'ACCOUNTS_SOCIAL_TOKEN', 'a token of another app')
  await failsWith(t, provider.authenticate({ accessToken: 'gho_unknown' }), 'ACCOUNTS_SOCIAL_TOKEN', 'an unknown token')
  await failsWith(t, github({ clientSecret: 'wrong' }).authenticate({ accessToken: gh.issueToken({ clientId: 'app', login: 'octocat' }) }), 'ACCOUNTS_SOCIAL_PROVIDER', 'our own secret refused: misconfigured')
  await failsWith(t, github({ checkTokenApp: false }).authenticate({ accessToken: 'gho_unknown' }), 'ACCOUNTS_SOCIAL_TOKEN', 'without the app check, /user refuses an unknown token')
})

t.test('email: a verified primary, else the public one unverified; without the user:email scope, the public one', async (t) => {
  t.match(await provider.authenticate({ accessToken: gh.issueToken({ clientId: 'app', login: 'nov' }) }),
    { uid: '2', email: 'public@example.com', emailVerified: false, username: 'nov', firstName: undefined })
  t.match(await provider.authenticate({ accessToken: gh.issueToken({ clientId: 'app', login: 'octocat', scope: 'read:user' }) }),
    { uid: '583231', email: '', emailVerified: false }, 'octocat has no public email')
})

t.test('wrong input; GitHub down or too slow', async (t) => {
  await failsWith(t, provider.authenticate({ idToken: 'x' }), 'ACCOUNTS_SOCIAL_UNSUPPORTED')
  await failsWith(t, provider.authenticate({}), 'ACCOUNTS_SOCIAL_INPUT')
  const down = await closedPortUrl()
  await failsWith(t, github({ oauthUrl: down, apiUrl: down }).authenticate({ code: 'c' }), 'ACCOUNTS_SOCIAL_PROVIDER', 'refused (code)')
  await failsWith(t, github({ apiUrl: down }).authenticate({ accessToken: 'gho_x' }), 'ACCOUNTS_SOCIAL_PROVIDER', 'refused (token)')
  const silent = await silentServer(t)
  const started = Date.now()
  await failsWith(t, github({ apiUrl: silent.url, timeoutMs: 300 }).authenticate({ accessToken: 'gho_x' }), 'ACCOUNTS_SOCIAL_PROVIDER', 'timeout')
  t.ok(Date.now() - started < 2000, 'bounded')
  t.ok(gh.requests.every((r) => !r.path.includes('gho_')), 'tokens travel in headers and bodies, never in paths')
})
