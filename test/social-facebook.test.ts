import { randomPKCECodeVerifier } from 'openid-client'
import t from 'tap'
import { appsecretProof, FacebookSocialProvider, type FacebookSettings } from '../lib/social/facebook.js'
import { startFacebook } from './helpers/facebook-server.js'
import { closedPortUrl, failsWith, silentServer } from './helpers/social.js'

// Facebook against a local Graph API that checks what Graph checks (test/helpers/facebook-server.ts).

const REDIRECT = 'http://127.0.0.1:9/facebook/callback'
const graph = await startFacebook({ '1111': { secret: 'fb-secret-1111' }, '2222': { secret: 'fb-secret-2222' } }, {
  10001: { id: '10001', name: 'Mark Zed', first_name: 'Mark', last_name: 'Zed', email: 'mark@example.com' },
  10002: { id: '10002', name: 'No Mail' }
})
t.teardown(graph.close)

const facebook = (extra: Partial<FacebookSettings> = {}): FacebookSocialProvider => new FacebookSocialProvider('facebook', {
  clientId: '1111', clientSecret: 'fb-secret-1111', graphApiUrl: graph.graphApiUrl, dialogUrl: `${graph.graphApiUrl}/dialog/oauth`, timeoutMs: 2000, ...extra
})
const provider = facebook()

t.test('appsecret_proof is the HMAC-SHA256 of the token keyed with the app secret (hex)', async (t) => {
  // printf token | openssl dgst -sha256 -hmac secret
  t.equal(appsecretProof('token', 'secret'), 'e941110e3d2bfe82621f0e3e1434730d7305d106c5f68c87165d0b27a4611a4a')
})

t.test('server-started flow: dialog URL with state and PKCE; the callback exchanges and checks the token', async (t) => {
  const started = await provider.authorizationUrl({ redirectUri: REDIRECT })
  const url = new URL(started.url)
  t.match(Object.fromEntries(url.searchParams), { client_id: '1111', redirect_uri: REDIRECT, response_type: 'code', state: started.state, code_challenge_method: 'S256', scope: 'email,public_profile' })
  t.equal(new URL((await facebook({ dialogUrl: undefined }).authorizationUrl({ redirectUri: REDIRECT })).url).origin + '/v19.0/dialog/oauth',
    'https://www.facebook.com/v19.0/dialog/oauth', 'the default dialog follows the Graph version')
  const back = new URL((await fetch(started.url, { redirect: 'manual' })).headers.get('location') ?? '')
  const params = { code: back.searchParams.get('code') ?? '', state: back.searchParams.get('state') ?? '' }
  const profile = await provider.completeAuthorization(params, started)
  t.same(profile, {
    provider: 'facebook',
    uid: '10001',
    email: 'mark@example.com',
    emailVerified: false,
    firstName: 'Mark',
    lastName: 'Zed',
    extra: { id: '10001', email: 'mark@example.com', name: 'Mark Zed', first_name: 'Mark', last_name: 'Zed' }
  }, "allauth's default: Facebook's email is not taken as verified")
  await failsWith(t, provider.completeAuthorization(params, started), 'ACCOUNTS_SOCIAL_CODE_EXCHANGE', 'the code again')
  await failsWith(t, provider.completeAuthorization({ code: 'x', state: 'y' }, started), 'ACCOUNTS_SOCIAL_STATE', 'wrong state')

  graph.authorizing.deny = true
  t.teardown(() => { graph.authorizing.deny = false })
  const next = await provider.authorizationUrl({ redirectUri: REDIRECT })
  const denied = new URL((await fetch(next.url, { redirect: 'manual' })).headers.get('location') ?? '')
  await failsWith(t, provider.completeAuthorization({ error: denied.searchParams.get('error') ?? '', state: denied.searchParams.get('state') ?? '' }, next), 'ACCOUNTS_SOCIAL_CANCELED')
})

t.test('dj-rest-auth code: app secret, code owner, expiry, redirect URI, PKCE', async (t) => {
  t.match(await provider.authenticate({ code: graph.issueCode({ appId: '1111', userId: '10001', redirectUri: REDIRECT }), redirectUri: REDIRECT }), { uid: '10001' })
  t.match(await facebook({ verifiedEmail: true }).authenticate({ code: graph.issueCode({ appId: '1111', userId: '10001', redirectUri: REDIRECT }), redirectUri: REDIRECT }),
    { emailVerified: true }, 'verifiedEmail: true trusts it')
  await failsWith(t, provider.authenticate({ code: graph.issueCode({ appId: '1111', userId: '10001', redirectUri: REDIRECT, issuedAt: Date.now() - 11 * 60_000 }), redirectUri: REDIRECT }), 'ACCOUNTS_SOCIAL_CODE_EXCHANGE', 'expired')
  await failsWith(t, provider.authenticate({ code: graph.issueCode({ appId: '2222', userId: '10001', redirectUri: REDIRECT }), redirectUri: REDIRECT }), 'ACCOUNTS_SOCIAL_CODE_EXCHANGE', 'a code of another app')
  await failsWith(t, provider.authenticate({ code: graph.issueCode({ appId: '1111', userId: '10001', redirectUri: REDIRECT }), redirectUri: 'http://127.0.0.1:9/other' }), 'ACCOUNTS_SOCIAL_CODE_EXCHANGE', 'another redirect_uri')
  await failsWith(t, provider.authenticate({ code: graph.issueCode({ appId: '1111', userId: '10001', redirectUri: REDIRECT, codeChallenge: 'abc' }), redirectUri: REDIRECT, codeVerifier: randomPKCECodeVerifier() }),
    'ACCOUNTS_SOCIAL_CODE_EXCHANGE', 'a wrong PKCE verifier')
  await failsWith(t, facebook({ clientSecret: 'wrong' }).authenticate({ code: graph.issueCode({ appId: '1111', userId: '10001', redirectUri: REDIRECT }), redirectUri: REDIRECT }), 'ACCOUNTS_SOCIAL_CODE_EXCHANGE', 'a wrong app secret')
})

t.test('access token: debug_token says it is this app\'s; /me with appsecret_proof', async (t) => {
  t.match(await provider.authenticate({ accessToken: graph.issueToken({ appId: '1111', userId: '10001' }) }), { uid: '10001', email: 'mark@example.com' })
  t.match(await provider.authenticate({ accessToken: graph.issueToken({ appId: '1111', userId: '10002' }) }), { uid: '10002', email: '', emailVerified: false, firstName: 'No', lastName: 'Mail' })
  await failsWith(t, provider.authenticate({ accessToken: graph.issueToken({ appId: '2222', userId: '10001' }) }), 'ACCOUNTS_SOCIAL_TOKEN', 'a token issued to another app')
  // debug_token refuses it before /me is asked (where appsecret_proof would refuse it again).
  const before = graph.requests.length
  await failsWith(t, provider.authenticate({ accessToken: graph.issueToken({ appId: '2222', userId: '10001' }) }), 'ACCOUNTS_SOCIAL_TOKEN', 'refused by debug_token')
  t.same(graph.requests.slice(before).map((r) => r.path), ['/v19.0/debug_token'], 'only debug_token was asked')
  await failsWith(t, provider.authenticate({ accessToken: graph.issueToken({ appId: '1111', userId: '10001', expiresInSeconds: -1 }) }), 'ACCOUNTS_SOCIAL_TOKEN', 'an expired token')
  await failsWith(t, provider.authenticate({ accessToken: 'EAAunknown' }), 'ACCOUNTS_SOCIAL_TOKEN', 'an unknown token')
  await failsWith(t, facebook({ clientSecret: 'wrong' }).authenticate({ accessToken: graph.issueToken({ appId: '1111', userId: '10001' }) }), 'ACCOUNTS_SOCIAL_PROVIDER', 'our app token refused: misconfigured')
})

t.test('the Graph server refuses a missing or wrong appsecret_proof (what the provider relies on)', async (t) => {
  t.teardown(() => { graph.settings.requireProof = true })
  const token = graph.issueToken({ appId: '1111', userId: '10001' })
  const me = async (query: string): Promise<{ status: number, body: { error?: { message: string } } }> => {
    const response = await fetch(`${graph.graphApiUrl}/me?${query}`, { headers: { authorization: `Bearer ${token}` } })
    return { status: response.status, body: await response.json() as { error?: { message: string } } }
  }
  t.match(await me(''), { status: 400, body: { error: { message: /appsecret_proof/ } } }, 'missing')
  t.match(await me(`appsecret_proof=${appsecretProof(token, 'fb-secret-2222')}`), { status: 400, body: { error: { message: /Invalid appsecret_proof/ } } }, 'made with another app\'s secret')
  t.match(await me(`appsecret_proof=${appsecretProof(token, 'fb-secret-1111')}`), { status: 200 }, 'right')
  graph.settings.requireProof = false
  t.match(await me(''), { status: 200 }, 'not required: missing is let through')
  t.match(await me(`appsecret_proof=${appsecretProof(token, 'fb-secret-2222')}`), { status: 400 }, 'but a wrong one never')
})

t.test('wrong input; Graph down or too slow', async (t) => {
  await failsWith(t, provider.authenticate({ idToken: 'x' }), 'ACCOUNTS_SOCIAL_UNSUPPORTED')
  await failsWith(t, provider.authenticate({}), 'ACCOUNTS_SOCIAL_INPUT')
  await failsWith(t, facebook({ graphApiUrl: await closedPortUrl() }).authenticate({ accessToken: 'EAAx' }), 'ACCOUNTS_SOCIAL_PROVIDER', 'refused')
  const silent = await silentServer(t)
  const started = Date.now()
  await failsWith(t, facebook({ graphApiUrl: silent.url, timeoutMs: 300 }).authenticate({ accessToken: 'EAAx' }), 'ACCOUNTS_SOCIAL_PROVIDER', 'timeout')
  t.ok(Date.now() - started < 2000, 'bounded')
})
