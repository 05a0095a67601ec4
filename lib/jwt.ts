import { createHmac, createSecretKey } from 'node:crypto'
import { createSigner, createVerifier } from 'fast-jwt'
import type { JwtAlgorithm, ResolvedJwtOptions } from './jwt-options.js'

/**
 * What a verification checks beyond the signature and the key's one algorithm (RFC 8725: `none` and HS/RS
 * confusion fail always). `all`: expiry, not-before, audience, issuer (simplejwt's tokens). `ignore-expiration`:
 * all but the expiry time (drf-jwt with verifyExpiration off; `exp` must still be there). `signature-only`: the caller checks the claims itself
 * (sanic-jwt, which applies PyJWT's rules and messages).
 */
export type VerifyMode = 'all' | 'ignore-expiration' | 'signature-only'

export interface SignOptions {
  /** Write `iat` (default true); drf-jwt's and some sanic-jwt tokens carry none. */
  issuedAt?: boolean
}

type Signer = (payload: Record<string, unknown>) => string
type Verifier = (token: string) => unknown

/** RFC 8725 3.11: a JWT's `typ`, when present, must say JWT (RFC 7519 5.1: `JWT`, or its media type, any case). */
const JWT_TYP = /^(?:application\/)?jwt$/i

/**
 * Why the key ring refused a token before any key checked it, or a payload before signing it; `code` follows
 * fast-jwt's, as the dialects read those.
 */
class JwtHeaderError extends Error {
  readonly code: string
  constructor (code: 'FAST_JWT_INVALID_TYPE' | 'FAST_JWT_MISSING_KEY' | 'FAST_JWT_INVALID_CLAIM_VALUE', message: string) {
    super(message)
    this.name = 'TokenError'
    this.code = code
  }
}

/** A token's JOSE header, read without verifying anything; null when it does not decode to an object. */
function headerOf (token: string): Record<string, unknown> | null {
  const dot = token.indexOf('.')
  if (dot <= 0) return null
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8'))
    return typeof header === 'object' && header !== null && !Array.isArray(header) ? header as Record<string, unknown> : null
  } catch {
    return null
  }
}

export type HmacAlgorithm = 'HS256' | 'HS384' | 'HS512'

export interface HmacSignerOptions {
  key: string
  algorithm: HmacAlgorithm
  /** Written in the header after `alg` and `typ`, as fast-jwt writes it. */
  kid?: string
  /** No `iat` (fast-jwt's `noTimestamp`): one given in the payload is dropped too. */
  noTimestamp?: boolean
}

/** fast-jwt's check of `exp` and `nbf` before signing: a truthy value must be a non-negative integer. */
function assertTimeClaim (payload: Record<string, unknown>, claim: 'exp' | 'nbf'): void {
  const value = payload[claim]
  if (value && (!Number.isInteger(value) || (value as number) < 0)) {
    throw new JwtHeaderError('FAST_JWT_INVALID_CLAIM_VALUE', `The ${claim} claim must be a positive integer.`)
  }
}

/**
 * The object fast-jwt builds and writes, key for key: the payload's claims in their order, then iat, exp, nbf
 * where the payload has none (an undefined value is left out of the JSON); a falsy exp or nbf is dropped.
 */
function claimsOf (payload: Record<string, unknown>, noTimestamp: boolean): Record<string, unknown> {
  const iat = payload.iat !== undefined ? (payload.iat as number) * 1000 : Date.now()
  return {
    ...payload,
    iat: noTimestamp ? undefined : Math.floor(iat / 1000),
    exp: payload.exp ? payload.exp : undefined,
    nbf: payload.nbf ? payload.nbf : undefined
  }
}

/**
 * Whether claimsOf(payload) would write the payload's own JSON: a plain object (no inherited claim or toJSON)
 * with a whole-second iat of its own and no falsy exp or nbf, as every token the plugin signs. Its copy (a
 * sixth of a signature's cost) is then skipped.
 */
function asWritten (payload: Record<string, unknown>): boolean {
  const proto: unknown = Object.getPrototypeOf(payload)
  if (proto !== Object.prototype && proto !== null) return false
  const { iat, exp, nbf } = payload
  return typeof iat === 'number' && Math.floor(iat * 1000 / 1000) === iat && (exp === undefined || Boolean(exp)) && (nbf === undefined || Boolean(nbf))
}

/**
 * An HS256/384/512 signer that writes, byte for byte, the token fast-jwt's `createSigner` writes for the same
 * key, algorithm, `kid` and payload (its header, its claim order, its `iat`/`exp`/`nbf` rules; checked by a
 * property test against fast-jwt), at less cost per token: the header is encoded once, not per token, and the
 * base64url comes from Buffer rather than a regex replace with a callback over each of the three parts.
 * Signing is on the path of every login and refresh; verification stays with fast-jwt.
 */
export function createHmacSigner (options: HmacSignerOptions): Signer {
  const { algorithm, noTimestamp = false } = options
  const hash = `sha${algorithm.slice(2)}`
  const secret = createSecretKey(Buffer.from(options.key, 'utf8'))
  const header = `${Buffer.from(JSON.stringify({ alg: algorithm, typ: 'JWT', kid: options.kid }), 'utf8').toString('base64url')}.`
  return function sign (payload) {
    if (payload === null || typeof payload !== 'object') throw new JwtHeaderError('FAST_JWT_INVALID_TYPE', 'The payload must be an object.')
    assertTimeClaim(payload, 'exp')
    assertTimeClaim(payload, 'nbf')
    const input = header + Buffer.from(JSON.stringify(noTimestamp || !asWritten(payload) ? claimsOf(payload, noTimestamp) : payload), 'utf8').toString('base64url')
    return `${input}.${createHmac(hash, secret).update(input).digest('base64url')}`
  }
}

/** One verifying key: a fast-jwt verifier per mode, each built once (on its first use) and reused. */
class VerifyingKey {
  readonly #verifiers = new Map<VerifyMode, Verifier>()
  readonly #key: string
  readonly #algorithm: JwtAlgorithm
  readonly #options: ResolvedJwtOptions

  constructor (key: string, algorithm: JwtAlgorithm, options: ResolvedJwtOptions) {
    this.#key = key
    this.#algorithm = algorithm
    this.#options = options
  }

  verify (token: string, mode: VerifyMode): unknown {
    let verifier = this.#verifiers.get(mode)
    if (verifier === undefined) {
      verifier = this.#build(mode)
      this.#verifiers.set(mode, verifier)
    }
    return verifier(token)
  }

  #build (mode: VerifyMode): Verifier {
    const o = this.#options
    const base = { key: this.#key, algorithms: [this.#algorithm] }
    if (mode === 'signature-only') {
      // `/^/` matches any audience or issuer string; only the claims' types are still checked by fast-jwt.
      return createVerifier({ ...base, ignoreExpiration: true, ignoreNotBefore: true, requiredClaims: [], allowedAud: /^/, allowedIss: /^/ })
    }
    return createVerifier({
      ...base,
      ...(o.audience === undefined ? {} : { allowedAud: o.audience }),
      ...(o.issuer === undefined ? {} : { allowedIss: o.issuer }),
      clockTolerance: o.leeway * 1000,
      // fast-jwt skips aud/iss checks when the claim is absent; PyJWT (simplejwt) requires them.
      requiredClaims: [
        'exp',
        ...(o.audience === undefined ? [] : ['aud']),
        ...(o.issuer === undefined ? [] : ['iss'])
      ],
      ignoreExpiration: mode === 'ignore-expiration'
    })
  }
}

/**
 * The signing key (its `kid` in every header it writes) and the verifying keys: the current one and older
 * ones chosen by `kid` (key rotation), each allowing exactly its own algorithm. Signers (fast-jwt's, or for
 * HS* createHmacSigner) and fast-jwt's verifiers are built once per key and mode, never per request. A token whose header is byte for byte the
 * one this ring writes goes straight to the current key; any other header is read first: a `typ` other than
 * JWT is refused, a `kid` names the key (an unknown one is refused), no `kid` means the current key.
 */
export class JwtKeyRing {
  readonly #sign: Signer
  readonly #signWithoutIat: Signer
  readonly #current: VerifyingKey
  readonly #currentKid: string | undefined
  readonly #previous: ReadonlyMap<string, VerifyingKey>
  /** The encoded header (and its dot) of every token the current key signs. */
  readonly #ownHeader: string

  constructor (options: ResolvedJwtOptions) {
    const symmetric = options.algorithm.startsWith('HS')
    const signer = { key: options.signingKey, algorithm: options.algorithm, ...(options.signingKid === undefined ? {} : { kid: options.signingKid }) }
    if (symmetric) {
      // The same tokens as fast-jwt's signer, for less CPU per token (see createHmacSigner).
      const hmac = { ...signer, algorithm: options.algorithm as HmacAlgorithm }
      this.#sign = createHmacSigner(hmac)
      this.#signWithoutIat = createHmacSigner({ ...hmac, noTimestamp: true })
    } else {
      this.#sign = createSigner(signer)
      this.#signWithoutIat = createSigner({ ...signer, noTimestamp: true })
    }
    this.#current = new VerifyingKey(symmetric ? options.signingKey : options.verifyingKey as string, options.algorithm, options)
    this.#currentKid = options.signingKid
    this.#previous = new Map(options.verifyingKeys.map(({ kid, key, algorithm }) => [kid, new VerifyingKey(key, algorithm, options)]))
    this.#ownHeader = `${this.#signWithoutIat({}).split('.')[0]}.`
  }

  /** A token of `payload`, signed with the current key (and its `kid`); `iat` is added unless `issuedAt: false`. */
  sign (payload: Record<string, unknown>, options: SignOptions = {}): string {
    return options.issuedAt === false ? this.#signWithoutIat(payload) : this.#sign(payload)
  }

  /** The verified payload, checked with the key the header names; throws fast-jwt's TokenError (with its `code`). */
  verify (token: string, mode: VerifyMode = 'all'): unknown {
    return this.#keyFor(token).verify(token, mode)
  }

  #keyFor (token: string): VerifyingKey {
    if (token.startsWith(this.#ownHeader)) return this.#current
    const header = headerOf(token)
    // Undecodable: the current verifier refuses it with fast-jwt's own error.
    if (header === null) return this.#current
    const { typ, kid } = header
    if (typ !== undefined && (typeof typ !== 'string' || !JWT_TYP.test(typ))) throw new JwtHeaderError('FAST_JWT_INVALID_TYPE', 'Invalid typ.')
    if (kid === undefined || kid === this.#currentKid) return this.#current
    const key = typeof kid === 'string' ? this.#previous.get(kid) : undefined
    if (key === undefined) throw new JwtHeaderError('FAST_JWT_MISSING_KEY', 'No key has this kid.')
    return key
  }
}
