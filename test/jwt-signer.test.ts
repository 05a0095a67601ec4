// The HS256/384/512 signer on node:crypto (lib/jwt.ts createHmacSigner) against fast-jwt's: for the same key,
// algorithm, kid and claims it must write the same bytes, and fast-jwt's verifier must accept what it writes.
// The tokens' claims come from fast-check: unicode text, nested objects and arrays, numbers of every kind,
// and the registered time claims (iat, exp, nbf) present, absent, zero or invalid.
import fc from 'fast-check'
import { createSigner, createVerifier } from 'fast-jwt'
import t from 'tap'
import { createHmacSigner, JwtKeyRing, type HmacAlgorithm } from '../lib/jwt.js'
import { resolveOptions } from '../lib/options.js'

type Payload = Record<string, unknown>

const ALGORITHMS: HmacAlgorithm[] = ['HS256', 'HS384', 'HS512']
/** Keys long enough for each algorithm (RFC 7518 3.2: at least the hash's size), some of them not ASCII. */
const KEYS = ['k'.repeat(64), 'clé-secrète-€-🔑-'.repeat(5), '0123456789abcdef'.repeat(4)]
const NOW = Date.UTC(2026, 11, 7, 2, 0, 0, 456)
const RUNS = 300

/** Both signers read the clock when the payload has no iat: one fixed instant, so a second boundary cannot split them. */
function withFixedClock<T> (run: () => T): T {
  const realNow = Date.now
  Date.now = () => NOW
  try {
    return run()
  } finally {
    Date.now = realNow
  }
}

/** The outcome of a signer: its token, or the code of the error it threw. */
function outcome (sign: () => string): { token: string } | { error: string } {
  try {
    return { token: sign() }
  } catch (error) {
    return { error: String((error as { code?: unknown }).code) }
  }
}

const text = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }))
/** Numbers JSON writes in every way it can: integers, fractions, -0, huge, tiny, NaN and ±Infinity (as null). */
const number = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -0, 1e21, 5e-324, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2))
const value = fc.letrec((tie) => ({
  leaf: fc.oneof(text, number, fc.boolean(), fc.constant(null)),
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    tie('leaf'),
    fc.array(tie('node'), { maxLength: 4 }),
    fc.dictionary(text, tie('node'), { maxKeys: 4 }))
})).node
/** A registered time claim: absent, a plausible second, zero (dropped by both), or invalid (refused by both). */
const timeClaim = fc.option(fc.oneof(
  fc.integer({ min: 0, max: 4_102_444_800 }),
  fc.constant(0),
  fc.constantFrom(-1, 1.5, '1700000000', true)
), { nil: undefined })

const payload: fc.Arbitrary<Payload> = fc.record({
  claims: fc.dictionary(text, value, { maxKeys: 8 }),
  // Keys that look like array indices: JavaScript orders them first in an object, whoever builds it.
  indexed: fc.dictionary(fc.nat({ max: 20 }).map(String), value, { maxKeys: 2 }),
  iat: timeClaim,
  exp: timeClaim,
  nbf: timeClaim
}).map(({ claims, indexed, iat, exp, nbf }) => {
  const out: Payload = { ...claims, ...indexed }
  // Like simplejwt's claims, the time claims sit among the others, not always last.
  if (exp !== undefined) out.exp = exp
  if (iat !== undefined) out.iat = iat
  if (nbf !== undefined) out.nbf = nbf
  return out
})

const signerOptions = fc.record({
  algorithm: fc.constantFrom(...ALGORITHMS),
  key: fc.constantFrom(...KEYS),
  kid: fc.option(fc.oneof(text, fc.constantFrom('2026-12', 'kid-€')), { nil: undefined }),
  noTimestamp: fc.boolean()
})

t.test('byte-identical to fast-jwt for the same key, algorithm, kid and claims', async t => {
  let signed = 0
  let refused = 0
  fc.assert(fc.property(signerOptions, payload, (options, claims) => {
    const fast = createSigner({ key: options.key, algorithm: options.algorithm, noTimestamp: options.noTimestamp, ...(options.kid === undefined ? {} : { kid: options.kid }) })
    const ours = createHmacSigner(options)
    const expected = withFixedClock(() => outcome(() => fast({ ...claims })))
    const actual = withFixedClock(() => outcome(() => ours({ ...claims })))
    if ('token' in expected) signed++
    else refused++
    return JSON.stringify(actual) === JSON.stringify(expected)
  }), { numRuns: RUNS })
  t.pass(`${RUNS} payloads: the same token or the same refusal`)
  t.ok(signed > RUNS / 4, `many payloads were signed (${signed})`)
  t.ok(refused > 0, `some were refused by both for an invalid exp or nbf (${refused})`)
})

t.test("fast-jwt's verifier accepts every token the signer writes, and reads back the claims", async t => {
  fc.assert(fc.property(signerOptions, payload, (options, claims) => {
    const ours = createHmacSigner(options)
    const result = withFixedClock(() => outcome(() => ours({ ...claims })))
    if (!('token' in result)) return true
    const verify = createVerifier({ key: options.key, algorithms: [options.algorithm], ignoreExpiration: true, ignoreNotBefore: true, complete: true })
    const decoded = verify(result.token) as { header: Payload, payload: Payload }
    const expectedHeader = { alg: options.algorithm, typ: 'JWT', ...(options.kid === undefined ? {} : { kid: options.kid }) }
    const [, body] = result.token.split('.')
    return JSON.stringify(decoded.header) === JSON.stringify(expectedHeader) &&
      JSON.stringify(decoded.payload) === Buffer.from(body, 'base64url').toString('utf8')
  }), { numRuns: RUNS })
  t.pass(`${RUNS} tokens verified`)
})

t.test('the registered claims: iat added, kept, or left out as fast-jwt does', async t => {
  const sign = createHmacSigner({ key: KEYS[0], algorithm: 'HS256' })
  const bare = createHmacSigner({ key: KEYS[0], algorithm: 'HS256', noTimestamp: true })
  const claimsOf = (token: string): Payload => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as Payload
  const at = withFixedClock(() => claimsOf(sign({ user_id: 1, exp: 2_000_000_000 })))
  t.same(Object.keys(at), ['user_id', 'exp', 'iat'], 'iat is appended after the claims')
  t.equal(at.iat, Math.floor(NOW / 1000), 'iat is the current second')
  t.equal(claimsOf(sign({ iat: 1_700_000_000, user_id: 1 })).iat, 1_700_000_000, 'a given iat stays, in its place')
  t.notOk('iat' in claimsOf(bare({ iat: 1_700_000_000, user_id: 1 })), 'noTimestamp drops iat, even a given one')
  t.notOk('exp' in claimsOf(sign({ user_id: 1, exp: 0 })), 'exp 0 is left out (fast-jwt treats it as unset)')
})

t.test('payloads beyond plain JSON objects: inherited claims and toJSON, fractional iat, falsy claims', async t => {
  const fast = createSigner({ key: KEYS[2], algorithm: 'HS384', kid: 'k1' })
  const ours = createHmacSigner({ key: KEYS[2], algorithm: 'HS384', kid: 'k1' })
  class Claims { constructor (readonly user_id: number, readonly iat: number) {} toJSON (): unknown { return { replaced: true } } }
  const inherited = Object.assign(Object.create({ exp: 1_900_000_000, nbf: 5, toJSON: () => 'x' }) as Payload, { iat: 1_700_000_000, user_id: 1 })
  const cases: Array<[string, Payload]> = [
    ['a class instance with toJSON', new Claims(1, 1_700_000_000) as unknown as Payload],
    ['claims and toJSON inherited from a prototype', inherited],
    ['a null-prototype object', Object.assign(Object.create(null) as Payload, { iat: 1_700_000_000, user_id: 1, exp: 1_900_000_000 })],
    ['a fractional iat', { user_id: 1, iat: 1_700_000_000.75 }],
    ['an iat given as text', { user_id: 1, iat: '1700000000' }],
    ['exp 0 and nbf null', { iat: 1_700_000_000, exp: 0, nbf: null, user_id: 1 }],
    ['undefined claims', { iat: 1_700_000_000, exp: undefined, user_id: undefined, sub: 'x' }]
  ]
  for (const [what, claims] of cases) {
    t.equal(withFixedClock(() => ours(claims)), withFixedClock(() => fast(claims)), what)
  }
})

t.test('refusals: what fast-jwt refuses, with its error codes', async t => {
  const sign = createHmacSigner({ key: KEYS[0], algorithm: 'HS512' })
  for (const [what, payloadOf] of [
    ['exp 1.5', { exp: 1.5 }], ['exp -1', { exp: -1 }], ['exp as text', { exp: '1700000000' }], ['nbf true', { nbf: true }]
  ] as const) {
    t.throws(() => sign(payloadOf), { code: 'FAST_JWT_INVALID_CLAIM_VALUE' }, what)
  }
  t.throws(() => sign(null as unknown as Payload), { code: 'FAST_JWT_INVALID_TYPE' }, 'null payload')
  t.throws(() => sign('claims' as unknown as Payload), { code: 'FAST_JWT_INVALID_TYPE' }, 'a string payload')
})

t.test('the key ring signs HS* with it (same bytes as fast-jwt) and still verifies with fast-jwt', async t => {
  for (const algorithm of ALGORITHMS) {
    const options = resolveOptions({ jwt: { signingKey: KEYS[1], algorithm, signingKid: 'current' } }).jwt
    const ring = new JwtKeyRing(options)
    const fast = createSigner({ key: KEYS[1], algorithm, kid: 'current' })
    const claims = { user_id: 7, token_type: 'access', exp: Math.floor(NOW / 1000) + 300, jti: 'a'.repeat(32), name: 'Zoë 🦊' }
    const token = withFixedClock(() => ring.sign(claims))
    t.equal(token, withFixedClock(() => fast(claims)), `${algorithm}: the same token as fast-jwt`)
    t.equal(withFixedClock(() => ring.sign(claims, { issuedAt: false })), withFixedClock(() => createSigner({ key: KEYS[1], algorithm, kid: 'current', noTimestamp: true })(claims)),
      `${algorithm}: without iat, the same token as fast-jwt's noTimestamp`)
    t.match(withFixedClock(() => ring.verify(token, 'signature-only')), { user_id: 7, name: 'Zoë 🦊' }, `${algorithm}: the ring verifies it`)
    const forged = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`
    t.throws(() => ring.verify(forged, 'signature-only'), { code: 'FAST_JWT_INVALID_SIGNATURE' }, `${algorithm}: a changed signature is refused`)
  }
})
