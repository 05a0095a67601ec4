import { createPublicKey } from 'node:crypto'
import { Type, type Static } from '@sinclair/typebox'
import { OptionsError } from './errors.js'
import { expect, Flag, Matching, OneOf, Seconds } from './option-checks.js'

/*
 * The `jwt` option group: its schema (composed into CoreOptionsSchema by lib/options.ts) and the checks of
 * its keys that no schema can say (a PEM key's type, an HMAC key's length, the kids of key rotation).
 */

export type JwtAlgorithm =
  | 'HS256' | 'HS384' | 'HS512'
  | 'RS256' | 'RS384' | 'RS512'
  | 'PS256' | 'PS384' | 'PS512'
  | 'ES256' | 'ES384' | 'ES512'
  | 'EdDSA'

// The values of the type, each once: `satisfies` keeps every one listed.
const ALGORITHMS = Object.keys({
  HS256: 1, HS384: 1, HS512: 1, RS256: 1, RS384: 1, RS512: 1, PS256: 1, PS384: 1, PS512: 1, ES256: 1, ES384: 1, ES512: 1, EdDSA: 1
} satisfies Record<JwtAlgorithm, 1>) as JwtAlgorithm[]

const Algorithm = (options: { default?: string, description: string }) =>
  OneOf<JwtAlgorithm>(ALGORITHMS, { errorMessage: `must be one of ${ALGORITHMS.join(', ')}`, ...options })

/** A word of the Authorization header (`Bearer`, `JWT`). */
const HEADER_WORD = /^[A-Za-z][\w-]*$/

const VerifyingKeySchema = Type.Object({
  kid: Type.String({ minLength: 1, description: 'The `kid` header of the tokens this key signed (the `signingKid` it had while it was the signing key).' }),
  key: Type.String({ minLength: 1, description: 'HMAC secret (HS*) or PEM public key (RS*, PS*, ES*, EdDSA).' }),
  algorithm: Type.Optional(Algorithm({ description: 'Its algorithm; default `jwt.algorithm`.' }))
}, { additionalProperties: false })

/** simplejwt's SIMPLE_JWT settings, camelCased. Lifetimes and leeway are in seconds. */
export const JwtOptionsSchema = Type.Object({
  signingKey: Type.String({ minLength: 1, description: 'HMAC secret (HS*) or PEM private key (RS*, PS*, ES*, EdDSA).' }),
  verifyingKey: Type.Optional(Type.String({ minLength: 1, description: 'PEM public key: required with RS*, PS*, ES* and EdDSA, not allowed with HS*.' })),
  signingKid: Type.Optional(Type.String({
    minLength: 1,
    errorMessage: 'must be a non-empty string (the kid header of new tokens)',
    description: 'The `kid` header of new tokens, naming `signingKey` (and `verifyingKey`); tokens without a `kid` are checked with this key too.'
  })),
  verifyingKeys: Type.Optional(Type.Array(VerifyingKeySchema, {
    default: [],
    description: 'Older keys `{ kid, key, algorithm? }` that still verify the tokens they signed, chosen by the `kid` of a token\'s header, ' +
      'until those expire (key rotation; needs `signingKid`). A token with an unknown `kid` is refused.'
  })),
  algorithm: Type.Optional(Algorithm({ default: 'HS256', description: 'The signing algorithm (RFC 8725: tokens are verified with exactly this one per key).' })),
  accessTokenLifetime: Type.Optional(Seconds(1, { default: 300, description: 'Lifetime of an access token, seconds.' })),
  refreshTokenLifetime: Type.Optional(Seconds(1, { default: 86400, description: 'Lifetime of a refresh token, seconds.' })),
  sessionLifetime: Type.Optional(Seconds(1, {
    default: 2592000,
    description: 'Absolute lifetime of a session (a rotation family), seconds from its login (30 days): a refresh after it is 401 whatever the ' +
      "refresh token's own expiry, and a rotated refresh token never expires after it (beyond simplejwt; ASVS 3.3.2)."
  })),
  rotateRefreshTokens: Type.Optional(Flag(false, 'Refresh also returns a new refresh token.')),
  blacklistAfterRotation: Type.Optional(Flag(false, 'The rotated-out refresh token is blacklisted.')),
  updateLastLogin: Type.Optional(Flag(false, '`jwt/create` records the last login (token login always does, as Django).')),
  audience: Type.Optional(Type.String({ minLength: 1, description: 'Written as `aud` and required on verification.' })),
  issuer: Type.Optional(Type.String({ minLength: 1, description: 'Written as `iss` and required on verification.' })),
  leeway: Type.Optional(Seconds(0, { default: 0, description: 'Clock skew allowed on `exp`, seconds.' })),
  authHeaderTypes: Type.Optional(Type.Array(Matching(HEADER_WORD, { errorMessage: 'must be a word such as "Bearer" or "JWT"' }), {
    minItems: 1,
    default: ['Bearer'],
    errorMessage: 'must be a non-empty array of words such as ["Bearer"] or ["JWT"]',
    description: 'The `Authorization` schemes accepted for JWTs (not `Token`: that is the opaque token scheme).'
  })),
  userIdClaim: Type.Optional(Type.String({ minLength: 1, default: 'user_id', description: 'Claim holding the user id.' })),
  tokenTypeClaim: Type.Optional(Type.String({ minLength: 1, default: 'token_type', description: 'Claim holding the token type (`access`, `refresh`).' })),
  jtiClaim: Type.Optional(Type.String({ minLength: 1, default: 'jti', description: 'Claim holding the token id.' })),
  refreshReuseDetection: Type.Optional(Flag(true, 'With rotation, a rotated-out refresh token used again revokes every token of its rotation family (beyond simplejwt).')),
  refreshReuseInterval: Type.Optional(Seconds(0, {
    default: 10,
    description: 'Seconds after its rotation during which a rotated-out refresh token presented again is only refused (401), not taken for ' +
      'reuse: two tabs refreshing at once do not log the user out. 0: any reuse revokes.'
  }))
}, { additionalProperties: false, description: "simplejwt's SIMPLE_JWT settings, camelCased." })

/** A key that no longer signs but still verifies the tokens it signed, until they expire (key rotation). */
export type VerifyingKey = Static<typeof VerifyingKeySchema>
export type JwtOptions = Static<typeof JwtOptionsSchema>

export type ResolvedJwtOptions = Required<Omit<JwtOptions, 'verifyingKey' | 'signingKid' | 'audience' | 'issuer' | 'verifyingKeys'>> &
  Pick<JwtOptions, 'verifyingKey' | 'signingKid' | 'audience' | 'issuer'> &
  { verifyingKeys: Array<Required<VerifyingKey>> }

/** The key type (node:crypto's asymmetricKeyType) each asymmetric algorithm family verifies with. */
const KEY_TYPES: Record<string, readonly string[]> = { RS: ['rsa'], PS: ['rsa', 'rsa-pss'], ES: ['ec'], Ed: ['ed25519', 'ed448'] }

/**
 * RFC 7518 3.2: an HMAC key at least as long as the hash output (ASVS 3.5.3, 6.2.x). Older keys in
 * jwt.verifyingKeys are not held to it: refusing them would stop a deployment rotating away from a weak key.
 */
const HMAC_KEY_BYTES = { HS256: 32, HS384: 48, HS512: 64 } as const

/**
 * The jwt keys checked at registration: the signing key (and verifying key) fit the algorithm, the header words
 * leave `Token` to the opaque tokens, and jwt.verifyingKeys (each with its algorithm filled in) are usable.
 */
export function resolveJwtKeys (jwt: ResolvedJwtOptions): void {
  checkJwtKeys(jwt)
  jwt.verifyingKeys = resolveVerifyingKeys(jwt)
}

function checkJwtKeys (jwt: ResolvedJwtOptions): void {
  if (jwt.algorithm.startsWith('HS')) {
    expect(jwt.verifyingKey === undefined, `jwt.verifyingKey is only for asymmetric algorithms, not ${jwt.algorithm}`)
    expect(!jwt.signingKey.includes('-----BEGIN'), `jwt.signingKey looks like a PEM key, but ${jwt.algorithm} wants a shared secret`)
    expectKeyLength('jwt.signingKey', jwt.signingKey, HMAC_KEY_BYTES[jwt.algorithm as keyof typeof HMAC_KEY_BYTES], jwt.algorithm)
  } else {
    expect(jwt.verifyingKey?.includes('-----BEGIN') === true, `jwt.verifyingKey (a PEM public key) is required with ${jwt.algorithm}`)
    expect(jwt.signingKey.includes('-----BEGIN'), `jwt.signingKey must be a PEM private key with ${jwt.algorithm}`)
  }
  expect(!jwt.authHeaderTypes.some((type) => type.toLowerCase() === 'token'), 'jwt.authHeaderTypes cannot include "Token": it is the opaque token scheme')
}

/** An HMAC key (a JWT's, or the mailed links' secretKey) of at least `bytes` bytes. */
export function expectKeyLength (name: string, key: string, bytes: number, use: string): void {
  const length = Buffer.byteLength(key)
  expect(length >= bytes, `${name} must be at least ${bytes} bytes for ${use} (RFC 7518 3.2: as long as the hash), not ${length}; ` +
    `generate one with: node -e "console.log(require('node:crypto').randomBytes(${bytes}).toString('base64url'))"`)
}

/** jwt.verifyingKeys: each old key named once, apart from the current one, and usable for its algorithm. */
function resolveVerifyingKeys (jwt: ResolvedJwtOptions): Array<Required<VerifyingKey>> {
  expect(jwt.verifyingKeys.length === 0 || jwt.signingKid !== undefined,
    'jwt.verifyingKeys needs jwt.signingKid: new tokens must name their key, or they stop verifying at the next rotation')
  const seen = new Set<string>()
  return jwt.verifyingKeys.map(({ kid, key, algorithm = jwt.algorithm }, i) => {
    const at = `jwt.verifyingKeys[${i}]`
    expect(kid !== jwt.signingKid, `${at}.kid "${kid}" is jwt.signingKid: list only older keys (the current one is jwt.signingKey)`)
    expect(!seen.has(kid), `${at}.kid "${kid}" is listed twice`)
    seen.add(kid)
    if (algorithm.startsWith('HS')) {
      expect(!key.includes('-----BEGIN'), `${at}.key looks like a PEM key, but ${algorithm} wants the old shared secret`)
    } else {
      expect(!key.includes('PRIVATE KEY'), `${at}.key is a private key: give its PEM public key`)
      let type: string | undefined
      try {
        type = createPublicKey(key).asymmetricKeyType
      } catch {
        throw new OptionsError(`${at}.key must be a PEM public key with ${algorithm}`)
      }
      expect(type !== undefined && KEY_TYPES[algorithm.slice(0, 2)].includes(type), `${at}.key is an ${String(type)} key, which cannot verify ${algorithm}`)
    }
    return { kid, key, algorithm }
  })
}
