/**
 * Lookups by key that arrive in the same turn of the event loop, answered by one query. Every authenticated
 * request loads its user; on a networked database each lookup is a round trip of its own (a write and a read
 * on a pooled connection, the driver's parsing of a row description), which costs the server more CPU than
 * the request it serves. Requests whose bytes arrive together are parsed in the same poll phase, so their
 * lookups queue here and go out as one `= any($1)` query in the check phase that follows (setImmediate): under
 * load, one round trip for many requests; alone, a lookup waits for nothing but the rest of its own turn.
 */
export class LookupBatch<K, V> {
  readonly #one: (key: K) => Promise<V | undefined>
  readonly #many: (keys: K[]) => Promise<Map<K, V>>
  readonly #copy: (value: V) => V
  #pending = new Map<K, Array<{ resolve: (value: V | undefined) => void, reject: (error: unknown) => void }>>()
  #scheduled = false

  /**
   * @param one the lookup of a single key (its own prepared statement, so a lone request pays no array)
   * @param many the lookup of several distinct keys at once, by key; a key it leaves out has no value
   * @param copy a value of its own for each further request of the same key (no request sees another's changes)
   */
  constructor (one: (key: K) => Promise<V | undefined>, many: (keys: K[]) => Promise<Map<K, V>>, copy: (value: V) => V) {
    this.#one = one
    this.#many = many
    this.#copy = copy
  }

  async load (key: K): Promise<V | undefined> {
    return await new Promise((resolve, reject) => {
      const waiting = this.#pending.get(key)
      if (waiting !== undefined) waiting.push({ resolve, reject })
      else this.#pending.set(key, [{ resolve, reject }])
      if (!this.#scheduled) {
        this.#scheduled = true
        setImmediate(() => { this.#flush() })
      }
    })
  }

  #flush (): void {
    const batch = this.#pending
    this.#pending = new Map()
    this.#scheduled = false
    const keys = [...batch.keys()]
    const answered = keys.length === 1
      ? this.#one(keys[0]).then((value) => new Map(value === undefined ? [] : [[keys[0], value]]))
      : this.#many(keys)
    answered.then((values) => {
      for (const [key, waiting] of batch) {
        const value = values.get(key)
        waiting.forEach((w, i) => { w.resolve(i === 0 || value === undefined ? value : this.#copy(value)) })
      }
    }, (error: unknown) => {
      for (const waiting of batch.values()) for (const w of waiting) w.reject(error)
    })
  }
}
