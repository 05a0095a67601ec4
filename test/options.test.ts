import { generateKeyPairSync } from 'node:crypto'
import Fastify from 'fastify'
import t from 'tap'
import accounts, { DEFAULTS, MemoryMailer, MemoryTokenStore, MemoryUserStore, OptionsError, type AccountsOptions } from '../lib/index.js'
import { fastHasher, json, PASSWORD, SECRET } from './helpers/app.js'

const rsa = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
})

/** Registers the plugin with `options` (as a JavaScript caller could: no type checking) and waits for ready. */
async function register (options: unknown) {
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  await app.register(accounts, options as AccountsOptions)
  await app.ready()
  return app
}

const valid = (extra: Record<string, unknown> = {}, jwt: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ passwordHasher: fastHasher, ...extra, jwt: { signingKey: SECRET, ...jwt } })

t.test('registration rejects bad options with an error naming the option', async t => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['missing jwt', { passwordHasher: fastHasher }, /\bjwt\b/],
    ['jwt not an object', { jwt: SECRET }, /\bjwt\b/],
    ['missing signingKey', { jwt: {} }, /signingKey/],
    ['empty signingKey', valid({}, { signingKey: '' }), /signingKey/],
    ['unknown option', valid({ sendActivationMail: true }), /sendActivationMail/],
    ['unknown jwt option', valid({}, { accessTokenLifeTime: 60 }), /jwt\.accessTokenLifeTime/],
    ['bad algorithm', valid({}, { algorithm: 'HS1024' }), /algorithm/],
    ['algorithm none', valid({}, { algorithm: 'none' }), /algorithm/],
    ['lower-case algorithm', valid({}, { algorithm: 'hs256' }), /algorithm/],
    ['RS256 without verifyingKey', valid({ secretKey: 'link-secret-0123456789-0123456789abcdef' }, { algorithm: 'RS256', signingKey: rsa.privateKey }), /verifyingKey/],
    ['verifyingKey with HS256', valid({}, { verifyingKey: rsa.publicKey }), /verifyingKey/],
    ['PEM key as an HS256 secret', valid({}, { signingKey: rsa.publicKey }), /signingKey/],
    ['RS256 with a shared secret as signingKey', valid({ secretKey: 'link-secret-0123456789-0123456789abcdef' }, { algorithm: 'RS256', verifyingKey: rsa.publicKey }), /signingKey/],
    ['RS256 without secretKey', valid({}, { algorithm: 'RS256', signingKey: rsa.privateKey, verifyingKey: rsa.publicKey }), /secretKey/],
    ['zero accessTokenLifetime', valid({}, { accessTokenLifetime: 0 }), /accessTokenLifetime/],
    ['negative accessTokenLifetime', valid({}, { accessTokenLifetime: -300 }), /accessTokenLifetime/],
    ['fractional accessTokenLifetime', valid({}, { accessTokenLifetime: 0.5 }), /accessTokenLifetime/],
    ['string accessTokenLifetime', valid({}, { accessTokenLifetime: '300' }), /accessTokenLifetime/],
    ['zero refreshTokenLifetime', valid({}, { refreshTokenLifetime: 0 }), /refreshTokenLifetime/],
    ['negative refreshTokenLifetime', valid({}, { refreshTokenLifetime: -1 }), /refreshTokenLifetime/],
    ['negative leeway', valid({}, { leeway: -1 }), /leeway/],
    ['NaN leeway', valid({}, { leeway: Number.NaN }), /leeway/],
    ['empty authHeaderTypes', valid({}, { authHeaderTypes: [] }), /authHeaderTypes/],
    ['authHeaderTypes not an array', valid({}, { authHeaderTypes: 'Bearer' }), /authHeaderTypes/],
    ['authHeaderTypes with a space', valid({}, { authHeaderTypes: ['Bearer token'] }), /authHeaderTypes/],
    ['authHeaderTypes containing Token', valid({}, { authHeaderTypes: ['Bearer', 'Token'] }), /authHeaderTypes/],
    ['authHeaderTypes containing token (any case: DRF matches Token case-insensitively)', valid({}, { authHeaderTypes: ['token'] }), /authHeaderTypes/],
    ['empty userIdClaim', valid({}, { userIdClaim: '' }), /userIdClaim/],
    ['non-boolean rotateRefreshTokens', valid({}, { rotateRefreshTokens: 'yes' }), /rotateRefreshTokens/],
    ['empty audience', valid({}, { audience: '' }), /audience/],
    ['activationUrl without {uid}', valid({ activationUrl: '#/activate/{token}' }), /activationUrl/],
    ['activationUrl without {token}', valid({ activationUrl: '#/activate/{uid}' }), /activationUrl/],
    ['passwordResetConfirmUrl without {uid}', valid({ passwordResetConfirmUrl: '#/reset/{token}' }), /passwordResetConfirmUrl/],
    ['bad loginField', valid({ loginField: 'phone' }), /loginField/],
    ['secretKey shorter than 32 bytes', valid({ secretKey: 'a-link-secret-of-31-bytes-00000' }), /secretKey must be at least 32 bytes .* not 31/],
    ['secretKey not a string', valid({ secretKey: 1234567890123456789 }), /secretKey/],
    ['HS256 signingKey shorter than 32 bytes', valid({}, { signingKey: 'x'.repeat(31) }), /jwt\.signingKey must be at least 32 bytes for HS256 .* not 31/],
    ['regression: a 1-character HS256 signingKey beside its own secretKey (ASVS 3.5.3)', valid({ secretKey: 'x'.repeat(40) }, { signingKey: 'k' }), /jwt\.signingKey must be at least 32 bytes/],
    ['HS384 signingKey shorter than 48 bytes', valid({}, { algorithm: 'HS384', signingKey: 'x'.repeat(47) }), /at least 48 bytes for HS384/],
    ['HS512 signingKey shorter than 64 bytes', valid({}, { algorithm: 'HS512', signingKey: 'x'.repeat(63) }), /at least 64 bytes for HS512/],
    ['bytes, not characters: 16 two-byte characters are 32 bytes, 15 are not', valid({}, { signingKey: 'é'.repeat(15) }), /not 30/],
    ['store without methods', valid({ store: { users: {}, tokens: {} } }), /store/],
    ['store.tokens without methods', valid({ store: { users: new MemoryUserStore(), tokens: {} } }), /store\.tokens/],
    ['store.users without methods', valid({ store: { users: { createUser () {} }, tokens: new MemoryTokenStore() } }), /store\.users/],
    ['store not an object', valid({ store: 'memory' }), /store/],
    ['mailer without send', valid({ mailer: {} }), /mailer/],
    ['mailer with send not a function', valid({ mailer: { send: true } }), /mailer/],
    ['passwordHasher without verify', valid({ passwordHasher: { hash () {} } }), /passwordHasher/],
    ['non-boolean hideUsers', valid({ hideUsers: 'false' }), /hideUsers/],
    ['bad protocol', valid({ protocol: 'ftp' }), /protocol/],
    ['zero passwordResetTimeout', valid({ passwordResetTimeout: 0 }), /passwordResetTimeout/]
  ]
  for (const [name, options, pattern] of cases) {
    t.test(name, async t => {
      await t.rejects(register(options), { name: 'OptionsError', message: pattern })
    })
  }

  t.test('the error is an OptionsError exported by the package', async t => {
    const error = await register({ jwt: {} }).then(() => null, (e: unknown) => e)
    t.ok(error instanceof OptionsError)
    t.match((error as Error).message, /^fastify-accounts: /)
  })

  t.test('rejects at register() too, not only at ready()', async t => {
    const app = Fastify({ logger: false })
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(accounts, { jwt: { signingKey: SECRET, leeway: -5 } }) }, { name: 'OptionsError', message: /leeway/ })
  })
})

t.test('a minimal valid configuration', async t => {
  t.test('jwt: { signingKey } alone: defaults applied, equal to DEFAULTS', async t => {
    const app = await register({ jwt: { signingKey: SECRET } })
    const o = app.accounts.options
    const { jwt: jwtDefaults, ...topDefaults } = DEFAULTS
    for (const [key, value] of Object.entries(topDefaults)) {
      t.same((o as unknown as Record<string, unknown>)[key], value, key)
    }
    t.same(o.jwt, { ...jwtDefaults, signingKey: SECRET }, 'jwt defaults plus the key, nothing else')
    t.notOk('audience' in o.jwt && o.jwt.audience !== undefined, 'no audience by default')
    t.equal(o.secretKey, SECRET, 'link secret defaults to the HMAC signing key')
    t.not(o.jwt.authHeaderTypes, DEFAULTS.jwt.authHeaderTypes, 'arrays are copies, not the shared DEFAULTS')
  })

  t.test('DEFAULTS are the documented djoser / simplejwt defaults', async t => {
    t.equal(DEFAULTS.jwt.algorithm, 'HS256')
    t.equal(DEFAULTS.jwt.accessTokenLifetime, 300)
    t.equal(DEFAULTS.jwt.refreshTokenLifetime, 86400)
    t.equal(DEFAULTS.jwt.rotateRefreshTokens, false)
    t.equal(DEFAULTS.jwt.blacklistAfterRotation, false)
    t.equal(DEFAULTS.jwt.updateLastLogin, false)
    t.equal(DEFAULTS.jwt.leeway, 0)
    t.same(DEFAULTS.jwt.authHeaderTypes, ['Bearer'])
    t.equal(DEFAULTS.jwt.userIdClaim, 'user_id')
    t.equal(DEFAULTS.jwt.tokenTypeClaim, 'token_type')
    t.equal(DEFAULTS.jwt.jtiClaim, 'jti')
    t.equal(DEFAULTS.jwt.refreshReuseDetection, true)
    t.equal(DEFAULTS.loginField, 'username')
    t.equal(DEFAULTS.hideUsers, true)
    t.equal(DEFAULTS.passwordResetTimeout, 259200)
    t.equal(DEFAULTS.activationUrl, '#/activate/{uid}/{token}')
    t.equal(DEFAULTS.passwordResetConfirmUrl, '#/password/reset/confirm/{uid}/{token}')
    t.equal(DEFAULTS.usernameResetConfirmUrl, '#/username/reset/confirm/{uid}/{token}')
  })

  t.test('mutating one app\'s options does not change DEFAULTS or another app', async t => {
    const one = await register({ jwt: { signingKey: SECRET } })
    one.accounts.options.jwt.authHeaderTypes.push('JWT')
    t.same(DEFAULTS.jwt.authHeaderTypes, ['Bearer'])
    const two = await register({ jwt: { signingKey: SECRET } })
    t.same(two.accounts.options.jwt.authHeaderTypes, ['Bearer'])
  })

  t.test('the caller\'s own options object is not mutated', async t => {
    const jwt = { signingKey: SECRET, authHeaderTypes: ['JWT'] }
    const options = { jwt, hideUsers: false }
    await register(options)
    t.same(options, { jwt: { signingKey: SECRET, authHeaderTypes: ['JWT'] }, hideUsers: false })
  })

  t.test('given values win over defaults; undefined means the default', async t => {
    const app = await register({
      hideUsers: false,
      loginField: 'email',
      activationUrl: 'activate?u={uid}&t={token}',
      secretKey: 'a-separate-link-secret-123-0123456789abcdef',
      jwt: { signingKey: SECRET, accessTokenLifetime: 60, leeway: undefined, authHeaderTypes: ['JWT'], audience: 'aud' }
    })
    const o = app.accounts.options
    t.equal(o.hideUsers, false)
    t.equal(o.loginField, 'email')
    t.equal(o.activationUrl, 'activate?u={uid}&t={token}')
    t.equal(o.secretKey, 'a-separate-link-secret-123-0123456789abcdef')
    t.equal(o.jwt.accessTokenLifetime, 60)
    t.equal(o.jwt.refreshTokenLifetime, 86400)
    t.equal(o.jwt.leeway, 0)
    t.same(o.jwt.authHeaderTypes, ['JWT'])
    t.equal(o.jwt.audience, 'aud')
  })

  t.test('asymmetric keys with a secretKey are accepted', async t => {
    const app = await register({ secretKey: 'link-secret-0123456789-0123456789abcdef', jwt: { algorithm: 'RS256', signingKey: rsa.privateKey, verifyingKey: rsa.publicKey } })
    t.equal(app.accounts.options.jwt.algorithm, 'RS256')
    t.equal(app.accounts.options.secretKey, 'link-secret-0123456789-0123456789abcdef')
  })

  t.test('the minimal app works end to end without a prefix, with its default stores', async t => {
    const mailer = new MemoryMailer()
    const app = await register({ jwt: { signingKey: SECRET }, passwordHasher: fastHasher, mailer, sendActivationEmail: false })
    const created = await app.inject({ method: 'POST', url: '/users/', payload: { username: 'dora', email: 'dora@example.com', password: PASSWORD } })
    t.equal(created.statusCode, 201)
    const login = await app.inject({ method: 'POST', url: '/jwt/create/', payload: { username: 'dora', password: PASSWORD } })
    t.equal(login.statusCode, 200)
    const { access } = json(login) as { access: string }
    const me = await app.inject({ method: 'GET', url: '/users/me/', headers: { authorization: `Bearer ${access}` } })
    t.equal(me.statusCode, 200)
    t.match(json(me), { username: 'dora' })
  })

  t.test('two apps in one process keep separate options and keys', async t => {
    const a = await register({ jwt: { signingKey: SECRET }, passwordHasher: fastHasher, sendActivationEmail: false })
    const b = await register({ jwt: { signingKey: 'another-secret-that-is-long-enough-42' }, passwordHasher: fastHasher, sendActivationEmail: false })
    t.equal(a.accounts.options.jwt.signingKey, SECRET)
    t.equal(b.accounts.options.jwt.signingKey, 'another-secret-that-is-long-enough-42')
    await a.inject({ method: 'POST', url: '/users/', payload: { username: 'eve', email: 'eve@example.com', password: PASSWORD } })
    await b.inject({ method: 'POST', url: '/users/', payload: { username: 'eve', email: 'eve@example.com', password: PASSWORD } })
    const login = await a.inject({ method: 'POST', url: '/jwt/create/', payload: { username: 'eve', password: PASSWORD } })
    const { access } = json(login) as { access: string }
    t.equal((await a.inject({ method: 'GET', url: '/users/me/', headers: { authorization: `Bearer ${access}` } })).statusCode, 200)
    t.equal((await b.inject({ method: 'GET', url: '/users/me/', headers: { authorization: `Bearer ${access}` } })).statusCode, 401)
  })
})
