import t from 'tap'
import { TwitterSocialProvider, type TwitterSettings } from '../lib/social/twitter.js'
import { oauth1Signature, parseOAuthHeader, startX } from './helpers/x-server.js'
import { closedPortUrl, failsWith, silentServer } from './helpers/social.js'

// X (OAuth 1.0a) against a local API that checks the signature as X does (test/helpers/x-server.ts).

const x = await startX({ 'consumer-key': 'consumer-secret', 'other-key': 'other-secret' }, {
  783214: { id: 783214, screen_name: 'jack', name: 'Jack Dorsey', email: 'jack@example.com' },
  12: { id: 12, screen_name: 'nomail', name: 'No Mail' }
})
t.teardown(x.close)

const twitter = (extra: Partial<TwitterSettings> = {}): TwitterSocialProvider =>
  new TwitterSocialProvider('twitter', { consumerKey: 'consumer-key', consumerSecret: 'consumer-secret', apiUrl: x.apiUrl, timeoutMs: 2000, ...extra })
const provider = twitter()

t.test("the server's verifier reproduces X's worked example (\"Creating a signature\")", async (t) => {
  const signature = oauth1Signature({
    method: 'POST',
    baseUri: 'https://api.twitter.com/1.1/statuses/update.json',
    params: [
      ['status', 'Hello Ladies + Gentlemen, a signed OAuth request!'],
      ['include_entities', 'true'],
      ['oauth_consumer_key', 'xvz1evFS4wEEPTGEFPHBog'],
      ['oauth_nonce', 'kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg'],
      ['oauth_signature_method', 'HMAC-SHA1'],
      ['oauth_timestamp', '1318622958'],
      ['oauth_token', '370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb'],
      ['oauth_version', '1.0']
    ],
    consumerSecret: 'kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw',
    tokenSecret: 'LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE'
  })
  t.equal(signature, 'hCtSmYh+iHYCEqBWrE7C7hYmtUk=')
  t.same([...parseOAuthHeader('OAuth oauth_consumer_key="a%20b", oauth_signature="c%2Bd%3D"') ?? []], [['oauth_consumer_key', 'a b'], ['oauth_signature', 'c+d=']])
})

t.test('access_token + token_secret sign verify_credentials; the profile comes back', async (t) => {
  const { token, secret } = x.issueToken('consumer-key', 783214)
  const profile = await provider.authenticate({ accessToken: token, tokenSecret: secret })
  t.same(profile, {
    provider: 'twitter',
    uid: '783214',
    email: 'jack@example.com',
    emailVerified: true,
    username: 'jack',
    firstName: 'Jack',
    lastName: 'Dorsey',
    extra: { id: 783214, id_str: '783214', screen_name: 'jack', name: 'Jack Dorsey', email: 'jack@example.com' }
  }, 'X gives only a verified email')
  t.match(await provider.authenticate({ accessToken: token, tokenSecret: secret }), { uid: '783214' }, 'a fresh nonce each time')
  const nomail = x.issueToken('consumer-key', 12)
  t.match(await provider.authenticate({ accessToken: nomail.token, tokenSecret: nomail.secret }), { uid: '12', email: '', emailVerified: false })
})

t.test('a bad signature is refused: wrong token secret, wrong consumer secret, a token of another app, an unknown token', async (t) => {
  const { token, secret } = x.issueToken('consumer-key', 783214)
  await failsWith(t, provider.authenticate({ accessToken: token, tokenSecret: `${secret}x` }), 'ACCOUNTS_SOCIAL_TOKEN', 'wrong token secret')
  await failsWith(t, twitter({ consumerSecret: 'nope' }).authenticate({ accessToken: token, tokenSecret: secret }), 'ACCOUNTS_SOCIAL_TOKEN', 'wrong consumer secret')
  const other = x.issueToken('other-key', 783214)
  await failsWith(t, provider.authenticate({ accessToken: other.token, tokenSecret: other.secret }), 'ACCOUNTS_SOCIAL_TOKEN', 'a token of another consumer')
  await failsWith(t, provider.authenticate({ accessToken: 'unknown', tokenSecret: 'unknown' }), 'ACCOUNTS_SOCIAL_TOKEN', 'unknown token')

  const replay = await fetch(`${x.apiUrl}/1.1/account/verify_credentials.json?include_email=true`, {
    headers: { authorization: `OAuth oauth_consumer_key="consumer-key", oauth_token="${encodeURIComponent(token)}", oauth_signature_method="HMAC-SHA1", oauth_timestamp="${Math.floor(Date.now() / 1000)}", oauth_nonce="n1", oauth_version="1.0", oauth_signature="Zm9v"` }
  })
  t.equal(replay.status, 401, 'the server checks the signature itself (a made-up one is 401)')
})

t.test('input and provider failures', async (t) => {
  await failsWith(t, provider.authenticate({ accessToken: 'a' }), 'ACCOUNTS_SOCIAL_INPUT', 'no token_secret')
  await failsWith(t, provider.authenticate({ code: 'a' }), 'ACCOUNTS_SOCIAL_UNSUPPORTED', 'no code flow')
  await failsWith(t, provider.authorizationUrl(), 'ACCOUNTS_SOCIAL_UNSUPPORTED', 'djoser does not serve X')
  await failsWith(t, provider.completeAuthorization(), 'ACCOUNTS_SOCIAL_UNSUPPORTED')
  t.equal(provider.supportsAuthorizationUrl, false)
  await failsWith(t, twitter({ apiUrl: await closedPortUrl() }).authenticate({ accessToken: 'a', tokenSecret: 'b' }), 'ACCOUNTS_SOCIAL_PROVIDER', 'down')
  const silent = await silentServer(t)
  const started = Date.now()
  await failsWith(t, twitter({ apiUrl: silent.url, timeoutMs: 300 }).authenticate({ accessToken: 'a', tokenSecret: 'b' }), 'ACCOUNTS_SOCIAL_PROVIDER', 'too slow')
  t.ok(Date.now() - started < 2000, 'bounded')
})
