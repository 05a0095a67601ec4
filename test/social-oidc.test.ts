import { decodeJwt, exportPKCS8, generateKeyPair, jwtVerify, SignJWT } from 'jose'
import t from 'tap'
import { calculatePKCECodeChallenge, randomPKCECodeVerifier } from 'openid-client'
import { appleClientSecret, appleProvider } from '../lib/social/apple.js'
import { googleProvider } from '../lib/social/google.js'
import { OidcSocialProvider } from '../lib/social/oidc.js'
import { APP_SECRET, OTHER_SECRET, REDIRECT_URI, SHORT_SECRET, startIdp } from './helpers/oidc-provider.js'
import { closedPortUrl, failsWith, silentServer } from './helpers/social.js'

// OpenID Connect (type 'oidc', google, apple's id_token path) against a real provider on 127.0.0.1.

const idp = await startIdp()
t.teardown(idp.close)

const oidc = (clientId = 'app', clientSecret = APP_SECRET, extra: Partial<ConstructorParameters<typeof OidcSocialProvider>[0]> = {}): OidcSocialProvider =>
  new OidcSocialProvider({ name: 'keycloak', issuer: idp.issuer, clientId, clientSecret, timeoutMs: 3000, clockToleranceSeconds: 0, ...extra })
const provider = oidc()
const now = (): number => Math.floor(Date.now() / 1000)
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

t.test('server-started flow (djoser): authorization URL with state, nonce and PKCE; the callback signs in', async (t) => {
  const started = await provider.authorizationUrl({ redirectUri: REDIRECT_URI })
  const url = new URL(started.url)
  t.equal(url.origin, idp.issuer)
  t.equal(url.searchParams.get('state'), started.state)
  t.equal(url.searchParams.get('nonce'), started.nonce)
  t.equal(url.searchParams.get('code_challenge'), await calculatePKCECodeChallenge(started.codeVerifier))
  t.equal(url.searchParams.get('code_challenge_method'), 'S256')
  t.equal(url.searchParams.get('redirect_uri'), REDIRECT_URI)
  t.notOk(url.searchParams.has('code_verifier'), 'the verifier stays here')
  t.ok(started.state.length >= 32 && started.codeVerifier.length >= 43 && (started.nonce ?? '').length >= 32, 'fresh random values')

  const back = await idp.authorize(started.url)
  t.equal(back.origin + back.pathname, REDIRECT_URI)
  const profile = await provider.completeAuthorization({ code: back.searchParams.get('code') ?? '', state: back.searchParams.get('state') ?? '' }, started)
  t.match(profile, {
    provider: 'keycloak', uid: 'alice-sub', email: 'alice@example.com', emailVerified: true, username: 'alice', firstName: 'Alice', lastName: 'Liddell'
  })
  t.equal(profile.extra.sub, 'alice-sub')
  for (const key of Object.keys(profile.extra)) t.notMatch(key, /token|nonce|code/, `extra data holds no ${key}`)

  // The same code again: the provider refuses a used code.
  await failsWith(t, provider.completeAuthorization({ code: back.searchParams.get('code') ?? '', state: started.state }, started), 'ACCOUNTS_SOCIAL_CODE_EXCHANGE', 'a reused code')
})

t.test('the callback with the iss the provider sent; a wrong iss is refused', async (t) => {
  const started = await provider.authorizationUrl({ redirectUri: REDIRECT_URI })
  const back = await idp.authorize(started.url, { accountId: 'bob-sub' })
  t.equal(back.searchParams.get('iss'), idp.issuer, 'the provider sends iss (RFC 9207)')
  const params = { code: back.searchParams.get('code') ?? '', state: started.state }
  await failsWith(t, provider.completeAuthorization({ ...params, iss: 'http://evil.example' }, started), 'ACCOUNTS_SOCIAL_PROVIDER', 'a mixed-up issuer')
  const profile = await provider.completeAuthorization({ ...params, iss: idp.issuer }, started)
  t.match(profile, { uid: 'bob-sub', email: 'bob@example.com', emailVerified: false, firstName: 'Bob', lastName: 'Builder' }, 'unverified email; the name split')
})

t.test('callback failures: state missing, not kept, wrong; cancelled; bad code; wrong PKCE verifier; nonce mismatch', async (t) => {
  const started = await provider.authorizationUrl({ redirectUri: REDIRECT_URI })
  const back = await idp.authorize(started.url)
  const code = back.searchParams.get('code') ?? ''
  const missing = await failsWith(t, provider.completeAuthorization({ code }, started), 'ACCOUNTS_SOCIAL_STATE')
  t.equal(missing.message, 'State could not be found in request data.')
  const notKept = await failsWith(t, provider.completeAuthorization({ code, state: started.state }, null), 'ACCOUNTS_SOCIAL_STATE')
  t.equal(notKept.message, 'State could not be found in server-side session data.')
  const wrong = await failsWith(t, provider.completeAuthorization({ code, state: `${started.state}x` }, started), 'ACCOUNTS_SOCIAL_STATE')
  t.equal(wrong.message, 'Invalid state has been provided.')
  await failsWith(t, provider.completeAuthorization({ code: 'not-a-code', state: started.state }, started), 'ACCOUNTS_SOCIAL_CODE_EXCHANGE', 'a bad code')
  await failsWith(t, provider.completeAuthorization({ code, state: started.state }, { ...started, codeVerifier: randomPKCECodeVerifier() }),
    'ACCOUNTS_SOCIAL_CODE_EXCHANGE', 'another PKCE verifier')

  const second = await provider.authorizationUrl({ redirectUri: REDIRECT_URI })
  const again = await idp.authorize(second.url)
  await failsWith(t, provider.completeAuthorization({ code: again.searchParams.get('code') ?? '', state: second.state }, { ...second, nonce: 'another-nonce' }),
    'ACCOUNTS_SOCIAL_TOKEN', 'a nonce mismatch')

  const third = await provider.authorizationUrl({ redirectUri: REDIRECT_URI })
  const denied = await idp.authorize(third.url, { deny: true })
  t.equal(denied.searchParams.get('error'), 'access_denied', 'the provider refused')
  const canceled = await failsWith(t, provider.completeAuthorization({ error: 'access_denied', state: denied.searchParams.get('state') ?? '' }, third), 'ACCOUNTS_SOCIAL_CANCELED')
  t.equal(canceled.message, 'Authentication process canceled')
  await failsWith(t, provider.completeAuthorization({ error: 'access_denied' }, third), 'ACCOUNTS_SOCIAL_CANCELED', 'cancelled, no state')
})

t.test('dj-rest-auth code: exchanged with the frontend\'s redirect_uri and PKCE verifier', async (t) => {
  const verifier = randomPKCECodeVerifier()
  const code = await idp.code({ codeChallenge: await calculatePKCECodeChallenge(verifier) })
  const profile = await provider.authenticate({ code, redirectUri: REDIRECT_URI, codeVerifier: verifier })
  t.match(profile, { uid: 'alice-sub', emailVerified: true })

  await failsWith(t, provider.authenticate({ code: await idp.code({}) }), 'ACCOUNTS_SOCIAL_INPUT', 'no redirect_uri and no callbackUrl')
  const withCallback = oidc('app', APP_SECRET, { callbackUrl: REDIRECT_URI })
  t.match(await withCallback.authenticate({ code: await idp.code({}) }), { uid: 'alice-sub' }, 'callbackUrl stands in for it')
  t.match(await provider.authenticate({ code: await idp.code({ nonce: 'n-123' }), redirectUri: REDIRECT_URI, nonce: 'n-123' }), { uid: 'alice-sub' }, 'with the frontend\'s nonce')
  await failsWith(t, provider.authenticate({ code: await idp.code({ nonce: 'n-123' }), redirectUri: REDIRECT_URI, nonce: 'n-456' }), 'ACCOUNTS_SOCIAL_TOKEN', 'another nonce')
  await failsWith(t, provider.authenticate({ code: 'forged', redirectUri: REDIRECT_URI }), 'ACCOUNTS_SOCIAL_CODE_EXCHANGE', 'a bad code')
  await failsWith(t, provider.authenticate({ code: await idp.code({ clientId: 'other-app' }), redirectUri: REDIRECT_URI }), 'ACCOUNTS_SOCIAL_CODE_EXCHANGE', 'a code issued to another client')
  await failsWith(t, oidc('app', 'wrong-secret').authenticate({ code: await idp.code({}), redirectUri: REDIRECT_URI }), 'ACCOUNTS_SOCIAL_CODE_EXCHANGE', 'a wrong client secret')
  await failsWith(t, provider.authenticate({}), 'ACCOUNTS_SOCIAL_INPUT', 'nothing sent')
})

t.test('id_token on its own: signature, issuer, audience, expiry, nonce', async (t) => {
  const profile = await provider.authenticate({ idToken: await idp.idToken() })
  t.match(profile, { provider: 'keycloak', uid: 'alice-sub', email: 'alice@example.com', emailVerified: true, username: 'alice' })
  t.match(await provider.authenticate({ idToken: await idp.idToken({ nonce: 'abc' }), nonce: 'abc' }), { uid: 'alice-sub' }, 'a matching nonce')
  await failsWith(t, provider.authenticate({ idToken: await idp.idToken({ nonce: 'abc' }), nonce: 'xyz' }), 'ACCOUNTS_SOCIAL_TOKEN', 'a nonce mismatch')
  await failsWith(t, provider.authenticate({ idToken: await idp.idToken({ clientId: 'other-app' }) }), 'ACCOUNTS_SOCIAL_TOKEN', 'a foreign audience')
  const base = { sub: 'alice-sub', aud: 'app', iat: now(), exp: now() + 60 }
  t.match(await provider.authenticate({ idToken: await idp.sign({ ...base, iss: idp.issuer }) }), { uid: 'alice-sub' }, 'minted with the provider key: accepted')
  await failsWith(t, provider.authenticate({ idToken: await idp.sign({ ...base, iss: 'https://evil.example' }) }), 'ACCOUNTS_SOCIAL_TOKEN', 'a wrong issuer')
  await failsWith(t, provider.authenticate({ idToken: await idp.sign({ ...base, iss: idp.issuer, iat: now() - 120, exp: now() - 60 }) }), 'ACCOUNTS_SOCIAL_TOKEN', 'expired')
  await failsWith(t, provider.authenticate({ idToken: await idp.sign({ ...base, iss: idp.issuer, aud: ['app', 'other-app'] }) }), 'ACCOUNTS_SOCIAL_TOKEN', 'several audiences, no azp')
  const { privateKey } = await generateKeyPair('RS256')
  const forged = await new SignJWT({ ...base, iss: idp.issuer }).setProtectedHeader({ alg: 'RS256', kid: 'test-key-1' }).sign(privateKey)
  await failsWith(t, provider.authenticate({ idToken: forged }), 'ACCOUNTS_SOCIAL_TOKEN', 'signed by another key')
  await failsWith(t, provider.authenticate({ idToken: 'not.a.jwt' }), 'ACCOUNTS_SOCIAL_TOKEN', 'garbage')
  const [header, payload] = (await idp.idToken()).split('.')
  await failsWith(t, provider.authenticate({ idToken: `${header}.${payload}.` }), 'ACCOUNTS_SOCIAL_TOKEN', 'signature stripped')
})

t.test('access_token on its own: introspected (issued to this client), then userinfo', async (t) => {
  t.match(await provider.authenticate({ accessToken: await idp.accessToken() }), { uid: 'alice-sub', email: 'alice@example.com' })
  await failsWith(t, provider.authenticate({ accessToken: await idp.accessToken({ clientId: 'other-app' }) }), 'ACCOUNTS_SOCIAL_TOKEN', 'issued to another client')
  await failsWith(t, provider.authenticate({ accessToken: 'unknown-token' }), 'ACCOUNTS_SOCIAL_TOKEN', 'unknown to the provider')
})

t.test('expired code and expired id_token from the provider itself', async (t) => {
  const short = oidc('short-app', SHORT_SECRET)
  const code = await idp.code({ clientId: 'short-app' })
  const idToken = await idp.idToken({ clientId: 'short-app' })
  const accessToken = await idp.accessToken({ clientId: 'short-app' })
  await sleep(2100)
  await failsWith(t, short.authenticate({ code, redirectUri: REDIRECT_URI }), 'ACCOUNTS_SOCIAL_CODE_EXCHANGE', 'an expired code')
  await failsWith(t, short.authenticate({ idToken }), 'ACCOUNTS_SOCIAL_TOKEN', 'an expired id_token')
  await failsWith(t, short.authenticate({ accessToken }), 'ACCOUNTS_SOCIAL_TOKEN', 'an expired access token')
})

t.test('a provider that is down or too slow is a 4xx SocialProviderError, and a later call retries discovery', async (t) => {
  const down = new OidcSocialProvider({ name: 'down', issuer: await closedPortUrl(), clientId: 'app', clientSecret: 'x', timeoutMs: 1000 })
  await failsWith(t, down.authenticate({ idToken: await idp.idToken() }), 'ACCOUNTS_SOCIAL_PROVIDER', 'connection refused (id_token)')
  await failsWith(t, down.authenticate({ code: 'c', redirectUri: REDIRECT_URI }), 'ACCOUNTS_SOCIAL_PROVIDER', 'connection refused (code)')
  await failsWith(t, down.authorizationUrl({ redirectUri: REDIRECT_URI }), 'ACCOUNTS_SOCIAL_PROVIDER', 'connection refused (authorization URL)')

  const silent = await silentServer(t)
  const slow = new OidcSocialProvider({ name: 'slow', issuer: silent.url, clientId: 'app', clientSecret: 'x', timeoutMs: 300 })
  const started = Date.now()
  await failsWith(t, slow.authenticate({ idToken: 'a.b.c' }), 'ACCOUNTS_SOCIAL_PROVIDER', 'no answer (timeout)')
  t.ok(Date.now() - started < 2000, `gave up in ${Date.now() - started} ms`)
})

t.test('google preset over the same provider; apple: id_token path and its ES256 client secret', async (t) => {
  const google = googleProvider('google', { clientId: 'app', clientSecret: APP_SECRET, issuer: idp.issuer, timeoutMs: 3000 })
  t.match(await google.authenticate({ idToken: await idp.idToken() }), { provider: 'google', uid: 'alice-sub' })
  t.match(await google.authenticate({ code: await idp.code({}), redirectUri: REDIRECT_URI }), { provider: 'google', uid: 'alice-sub' })
  const checked = googleProvider('google', { clientId: 'app', clientSecret: APP_SECRET, issuer: idp.issuer, tokenInfoUrl: `${idp.issuer}/tokeninfo`, timeoutMs: 3000 })
  t.match(await checked.authenticate({ accessToken: await idp.accessToken() }), { uid: 'alice-sub' }, 'an access token tokeninfo says is ours')
  await failsWith(t, checked.authenticate({ accessToken: await idp.accessToken({ clientId: 'other-app' }) }), 'ACCOUNTS_SOCIAL_TOKEN', 'another app\'s, by tokeninfo')
  await failsWith(t, checked.authenticate({ accessToken: 'unknown' }), 'ACCOUNTS_SOCIAL_TOKEN', 'unknown to tokeninfo')

  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
  const pem = await exportPKCS8(privateKey)
  const apple = appleProvider('apple', { clientId: 'other-app', teamId: 'TEAM123', keyId: 'KEY123', privateKey: pem, issuer: idp.issuer, timeoutMs: 3000 })
  t.match(await apple.authenticate({ idToken: await idp.idToken({ clientId: 'other-app' }) }), { provider: 'apple', uid: 'alice-sub' }, 'an apple-style id_token')
  await failsWith(t, apple.authenticate({ idToken: await idp.idToken({ clientId: 'app' }) }), 'ACCOUNTS_SOCIAL_TOKEN', 'for another Services ID')
  const url = new URL((await apple.authorizationUrl({ redirectUri: REDIRECT_URI })).url)
  t.equal(url.searchParams.get('response_mode'), 'form_post', 'Apple posts back when name or email is asked for')
  t.equal(url.searchParams.get('scope'), 'openid email name')
  // The local provider takes static secrets only, so it refuses Apple's JWT secret: what went out is checked here.
  await failsWith(t, apple.authenticate({ code: await idp.code({ clientId: 'other-app' }), redirectUri: REDIRECT_URI }), 'ACCOUNTS_SOCIAL_CODE_EXCHANGE')
  const sent = idp.lastTokenRequest()
  t.equal(sent?.client_id, 'other-app')
  t.not(sent?.client_secret, OTHER_SECRET)
  const secret = await jwtVerify(String(sent?.client_secret), publicKey, { algorithms: ['ES256'], issuer: 'TEAM123', subject: 'other-app', audience: idp.issuer })
  t.equal(secret.protectedHeader.kid, 'KEY123', 'the client secret is an ES256 JWT of the team, for the Services ID, kid = keyId')
  t.equal((secret.payload.exp ?? 0) - (secret.payload.iat ?? 0), 300, 'short-lived')
  const again = await appleClientSecret({ clientId: 'other-app', teamId: 'TEAM123', keyId: 'KEY123', privateKey: pem })
  t.match(decodeJwt(again), { iss: 'TEAM123', sub: 'other-app', aud: 'https://appleid.apple.com' }, 'audience defaults to Apple')
})
