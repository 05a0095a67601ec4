import { createSigner, createVerifier } from 'fast-jwt'
import type { JwtAlgorithm, ResolvedJwtOptions } from './options.js'

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

/** Why the key ring refused a token before any key checked it; `code` follows fast-jwt's, as the dialects read those. */
class JwtHeaderError extends Error {
  readonly code: string
  constructor (code: 'FAST_JWT_INVALID_TYPE' | 'FAST_JWT_MISSING_KEY', message: string) {
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
 * ones chosen by `kid` (key rotation), each allowing exactly its own algorithm. fast-jwt's signers and
 * verifiers are built once per key and mode, never per request. A token whose header is byte for byte the
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
    this.#sign = createSigner(signer)
    this.#signWithoutIat = createSigner({ ...signer, noTimestamp: true })
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
