/**
 * RFC 8725 (JWT best current practices) as the token routes and app.authenticate apply it: every token
 * below is refused with simplejwt's 401 token_not_valid.
 *
 * Covered elsewhere, not repeated here: `alg: none`, HS256 signed with the RSA public key (RS256), another
 * HMAC algorithm, a missing token_type or jti, aud / iss, expiry and leeway (test/jwt.test.ts); a refresh
 * token presented as an access token (test/authenticate.test.ts, test/me.test.ts).
 */
import { generateKeyPairSync } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { json, SECRET } from './helpers/app.js'
import { claims, decodeJwt, me, post, setup, signHmac } from './helpers/jwt.js'

type Body = Record<string, unknown>

const LINK_SECRET = 'link-secret-0123456789abcdef-0123456789abcdef'
const spki = { type: 'spki', format: 'pem' } as const
const pkcs8 = { type: 'pkcs8', format: 'pem' } as const

function assertTokenNotValid (t: Test, res: LightMyRequestResponse, what: string): void {
  t.equal(res.statusCode, 401, `${what}: 401 (${res.body})`)
  t.equal((json(res) as Body).code, 'token_not_valid', `${what}: code token_not_valid`)
}

/** The same token on every route that takes one: /users/me/ and /jwt/verify/ (access), or /jwt/refresh/ and /jwt/blacklist/ (refresh). */
async function assertRefusedEverywhere (t: Test, app: Awaited<ReturnType<typeof setup>>['app'], access: string, refresh: string): Promise<void> {
  assertTokenNotValid(t, await me(app, `Bearer ${access}`), '/users/me/')
  assertTokenNotValid(t, await post(app, '/jwt/verify/', { token: access }), '/jwt/verify/')
  assertTokenNotValid(t, await post(app, '/jwt/refresh/', { refresh }), '/jwt/refresh/')
  assertTokenNotValid(t, await post(app, '/jwt/blacklist/', { refresh }), '/jwt/blacklist/')
}

t.test('typ (RFC 8725 3.11)', async t => {
  t.test('a typ other than JWT is refused on every route, whatever else is right', async t => {
    const { app, id } = await setup()
    for (const typ of ['at+jwt', 'dpop+jwt', 'secevent+jwt', 'application/at+jwt', 'JWS', 'JOSE', 'JWT ', '']) {
      const access = signHmac(claims(id, 'access'), SECRET, 'HS256', { typ })
      const refresh = signHmac(claims(id, 'refresh'), SECRET, 'HS256', { typ })
      await t.test(JSON.stringify(typ), async t => { await assertRefusedEverywhere(t, app, access, refresh) })
    }
  })

  t.test('a typ that is not a string is refused', async t => {
    const { app, id } = await setup()
    for (const typ of [1, null, true, ['JWT'], { typ: 'JWT' }]) {
      const access = signHmac(claims(id, 'access'), SECRET, 'HS256', { typ })
      const refresh = signHmac(claims(id, 'refresh'), SECRET, 'HS256', { typ })
      await t.test(JSON.stringify(typ), async t => { await assertRefusedEverywhere(t, app, access, refresh) })
    }
  })

  t.test('control: JWT in any case, its media type, or no typ at all is accepted', async t => {
    const { app, id } = await setup()
    for (const typ of ['JWT', 'jwt', 'Jwt', 'application/jwt', 'APPLICATION/JWT', undefined]) {
      const access = signHmac(claims(id, 'access'), SECRET, 'HS256', { typ })
      t.equal((await me(app, `Bearer ${access}`)).statusCode, 200, `${String(typ)}: /users/me/`)
      t.equal((await post(app, '/jwt/verify/', { token: access })).statusCode, 200, `${String(typ)}: /jwt/verify/`)
      t.equal((await post(app, '/jwt/refresh/', { refresh: signHmac(claims(id, 'refresh'), SECRET, 'HS256', { typ }) })).statusCode, 200,
        `${String(typ)}: /jwt/refresh/`)
    }
  })

  t.test('the verifier the other dialects use (app.accounts.jwt) refuses a wrong typ too, with a fast-jwt code', async t => {
    const { app, id } = await setup()
    const token = signHmac(claims(id, 'access'), SECRET, 'HS256', { typ: 'at+jwt' })
    t.throws(() => app.app.accounts.jwt.verify(token), { code: 'FAST_JWT_INVALID_TYPE' })
    t.throws(() => app.app.accounts.jwt.verify(token, 'ignore-expiration'), { code: 'FAST_JWT_INVALID_TYPE' }, 'in the other verify modes too')
    t.match(app.app.accounts.jwt.verify(signHmac(claims(id, 'access'), SECRET)), { user_id: id }, 'control')
  })
})

t.test('nbf (not before)', async t => {
  t.test('a token not yet valid is refused on every route', async t => {
    const { app, id } = await setup()
    const later = Math.floor(Date.now() / 1000) + 60
    await assertRefusedEverywhere(t, app,
      signHmac({ ...claims(id, 'access'), nbf: later }, SECRET),
      signHmac({ ...claims(id, 'refresh'), nbf: later }, SECRET))
  })

  t.test('nbf beyond the leeway is refused; within it, and in the past, accepted', async t => {
    const { app, id } = await setup({ jwt: { leeway: 30 } })
    const now = Math.floor(Date.now() / 1000)
    assertTokenNotValid(t, await me(app, `Bearer ${signHmac({ ...claims(id, 'access'), nbf: now + 120 }, SECRET)}`), '120 s ahead, leeway 30')
    t.equal((await me(app, `Bearer ${signHmac({ ...claims(id, 'access'), nbf: now + 10 }, SECRET)}`)).statusCode, 200, '10 s ahead, leeway 30')
    t.equal((await me(app, `Bearer ${signHmac({ ...claims(id, 'access'), nbf: now - 10 }, SECRET)}`)).statusCode, 200, 'in the past')
  })

  t.test('an nbf that is not a number is refused', async t => {
    const { app, id } = await setup()
    assertTokenNotValid(t, await me(app, `Bearer ${signHmac({ ...claims(id, 'access'), nbf: 'now' }, SECRET)}`), 'string nbf')
  })
})

t.test('token_type', async t => {
  t.test('a token_type that is neither access nor refresh is refused on every route', async t => {
    const { app, id } = await setup()
    for (const type of ['ACCESS', 'Refresh', 'access ', 'id', 'sliding', '', 1, null, ['access']]) {
      const token = signHmac({ ...claims(id, 'access'), token_type: type }, SECRET)
      await t.test(JSON.stringify(type), async t => { await assertRefusedEverywhere(t, app, token, token) })
    }
  })

  t.test('access as refresh with rotation and blacklisting on: refused on /jwt/refresh/, nothing recorded, the access token still works', async t => {
    const { app, access } = await setup({ jwt: { rotateRefreshTokens: true, blacklistAfterRotation: true } })
    const jti = decodeJwt(access).payload.jti as string
    const res = await post(app, '/jwt/refresh/', { refresh: access })
    assertTokenNotValid(t, res, 'access as refresh')
    t.same(Object.keys(json(res) as Body).sort(), ['code', 'detail'])
    t.equal(await app.tokens.findRefreshToken(jti), null, 'no refresh record claimed or created for it')
    t.equal((await me(app, `Bearer ${access}`)).statusCode, 200, 'the access token is untouched')
  })

  t.test('access as refresh on /jwt/blacklist/: refused, nothing blacklisted, the user\'s refresh token still works', async t => {
    const { app, access, refresh } = await setup({ jwt: { rotateRefreshTokens: true } })
    const jti = decodeJwt(access).payload.jti as string
    assertTokenNotValid(t, await post(app, '/jwt/blacklist/', { refresh: access }), 'access as refresh')
    t.equal(await app.tokens.findRefreshToken(jti), null, 'no blacklist record for the access jti')
    t.equal((await post(app, '/jwt/refresh/', { refresh })).statusCode, 200, 'the refresh token of the pair is untouched')
  })

  t.test('a hand-made access token with a refresh token\'s jti cannot blacklist that refresh token', async t => {
    const { app, id, refresh } = await setup()
    const forged = signHmac({ ...claims(id, 'access'), jti: decodeJwt(refresh).payload.jti }, SECRET)
    assertTokenNotValid(t, await post(app, '/jwt/blacklist/', { refresh: forged }), 'access with the refresh jti')
    t.equal((await post(app, '/jwt/refresh/', { refresh })).statusCode, 200, 'the refresh token still works')
  })
})

t.test('algorithm confusion with the public key as an HMAC secret', async t => {
  const keys = {
    ES256: generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: spki, privateKeyEncoding: pkcs8 }),
    EdDSA: generateKeyPairSync('ed25519', { publicKeyEncoding: spki, privateKeyEncoding: pkcs8 })
  }
  for (const [algorithm, pair] of Object.entries(keys) as Array<[keyof typeof keys, { publicKey: string, privateKey: string }]>) {
    t.test(`${algorithm}: HS256 (and HS512) signed with the public key PEM is refused on every route`, async t => {
      const { app, id, access } = await setup({ secretKey: LINK_SECRET, jwt: { algorithm, signingKey: pair.privateKey, verifyingKey: pair.publicKey } })
      t.equal(decodeJwt(access).header.alg, algorithm, 'the app signs with its algorithm')
      t.equal((await me(app, `Bearer ${access}`)).statusCode, 200, 'control: its own token works')
      for (const secret of [pair.publicKey, pair.publicKey.trim()]) {
        for (const alg of ['HS256', 'HS512'] as const) {
          await t.test(`${alg}${secret === pair.publicKey ? '' : ', trimmed PEM'}`, async t => {
            await assertRefusedEverywhere(t, app, signHmac(claims(id, 'access'), secret, alg), signHmac(claims(id, 'refresh'), secret, alg))
          })
        }
      }
    })
  }
})
