/** A verified JWT payload. */
type Claims = Record<string, unknown>

interface Entry {
  /**
   * The payload, frozen; every hit hands out a shallow copy, as a full verification would decode a fresh
   * object. Only payloads of primitive values are kept this way (simplejwt's and ours always are); a payload
   * with a nested value is kept as JSON, so no caller can reach into the entry through a copy.
   */
  claims: Readonly<Claims> | null
  json: string | null
  /** Last millisecond at which the token is still valid: `exp` plus the leeway, as the verifier counts. */
  until: number
}

/** Whether every value of `payload` is a primitive (a shallow copy of it then shares nothing mutable). */
function isFlat (payload: Claims): boolean {
  for (const key in payload) {
    const value = payload[key]
    if (typeof value === 'object' && value !== null) return false
  }
  return true
}

/**
 * Tokens that passed verification, by their exact text, until they expire. A client sends the same access
 * token with every request of its lifetime; the signature check and decoding (most of the cost of
 * authenticating) then run once per token. Only the outcome of a successful verification is kept, and only
 * while its one time-bound check (`exp` + leeway) still holds: the keys (and which kid names which),
 * algorithms, audience and issuer are fixed for the service that owns the cache, and `nbf` (once reached)
 * stays reached. Oldest out first when full (a few MB at most at the default size).
 */
export class VerifiedTokens {
  readonly #entries = new Map<string, Entry>()
  readonly #size: number
  readonly #leewayMs: number

  constructor (leewaySeconds: number, size = 4096) {
    this.#leewayMs = leewaySeconds * 1000
    this.#size = size
  }

  /** A fresh copy of the payload of `token`, verified before and not expired since; undefined otherwise. */
  get (token: string): Claims | undefined {
    const cached = this.#entries.get(token)
    if (cached === undefined) return undefined
    if (Date.now() <= cached.until) return cached.claims !== null ? { ...cached.claims } : JSON.parse(cached.json as string) as Claims
    this.#entries.delete(token)
    return undefined
  }

  /** Remembers a payload that just passed verification (one without a numeric `exp` is not kept). */
  remember (token: string, payload: Claims): void {
    if (typeof payload.exp !== 'number') return
    if (this.#entries.size >= this.#size) this.#entries.delete(this.#entries.keys().next().value as string)
    const flat = isFlat(payload)
    this.#entries.set(token, {
      claims: flat ? Object.freeze({ ...payload }) : null,
      json: flat ? null : JSON.stringify(payload),
      until: payload.exp * 1000 + this.#leewayMs
    })
  }
}
