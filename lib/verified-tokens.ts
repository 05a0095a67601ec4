/** A verified JWT payload. */
type Claims = Record<string, unknown>

interface Entry {
  /**
   * A shallow copy of the payload that only this cache holds; every hit hands out a shallow copy of it, as a
   * full verification would decode a fresh object. Only payloads of primitive values are kept this way
   * (simplejwt's and ours always are); a payload with a nested value is kept as JSON, so no caller can reach
   * into the entry through a value it shares with it.
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
 * stays reached. Oldest out first when full (a few MB at most at the default size): a ring of the tokens in
 * the order they came, so an eviction is one array slot (a Map's oldest key, by its iterator, walks over the
 * slots its deletions left: a cost on every request of many-token traffic, where every token is new).
 */
export class VerifiedTokens {
  readonly #entries = new Map<string, Entry>()
  readonly #order: Array<string | undefined>
  #next = 0
  readonly #leewayMs: number

  constructor (leewaySeconds: number, size = 4096) {
    this.#leewayMs = leewaySeconds * 1000
    this.#order = new Array<string | undefined>(Math.max(1, size))
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
    // The slot's previous token goes (a no-op when it expired and went already, or came back since: a miss).
    const oldest = this.#order[this.#next]
    if (oldest !== undefined) this.#entries.delete(oldest)
    this.#order[this.#next] = token
    this.#next = (this.#next + 1) % this.#order.length
    const flat = isFlat(payload)
    this.#entries.set(token, {
      claims: flat ? { ...payload } : null,
      json: flat ? null : JSON.stringify(payload),
      until: payload.exp * 1000 + this.#leewayMs
    })
  }
}
