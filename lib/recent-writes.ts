import { fingerprint, setStart, slotOf } from './fingerprint.js'

/**
 * The ids (sessions) this process wrote a last use for within the last `intervalMs`: a refresh asks it before
 * it asks the store for a write the store would skip anyway (a session's last use is stored at most once per
 * interval), so a session refreshed again and again costs no write transaction (on SQLite ~10 µs of server CPU
 * per refresh, bench/README.md "fourth pass"). The store's own bound stays: another process, or an entry this
 * table lost, only costs one write that the store turns down.
 *
 * Fingerprints and times in typed arrays (allocated on first use: 384 KB), two slots per set, the older one replaced:
 * nothing a collector walks, whatever the number of sessions. A fingerprint is 32 bits: a session is skipped
 * wrongly only when another one of the same set had the same fingerprint within the interval (harmless: its
 * last use is then shown up to one interval late).
 */
export class RecentWrites {
  readonly #intervalMs: number
  readonly #sets: number
  #prints: Int32Array | null = null
  #times: Float64Array | null = null

  /** `sets`: a power of two (two sessions each). */
  constructor (intervalMs: number, sets = 16_384) {
    this.#intervalMs = intervalMs
    this.#sets = sets
  }

  /** Whether a write for `id` at `now` (ms) is due, none being noted within the interval; when due, it is noted. */
  due (id: string, now: number): boolean {
    if (this.#prints === null || this.#times === null) {
      this.#prints = new Int32Array(this.#sets * 2)
      this.#times = new Float64Array(this.#sets * 2)
    }
    const prints = this.#prints
    const times = this.#times
    const print = fingerprint(id)
    let slot = slotOf(prints, print)
    if (slot !== -1) {
      const age = now - times[slot]
      // A clock set back is not a reason to skip.
      if (age >= 0 && age < this.#intervalMs) return false
    } else {
      const first = setStart(prints, print)
      slot = times[first] <= times[first + 1] ? first : first + 1
      prints[slot] = print
    }
    times[slot] = now
    return true
  }

  /** Forgets `id` (its write failed), so its next use writes again. */
  forget (id: string): void {
    if (this.#prints === null || this.#times === null) return
    const slot = slotOf(this.#prints, fingerprint(id))
    if (slot === -1) return
    this.#prints[slot] = 0
    this.#times[slot] = 0
  }
}
