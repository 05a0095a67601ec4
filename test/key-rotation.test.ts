/**
 * Key rotation: `jwt.signingKid` names the current key in the header of every new token; `jwt.verifyingKeys`
 * keeps older keys verifying the tokens they signed (chosen by `kid`) until those expire. Each step of a
 * rotation is a restart of the app with new options on the same stores.
 */
import { generateKeyPairSync } from 'node:crypto'
import Fastify, { type LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import accounts, { MemoryMailer, MemoryTokenStore, MemoryUserStore, type AccountsOptions, type JwtOptions } from '../lib/index.js'
import { fastHasher, json, PASSWORD, SECRET } from './helpers/app.js'
import { claims, decodeJwt, signHmac } from './helpers/jwt.js'

type Body = Record<string, unknown>
type Stores = { users: MemoryUserStore, tokens: MemoryTokenStore }

const OLD_SECRET = 'the-old-shared-secret-0123456789abcdef'
const NEW_SECRET = 'the-new-shared-secret-fedcba9876543210'
const LINK_SECRET = 'link-secret-0123456789abcdef-0123456789abcdef'
const spki = { type: 'spki', format: 'pem' } as const
const pkcs8 = { type: 'pkcs8', format: 'pem' } as const
const rsaPair = (): { publicKey: string, privateKey: string } =>
  generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: spki, privateKeyEncoding: pkcs8 })

/** One deployment of the app: the plugin under /auth on `stores`, closed at the end of `t`. */
async function deploy (t: Test, stores: Stores, jwt: JwtOptions, extra: Partial<AccountsOptions> = {}) {
  const app = Fastify({ logger: false })
  await app.register(accounts, {
    prefix: '/auth',
    store: stores,
    mailer: new MemoryMailer(),
    passwordHasher: fastHasher,
    rateLimit: false,
    sendActivationEmail: false,
    secretKey: LINK_SECRET,
    ...extra,
    jwt
  })
  await app.ready()
  t.teardown(async () => { await app.close() })
  const post = async (url: string, payload: Body): Promise<LightMyRequestResponse> => await app.inject({ method: 'POST', url: `/auth${url}`, payload })
  const me = async (access: string): Promise<LightMyRequestResponse> =>
    await app.inject({ method: 'GET', url: '/auth/users/me/', headers: { authorization: `Bearer ${access}` } })
  const login = async (username: string): Promise<{ access: string, refresh: string }> => {
    const res = await post('/jwt/create/', { username, password: PASSWORD })
    if (res.statusCode !== 200) throw new Error(`login: ${res.body}`)
    return json(res) as { access: string, refresh: string }
  }
  return { app, post, me, login }
}

/** Fresh stores with one user in them (registered through a throwaway deployment). */
async function storesWithUser (t: Test, jwt: JwtOptions): Promise<{ stores: Stores, id: number, username: string }> {
  const stores = { users: new MemoryUserStore(), tokens: new MemoryTokenStore() }
  const first = await deploy(t, stores, jwt)
  const res = await first.post('/users/', { username: 'alice', email: 'alice@example.com', password: PASSWORD })
  if (res.statusCode !== 201) throw new Error(`register: ${res.body}`)
  return { stores, id: (json(res) as { id: number }).id, username: 'alice' }
}

function assertTokenNotValid (t: Test, res: LightMyRequestResponse, what: string): void {
  t.equal(res.statusCode, 401, `${what}: 401 (${res.body})`)
  t.equal((json(res) as Body).code, 'token_not_valid', `${what}: token_not_valid`)
}

t.test('signingKid', async t => {
  t.test('new tokens carry it as the kid header; refreshed and rotated ones too', async t => {
    const { stores, username } = await storesWithUser(t, { signingKey: SECRET, signingKid: 'k1', rotateRefreshTokens: true })
    const app = await deploy(t, stores, { signingKey: SECRET, signingKid: 'k1', rotateRefreshTokens: true })
    const pair = await app.login(username)
    t.same(decodeJwt(pair.access).header, { alg: 'HS256', typ: 'JWT', kid: 'k1' })
    t.same(decodeJwt(pair.refresh).header, { alg: 'HS256', typ: 'JWT', kid: 'k1' })
    const refreshed = json(await app.post('/jwt/refresh/', { refresh: pair.refresh })) as Body
    t.equal(decodeJwt(refreshed.access as string).header.kid, 'k1')
    t.equal(decodeJwt(refreshed.refresh as string).header.kid, 'k1')
    t.equal((await app.me(refreshed.access as string)).statusCode, 200)
  })

  t.test('without it tokens have no kid (as simplejwt writes them)', async t => {
    const { stores, username } = await storesWithUser(t, { signingKey: SECRET })
    const app = await deploy(t, stores, { signingKey: SECRET })
    t.same(decodeJwt((await app.login(username)).access).header, { alg: 'HS256', typ: 'JWT' })
  })

  t.test('a token without kid is checked with the current key; one whose kid names no key is refused', async t => {
    const { stores, id } = await storesWithUser(t, { signingKey: SECRET, signingKid: 'k1' })
    const app = await deploy(t, stores, { signingKey: SECRET, signingKid: 'k1' })
    t.equal((await app.me(signHmac(claims(id, 'access'), SECRET))).statusCode, 200, 'no kid, current key (simplejwt\'s tokens)')
    t.equal((await app.me(signHmac(claims(id, 'access'), SECRET, 'HS256', { kid: 'k1' }))).statusCode, 200, 'kid k1, current key')
    for (const kid of ['k2', 'K1', '', 1, null, ['k1']]) {
      const access = signHmac(claims(id, 'access'), SECRET, 'HS256', { kid })
      assertTokenNotValid(t, await app.me(access), `kid ${JSON.stringify(kid)} on /users/me/`)
      assertTokenNotValid(t, await app.post('/jwt/verify/', { token: access }), `kid ${JSON.stringify(kid)} on /jwt/verify/`)
      assertTokenNotValid(t, await app.post('/jwt/refresh/', { refresh: signHmac(claims(id, 'refresh'), SECRET, 'HS256', { kid }) }),
        `kid ${JSON.stringify(kid)} on /jwt/refresh/`)
    }
  })

  t.test('with no signingKid configured, any kid is unknown', async t => {
    const { stores, id } = await storesWithUser(t, { signingKey: SECRET })
    const app = await deploy(t, stores, { signingKey: SECRET })
    assertTokenNotValid(t, await app.me(signHmac(claims(id, 'access'), SECRET, 'HS256', { kid: 'anything' })), 'kid anything')
    t.equal((await app.me(signHmac(claims(id, 'access'), SECRET))).statusCode, 200, 'control: no kid')
  })
})

t.test('rotating HS256 secrets', async t => {
  const before: JwtOptions = { signingKey: OLD_SECRET, signingKid: '2024', rotateRefreshTokens: true }
  const during: JwtOptions = { signingKey: NEW_SECRET, signingKid: '2025', rotateRefreshTokens: true, verifyingKeys: [{ kid: '2024', key: OLD_SECRET }] }
  const after: JwtOptions = { signingKey: NEW_SECRET, signingKid: '2025', rotateRefreshTokens: true }

  t.test('old tokens keep working, new ones use the new key; removing the old key stops its tokens', async t => {
    const { stores, username } = await storesWithUser(t, before)
    const v1 = await deploy(t, stores, before)
    const old = await v1.login(username)
    const oldSpare = await v1.login(username) // a second session, left to expire on the old key
    t.equal(decodeJwt(old.access).header.kid, '2024')

    const v2 = await deploy(t, stores, during)
    t.equal((await v2.me(old.access)).statusCode, 200, 'an old access token works after the rotation')
    t.equal((await v2.post('/jwt/verify/', { token: old.refresh })).statusCode, 200, 'an old refresh token verifies')
    const fresh = await v2.login(username)
    t.equal(decodeJwt(fresh.access).header.kid, '2025', 'a new login signs with the new key')
    t.equal((await v2.me(fresh.access)).statusCode, 200)
    const rotated = await v2.post('/jwt/refresh/', { refresh: old.refresh })
    t.equal(rotated.statusCode, 200, `an old refresh token refreshes (${rotated.body})`)
    const next = json(rotated) as { access: string, refresh: string }
    t.equal(decodeJwt(next.access).header.kid, '2025', 'and gets tokens of the new key')
    t.equal(decodeJwt(next.refresh).header.kid, '2025')
    t.equal((await v2.me(next.access)).statusCode, 200)
    t.throws(() => v1.app.accounts.jwt.verify(next.access), 'the old deployment cannot verify new tokens (another secret)')

    const v3 = await deploy(t, stores, after)
    assertTokenNotValid(t, await v3.me(oldSpare.access), 'an old access token once its key is removed')
    assertTokenNotValid(t, await v3.post('/jwt/refresh/', { refresh: oldSpare.refresh }), 'an old refresh token once its key is removed')
    t.equal((await v3.me(next.access)).statusCode, 200, 'tokens of the new key go on working')
    t.equal((await v3.post('/jwt/refresh/', { refresh: next.refresh })).statusCode, 200)
  })

  t.test('a kid names the key: a token of one key under the other key\'s kid is refused', async t => {
    const { stores, id } = await storesWithUser(t, before)
    const v2 = await deploy(t, stores, during)
    assertTokenNotValid(t, await v2.me(signHmac(claims(id, 'access'), OLD_SECRET, 'HS256', { kid: '2025' })), 'old key, new kid')
    assertTokenNotValid(t, await v2.me(signHmac(claims(id, 'access'), NEW_SECRET, 'HS256', { kid: '2024' })), 'new key, old kid')
    assertTokenNotValid(t, await v2.me(signHmac(claims(id, 'access'), OLD_SECRET)), 'old key, no kid (no kid is the current key)')
    t.equal((await v2.me(signHmac(claims(id, 'access'), OLD_SECRET, 'HS256', { kid: '2024' }))).statusCode, 200, 'control: old key, old kid')
    t.equal((await v2.me(signHmac(claims(id, 'access'), NEW_SECRET))).statusCode, 200, 'control: new key, no kid')
  })

  t.test('an old key checks everything a current one does: expiry, algorithm, typ, aud', async t => {
    const { stores, id } = await storesWithUser(t, before)
    const v2 = await deploy(t, stores, { ...during, audience: 'web' })
    const old = (extra: Body, alg: 'HS256' | 'HS512' = 'HS256', header: Body = {}): string =>
      signHmac({ ...claims(id, 'access'), aud: 'web', ...extra }, OLD_SECRET, alg, { kid: '2024', ...header })
    t.equal((await v2.me(old({}))).statusCode, 200, 'control')
    assertTokenNotValid(t, await v2.me(old({ exp: Math.floor(Date.now() / 1000) - 10 })), 'expired')
    assertTokenNotValid(t, await v2.me(old({}, 'HS512')), 'another algorithm')
    assertTokenNotValid(t, await v2.me(old({}, 'HS256', { typ: 'at+jwt' })), 'wrong typ')
    assertTokenNotValid(t, await v2.me(old({ aud: 'mobile' })), 'another audience')
    assertTokenNotValid(t, await v2.me(old({ token_type: 'refresh' })), 'a refresh token as access')
  })

  t.test('the other dialects\' verifier (app.accounts.jwt) picks the key by kid too', async t => {
    const { stores, id } = await storesWithUser(t, before)
    const v2 = await deploy(t, stores, during)
    const old = signHmac(claims(id, 'access'), OLD_SECRET, 'HS256', { kid: '2024' })
    t.match(v2.app.accounts.jwt.verify(old), { user_id: id })
    t.throws(() => v2.app.accounts.jwt.verify(signHmac(claims(id, 'access'), OLD_SECRET, 'HS256', { kid: 'gone' })), { code: 'FAST_JWT_MISSING_KEY' })
    t.equal(decodeJwt(v2.app.accounts.jwt.sign({ user_id: id })).header.kid, '2025', 'and signs with the current kid')
  })
})

t.test('rotating RS256 keys', async t => {
  const oldKeys = rsaPair()
  const newKeys = rsaPair()
  const before: JwtOptions = { algorithm: 'RS256', signingKey: oldKeys.privateKey, verifyingKey: oldKeys.publicKey, signingKid: 'rsa-1' }
  const during: JwtOptions = {
    algorithm: 'RS256',
    signingKey: newKeys.privateKey,
    verifyingKey: newKeys.publicKey,
    signingKid: 'rsa-2',
    verifyingKeys: [{ kid: 'rsa-1', key: oldKeys.publicKey }]
  }
  const after: JwtOptions = { algorithm: 'RS256', signingKey: newKeys.privateKey, verifyingKey: newKeys.publicKey, signingKid: 'rsa-2' }

  t.test('old tokens keep working, new ones use the new key; removing the old key stops its tokens', async t => {
    const { stores, username } = await storesWithUser(t, before)
    const v1 = await deploy(t, stores, before)
    const old = await v1.login(username)
    t.same(decodeJwt(old.access).header, { alg: 'RS256', typ: 'JWT', kid: 'rsa-1' })

    const v2 = await deploy(t, stores, during)
    t.equal((await v2.me(old.access)).statusCode, 200, 'an old access token works after the rotation')
    const fresh = await v2.login(username)
    t.same(decodeJwt(fresh.access).header, { alg: 'RS256', typ: 'JWT', kid: 'rsa-2' }, 'new tokens name the new key')
    t.throws(() => v1.app.accounts.jwt.verify(fresh.access), 'signed with the new private key, not the old one')
    const refreshed = await v2.post('/jwt/refresh/', { refresh: old.refresh })
    t.equal(refreshed.statusCode, 200, 'an old refresh token refreshes')
    const access = (json(refreshed) as { access: string }).access
    t.equal(decodeJwt(access).header.kid, 'rsa-2')

    const v3 = await deploy(t, stores, after)
    assertTokenNotValid(t, await v3.me(old.access), 'an old access token once its key is removed')
    assertTokenNotValid(t, await v3.post('/jwt/refresh/', { refresh: old.refresh }), 'an old refresh token once its key is removed')
    t.equal((await v3.me(fresh.access)).statusCode, 200, 'new tokens go on working')
    t.equal((await v3.me(access)).statusCode, 200)
  })

  t.test('HS256 signed with an old RSA public key under its kid is refused (the old key allows RS256 only)', async t => {
    const { stores, id } = await storesWithUser(t, before)
    const v2 = await deploy(t, stores, during)
    for (const kid of ['rsa-1', 'rsa-2', undefined]) {
      for (const key of [oldKeys.publicKey, newKeys.publicKey]) {
        assertTokenNotValid(t, await v2.me(signHmac(claims(id, 'access'), key, 'HS256', { kid })), `kid ${String(kid)}`)
      }
    }
  })

  t.test('moving from an HS256 secret to RS256: the old secret verifies the old tokens with its own algorithm', async t => {
    const hsBefore: JwtOptions = { signingKey: OLD_SECRET, signingKid: 'hs' }
    const { stores, username, id } = await storesWithUser(t, hsBefore)
    const old = await (await deploy(t, stores, hsBefore)).login(username)
    const v2 = await deploy(t, stores, { ...after, verifyingKeys: [{ kid: 'hs', key: OLD_SECRET, algorithm: 'HS256' }] })
    t.equal((await v2.me(old.access)).statusCode, 200, 'the old HS256 token works')
    t.equal(decodeJwt((await v2.login(username)).access).header.alg, 'RS256', 'new tokens are RS256')
    assertTokenNotValid(t, await v2.me(signHmac(claims(id, 'access'), OLD_SECRET, 'HS512', { kid: 'hs' })), 'HS512 under the HS256 kid')
    assertTokenNotValid(t, await v2.me(signHmac(claims(id, 'access'), OLD_SECRET)), 'the old secret without kid (no kid: the RS256 key)')
  })
})

t.test('options', async t => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: spki, privateKeyEncoding: pkcs8 })
  const rsa = rsaPair()
  const rs = (jwt: Partial<JwtOptions>): JwtOptions => ({ algorithm: 'RS256', signingKey: rsa.privateKey, verifyingKey: rsa.publicKey, ...jwt })
  const hs = (jwt: Partial<JwtOptions>): JwtOptions => ({ signingKey: SECRET, ...jwt })
  const cases: Array<[string, JwtOptions, RegExp]> = [
    ['empty signingKid', hs({ signingKid: '' }), /jwt\.signingKid must be a non-empty string/],
    ['signingKid not a string', hs({ signingKid: 7 as unknown as string }), /jwt\.signingKid/],
    ['verifyingKeys not an array', hs({ signingKid: 'a', verifyingKeys: { kid: 'b', key: OLD_SECRET } as unknown as [] }), /jwt\.verifyingKeys must be an array/],
    ['verifyingKeys without signingKid', hs({ verifyingKeys: [{ kid: 'old', key: OLD_SECRET }] }), /jwt\.verifyingKeys needs jwt\.signingKid/],
    ['an entry that is not an object', hs({ signingKid: 'a', verifyingKeys: [OLD_SECRET as unknown as { kid: string, key: string }] }), /jwt\.verifyingKeys\[0\] must be an object/],
    ['an entry without kid', hs({ signingKid: 'a', verifyingKeys: [{ key: OLD_SECRET } as unknown as { kid: string, key: string }] }), /jwt\.verifyingKeys\[0\]\.kid/],
    ['an entry without key', hs({ signingKid: 'a', verifyingKeys: [{ kid: 'b' } as unknown as { kid: string, key: string }] }), /jwt\.verifyingKeys\[0\]\.key is required/],
    ['an unknown field', hs({ signingKid: 'a', verifyingKeys: [{ kid: 'b', key: OLD_SECRET, alg: 'HS256' } as unknown as { kid: string, key: string }] }), /unknown option "jwt\.verifyingKeys\[0\]\.alg"/],
    ['a kid listed twice', hs({ signingKid: 'a', verifyingKeys: [{ kid: 'b', key: OLD_SECRET }, { kid: 'b', key: NEW_SECRET }] }), /jwt\.verifyingKeys\[1\]\.kid "b" is listed twice/],
    ['the current kid listed', hs({ signingKid: 'a', verifyingKeys: [{ kid: 'a', key: OLD_SECRET }] }), /jwt\.verifyingKeys\[0\]\.kid "a" is jwt\.signingKid/],
    ['a bad algorithm', hs({ signingKid: 'a', verifyingKeys: [{ kid: 'b', key: OLD_SECRET, algorithm: 'none' as 'HS256' }] }), /jwt\.verifyingKeys\[0\]\.algorithm must be one of/],
    ['a PEM key as an old HS256 secret', hs({ signingKid: 'a', verifyingKeys: [{ kid: 'b', key: rsa.publicKey }] }), /jwt\.verifyingKeys\[0\]\.key looks like a PEM key/],
    ['a shared secret as an old RS256 key', rs({ signingKid: 'a', verifyingKeys: [{ kid: 'b', key: OLD_SECRET }] }), /jwt\.verifyingKeys\[0\]\.key must be a PEM public key/],
    ['a private key as an old RS256 key', rs({ signingKid: 'a', verifyingKeys: [{ kid: 'b', key: rsa.privateKey }] }), /jwt\.verifyingKeys\[0\]\.key is a private key/],
    ['an EC key for RS256', rs({ signingKid: 'a', verifyingKeys: [{ kid: 'b', key: ec.publicKey }] }), /jwt\.verifyingKeys\[0\]\.key is an ec key, which cannot verify RS256/],
    ['an RSA key for ES256', hs({ signingKid: 'a', verifyingKeys: [{ kid: 'b', key: rsa.publicKey, algorithm: 'ES256' }] }), /jwt\.verifyingKeys\[0\]\.key is an rsa key, which cannot verify ES256/],
    ['a negative refreshReuseInterval', hs({ refreshReuseInterval: -1 }), /jwt\.refreshReuseInterval must be a whole number of seconds/],
    ['a fractional refreshReuseInterval', hs({ refreshReuseInterval: 0.5 }), /jwt\.refreshReuseInterval/],
    ['a string refreshReuseInterval', hs({ refreshReuseInterval: '10' as unknown as number }), /jwt\.refreshReuseInterval/]
  ]
  for (const [name, jwt, message] of cases) {
    t.test(name, async t => {
      const app = Fastify({ logger: false })
      t.teardown(() => app.close())
      await t.rejects(async () => { await app.register(accounts, { passwordHasher: fastHasher, secretKey: LINK_SECRET, jwt }) }, { name: 'OptionsError', message })
    })
  }

  t.test('revokeAccessOnPasswordChange must be a boolean', async t => {
    const app = Fastify({ logger: false })
    t.teardown(() => app.close())
    await t.rejects(async () => {
      await app.register(accounts, { passwordHasher: fastHasher, revokeAccessOnPasswordChange: 'yes' as unknown as boolean, jwt: { signingKey: SECRET } })
    }, { name: 'OptionsError', message: /revokeAccessOnPasswordChange must be a boolean/ })
  })

  t.test('valid: defaults, an ES256 old key beside an RS256 current one, the resolved options', async t => {
    const app = Fastify({ logger: false })
    t.teardown(() => app.close())
    const jwt = rs({ signingKid: 'new', verifyingKeys: [{ kid: 'old-ec', key: ec.publicKey, algorithm: 'ES256' }, { kid: 'old-hs', key: OLD_SECRET, algorithm: 'HS512' }] })
    await app.register(accounts, { passwordHasher: fastHasher, secretKey: LINK_SECRET, jwt })
    await app.ready()
    const o = app.accounts.options
    t.equal(o.revokeAccessOnPasswordChange, false)
    t.equal(o.jwt.refreshReuseInterval, 10)
    t.equal(o.jwt.signingKid, 'new')
    t.same(o.jwt.verifyingKeys, [{ kid: 'old-ec', key: ec.publicKey, algorithm: 'ES256' }, { kid: 'old-hs', key: OLD_SECRET, algorithm: 'HS512' }])
    t.not(o.jwt.verifyingKeys, jwt.verifyingKeys, 'a copy')
  })

  t.test('an old key\'s algorithm defaults to jwt.algorithm', async t => {
    const app = Fastify({ logger: false })
    t.teardown(() => app.close())
    await app.register(accounts, { passwordHasher: fastHasher, jwt: hs({ algorithm: 'HS384', signingKey: SECRET.repeat(2), signingKid: 'a', verifyingKeys: [{ kid: 'b', key: OLD_SECRET }] }) })
    t.same(app.accounts.options.jwt.verifyingKeys, [{ kid: 'b', key: OLD_SECRET, algorithm: 'HS384' }])
  })
})
