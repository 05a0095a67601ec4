import { generateKeyPair, exportPKCS8 } from 'jose'
import t from 'tap'
import { OptionsError } from '../lib/errors.js'
import { checkRedirectUri } from '../lib/social/flow.js'
import { callProvider, MAX_PROVIDER_BODY, withoutSecrets } from '../lib/social/http.js'
import { resolveSocialOptions } from '../lib/social/options.js'
import { SocialProviders } from '../lib/social/providers.js'
import { usernameCandidates } from '../lib/social/username.js'
import { serve } from './helpers/http-server.js'
import { failsWith } from './helpers/social.js'

// The options, the registry by name (dj-rest-auth) and by python-social-auth name (djoser), and the call helper.

const { privateKey } = await generateKeyPair('ES256', { extractable: true })
const pem = await exportPKCS8(privateKey)

const options = {
  providers: {
    google: { clientId: 'g', clientSecret: 'gs' },
    apple: { clientId: 'com.example.web', teamId: 'T', keyId: 'K', privateKey: pem },
    github: { clientId: 'gh', clientSecret: 'ghs' },
    facebook: { clientId: '1', clientSecret: 'fs' },
    twitter: { consumerKey: 'ck', consumerSecret: 'cs' },
    keycloak: { type: 'oidc' as const, issuer: 'https://sso.example.com/realms/main', clientId: 'k', clientSecret: 'ks' },
    'github-enterprise': { type: 'github' as const, clientId: 'ghe', clientSecret: 'ghes', oauthUrl: 'https://ghe.example.com', apiUrl: 'https://ghe.example.com/api/v3' }
  },
  allowedRedirectUris: ['https://app.example.com/callback']
}

t.test('options: defaults, and what each provider type needs', async (t) => {
  const resolved = resolveSocialOptions(options)
  t.match(resolved, { emailAuthentication: false, emailAuthenticationAutoConnect: false, autoSignup: true, timeout: 10, allowedRedirectUris: ['https://app.example.com/callback'] })
  t.same(resolveSocialOptions({ providers: {} }).allowedRedirectUris, [])
  const refused = (value: unknown, pattern: RegExp, message: string): void => {
    let error: unknown = null
    try { resolveSocialOptions(value) } catch (e) { error = e }
    t.ok(error instanceof OptionsError, `${message}: an OptionsError`)
    t.match((error as Error | null)?.message, pattern, message)
  }
  refused({ providers: { github: { clientId: 'x' } } }, /social\.providers\.github\.clientSecret is required/, 'a missing secret')
  refused({ providers: { gitlab: { clientId: 'x', clientSecret: 'y' } } }, /social\.providers\.gitlab needs type/, 'an unknown name without type')
  refused({ providers: { sso: { type: 'oidc', clientId: 'x' } } }, /issuer is required/, 'oidc without issuer')
  refused({ providers: { google: { clientId: 'x', clientSecret: 'y', colour: 'red' } } }, /colour/, 'an unknown field')
  refused({ providers: {}, allowedRedirectUris: ['javascript:alert(1)'] }, /allowedRedirectUris/, 'a redirect URI that is not http(s)')
  refused({ providers: {}, emailAuthentication: 'yes' }, /emailAuthentication/, 'a flag that is not a boolean')
})

t.test('registry: by configured name, by python-social-auth name, 404 otherwise', async (t) => {
  const providers = new SocialProviders(resolveSocialOptions(options))
  t.same(providers.names(), ['google', 'apple', 'github', 'facebook', 'twitter', 'keycloak', 'github-enterprise'])
  t.same(providers.djoserNames().sort(), ['apple-id', 'facebook', 'github', 'github-enterprise', 'google-oauth2', 'keycloak'], 'X is not served by djoser')
  t.equal(providers.forDjoser('google-oauth2'), providers.get('google'))
  t.equal(providers.forDjoser('apple-id'), providers.get('apple'))
  t.equal(providers.get('keycloak').kind, 'oidc')
  t.equal(providers.get('github-enterprise').kind, 'github')
  t.equal(providers.get('twitter').supportsAuthorizationUrl, false)
  const missing = await failsWith(t, (async () => providers.get('gitlab'))(), 'ACCOUNTS_SOCIAL_UNKNOWN_PROVIDER')
  t.equal(missing.message, "Provider 'gitlab' not supported")
  t.equal(missing.statusCode, 404)
  await failsWith(t, (async () => providers.forDjoser('google'))(), 'ACCOUNTS_SOCIAL_UNKNOWN_PROVIDER', 'djoser knows google as google-oauth2 only')
  await failsWith(t, (async () => providers.forDjoser('twitter'))(), 'ACCOUNTS_SOCIAL_UNKNOWN_PROVIDER')
  const github = new URL((await providers.get('github-enterprise').authorizationUrl({ redirectUri: 'https://app.example.com/callback' })).url)
  t.equal(github.origin, 'https://ghe.example.com', 'every URL can be overridden')
})

t.test('the redirect URI allowlist (djoser\'s exact match)', async (t) => {
  t.equal(checkRedirectUri('https://app.example.com/callback', options.allowedRedirectUris), 'https://app.example.com/callback')
  for (const uri of ['https://app.example.com/callback/', 'https://app.example.com/callback?x=1', 'https://evil.example.com/callback', undefined]) {
    const error = await failsWith(t, (async () => checkRedirectUri(uri, options.allowedRedirectUris))(), 'ACCOUNTS_SOCIAL_REDIRECT_URI', `refused: ${String(uri)}`)
    t.equal(error.message, 'redirect_uri must be in SOCIAL_AUTH_ALLOWED_REDIRECT_URIS')
  }
})

t.test('provider calls: 5xx, redirects, non-JSON and oversized answers are SocialProviderErrors', async (t) => {
  const server = await serve((req) => {
    switch (req.url.pathname) {
      case '/500': return { status: 500, text: 'oops' }
      case '/302': return { status: 302, headers: { location: 'http://127.0.0.1:9/' } }
      case '/html': return { status: 200, text: '<html>' }
      case '/huge': return { status: 200, text: `"${'x'.repeat(MAX_PROVIDER_BODY)}"` }
      case '/form': return { status: 200, text: 'access_token=abc&scope=x' }
      case '/empty': return { status: 204 }
      default: return { status: 401, json: { message: 'Bad credentials' } }
    }
  })
  t.teardown(server.close)
  const call = { provider: 'p', timeoutMs: 2000 }
  for (const path of ['/500', '/302', '/html', '/huge']) await failsWith(t, callProvider(`${server.url}${path}`, call), 'ACCOUNTS_SOCIAL_PROVIDER', path)
  t.same(await callProvider(`${server.url}/form`, call, 'form'), { status: 200, body: { access_token: 'abc', scope: 'x' } })
  t.same(await callProvider(`${server.url}/empty`, call), { status: 204, body: null })
  t.same(await callProvider(`${server.url}/401`, call), { status: 401, body: { message: 'Bad credentials' } }, 'a 4xx is the caller\'s to read')
})

t.test('extra data drops anything that looks like a credential', async (t) => {
  t.same(withoutSecrets({ sub: '1', email: 'a@b.c', access_token: 'x', id_token: 'y', token_secret: 'z', client_secret: 's', nonce: 'n', at_hash: 'h', code: 'c', country_code: 'FR' }),
    { sub: '1', email: 'a@b.c', country_code: 'FR' })
})

t.test('username candidates', async (t) => {
  const candidates = usernameCandidates({ username: 'octocat' })
  t.same(candidates.slice(0, 6), ['octocat', 'octocat2', 'octocat3', 'octocat4', 'octocat5', 'octocat6'])
  t.equal(candidates.length, 16)
  t.equal(usernameCandidates({})[0], 'user', 'nothing to go on')
  t.equal(usernameCandidates({ firstName: 'Zoë', lastName: 'Saldaña' })[0], 'zoe')
  t.equal(usernameCandidates({ email: 'jean-luc@example.com' })[0], 'jean-luc')
  t.ok(usernameCandidates({ username: 'x'.repeat(150) }).every((u) => u.length <= 150))
})
