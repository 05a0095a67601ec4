import { fingerprint, setStart, slotOf } from './fingerprint.js'

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
 * authenticating) then run once or twice per token. Only the outcome of a successful verification is kept, and only
 * while its one time-bound check (`exp` + leeway) still holds: the keys (and which kid names which),
 * algorithms, audience and issuer are fixed for the service that owns the cache, and `nbf` (once reached)
 * stays reached. Oldest out first when full (a few MB at most at the default size): a ring of the tokens in
 * the order they came, so an eviction is one array slot (a Map's oldest key, by its iterator, walks over the
 * slots its deletions left: a cost on every request of many-token traffic, where every token is new).
 *
 * A token is kept from its second verification on, not its first (a doorkeeper, as TinyLFU admits entries):
 * keeping an entry costs every new token (bench/README.md: ~3-4 µs of server CPU per request, the entry
 * outliving young-generation collections), and a token that does not come back before `size` other new
 * tokens were seen would have been evicted unused anyway. First sights leave only a fingerprint in a typed
 * array, forgotten wholesale after `size` of them; so traffic of tokens seen once pays nothing to the cache, and a
 * burst of them does not push out the tokens that clients keep sending. Fingerprints are 32 bits: a token is kept
 * on its first sight only when another of the window had the same one (harmless: entries are keyed by the exact
 * token), and two tokens whose fingerprints share a slot take it from each other, which only delays their admission.
 */
export class VerifiedTokens {
  readonly #entries = new Map<string, Entry>()
  readonly #order: Array<string | undefined>
  #next = 0
  readonly #leewayMs: number
  /** Fingerprints of tokens verified once in the current window, by their low bits. */
  readonly #seen: Int32Array
  #firstSights = 0
  /**
   * Fingerprints of the kept tokens, two slots per set: a token whose fingerprint is not here is a miss without
   * the Map's lookup, which hashes the whole token (~0.35 µs for a new one, every request of many-token traffic).
   * Three kept tokens of one set (rare at four sets per entry) take slots from each other: the one left out is a
   * miss, verified again and kept again, never a wrong hit (the Map is keyed by the exact token).
   */
  readonly #kept: Int32Array

  constructor (leewaySeconds: number, size = 4096) {
    this.#leewayMs = leewaySeconds * 1000
    this.#order = new Array<string | undefined>(Math.max(1, size))
    // Eight slots per first sight of a window (128 KB at the default size): two tokens of one window share a
    // slot rarely, and the one that loses its slot is only admitted a sight later.
    this.#seen = new Int32Array(2 ** Math.ceil(Math.log2(Math.max(2, size * 8))))
    this.#kept = new Int32Array(this.#seen.length)
  }

  /** A fresh copy of the payload of `token`, verified before and not expired since; undefined otherwise. */
  get (token: string): Claims | undefined {
    if (slotOf(this.#kept, fingerprint(token)) === -1) return undefined
    const cached = this.#entries.get(token)
    if (cached === undefined) return undefined
    if (Date.now() <= cached.until) return cached.claims !== null ? { ...cached.claims } : JSON.parse(cached.json as string) as Claims
    this.#forget(token)
    return undefined
  }

  /**
   * Remembers a payload that just passed verification, if its token passed before within the window (one
   * without a numeric `exp` is never kept).
   */
  remember (token: string, payload: Claims): void {
    if (typeof payload.exp !== 'number') return
    const print = fingerprint(token)
    if (!this.#seenBefore(print)) return
    // Kept already, its fingerprint left out of its set by two others: back in, the entry as it is.
    if (this.#entries.has(token)) {
      this.#keep(print)
      return
    }
    // The slot's previous token goes (a no-op when it expired and went already).
    const oldest = this.#order[this.#next]
    if (oldest !== undefined) this.#forget(oldest)
    this.#keep(print)
    this.#order[this.#next] = token
    this.#next = (this.#next + 1) % this.#order.length
    const flat = isFlat(payload)
    this.#entries.set(token, {
      claims: flat ? { ...payload } : null,
      json: flat ? null : JSON.stringify(payload),
      until: payload.exp * 1000 + this.#leewayMs
    })
  }

  /** Notes a kept token's fingerprint in its set: in an empty slot, else in place of the set's first one. */
  #keep (print: number): void {
    if (slotOf(this.#kept, print) !== -1) return
    const first = setStart(this.#kept, print)
    if (this.#kept[first] === 0) this.#kept[first] = print
    else if (this.#kept[first + 1] === 0) this.#kept[first + 1] = print
    else {
      // Both taken: the first slot's fingerprint goes (the older one, unless a slot was freed in between).
      this.#kept[first] = this.#kept[first + 1]
      this.#kept[first + 1] = print
    }
  }

  /** Drops a token's entry and its fingerprint. */
  #forget (token: string): void {
    if (!this.#entries.delete(token)) return
    const slot = slotOf(this.#kept, fingerprint(token))
    if (slot !== -1) this.#kept[slot] = 0
  }

  /** Whether a token (its fingerprint) was verified before in this window; if not, notes it (a collision only admits a token early). */
  #seenBefore (print: number): boolean {
    const slot = print & (this.#seen.length - 1)
    if (this.#seen[slot] === print) return true
    if (this.#firstSights >= this.#order.length) {
      this.#seen.fill(0)
      this.#firstSights = 0
    }
    this.#seen[slot] = print
    this.#firstSights++
    return false
  }
}
