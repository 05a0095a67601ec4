import assert from 'node:assert/strict'
import { test as nodeTest } from 'node:test'
import type { TestContext, TestOptions } from 'node:test'
import { storeContract } from './store-contract.js'
import type { ContractStores, ContractTest } from './store-contract.js'

type Declare = (name: string, options: TestOptions, fn: (ctx: TestContext) => Promise<void>) => Promise<void>

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && Object.prototype.toString.call(value) === '[object Object]'

/**
 * A copy of `value` in which every object that is a record (a plain object, a class instance, a
 * null-prototype object: anything `Object.prototype.toString` calls `[object Object]`) is a plain object
 * of its own enumerable string keys. Arrays are copied element by element; anything else (primitives,
 * Dates, Maps, …) is kept as is. `assert.deepStrictEqual` on such copies compares data and ignores
 * prototypes, as tap's `same` does, while staying strict about primitives (1 is not '1', null is not
 * undefined, 0 is not false) and about keys (a key holding undefined is not a missing key).
 */
function plain (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain)
  if (!isRecord(value)) return value
  const copy: Record<string, unknown> = {}
  for (const key of Object.keys(value)) copy[key] = plain(value[key])
  return copy
}

/**
 * The part of `found` that `pattern` speaks about: where the pattern is a record, only its keys, read from
 * `found` (missing ones as undefined) and projected recursively; anywhere else, all of `found`.
 * `assert.deepStrictEqual(project(found, pattern), plain(pattern))` is then a partial deep strict match
 * (Node 22's `assert.partialDeepStrictEqual`, which Node 20 lacks, for records), with a readable diff.
 */
function project (found: unknown, pattern: unknown): unknown {
  if (!isRecord(pattern) || typeof found !== 'object' || found === null) return plain(found)
  const source = found as Record<string, unknown>
  const picked: Record<string, unknown> = {}
  for (const key of Object.keys(pattern)) picked[key] = project(source[key], pattern[key])
  return picked
}

/** A ContractTest over a node:test context (or, for the root, over the top-level `test`). */
class NodeContractTest implements ContractTest {
  readonly #declare: Declare
  readonly #subtests: Array<Promise<void>> = []
  readonly #teardowns: Array<() => unknown> = []

  constructor (declare: Declare) {
    this.#declare = declare
  }

  /** Runs `fn` as the body of a node:test test: then its subtests, then its teardowns (even on failure). */
  static async run (ctx: TestContext, fn: (t: ContractTest) => Promise<void>): Promise<void> {
    const t = new NodeContractTest(async (name, options, body) => { await ctx.test(name, options, body) })
    let failure: { error: unknown } | null = null
    try {
      await fn(t)
    } catch (error) {
      failure = { error }
    }
    await t.settled()
    for (const teardown of t.#teardowns) {
      try {
        await teardown()
      } catch (error) {
        failure ??= { error }
      }
    }
    if (failure !== null) throw failure.error
  }

  /** Resolves once every subtest declared so far is over (node:test reports their failures itself). */
  async settled (): Promise<void> {
    await Promise.allSettled(this.#subtests)
  }

  test (name: string, fn: (t: ContractTest) => Promise<void>): Promise<void> {
    // concurrency 1: the subtests of this one run one after another, as tap runs them.
    const done = this.#declare(name, { concurrency: 1 }, async (ctx) => { await NodeContractTest.run(ctx, fn) })
    this.#subtests.push(done)
    return done
  }

  ok (value: unknown, message?: string): void {
    assert.ok(value, message)
  }

  equal (found: unknown, wanted: unknown, message?: string): void {
    assert.strictEqual(found, wanted, message)
  }

  not (found: unknown, unwanted: unknown, message?: string): void {
    assert.notStrictEqual(found, unwanted, message)
  }

  same (found: unknown, wanted: unknown, message?: string): void {
    assert.deepStrictEqual(plain(found), plain(wanted), message)
  }

  match (found: unknown, pattern: unknown, message?: string): void {
    assert.deepStrictEqual(project(found, pattern), plain(pattern), message)
  }

  async rejects (promise: Promise<unknown>, message?: string): Promise<void> {
    // A validation function that accepts anything: any rejection passes, as with tap's `rejects(promise)`.
    await assert.rejects(promise, () => true, message)
  }

  pass (): void {}

  teardown (fn: () => unknown): void {
    this.#teardowns.push(fn)
  }
}

/**
 * Runs the store contract with `node:test`: one top-level test `${name} store contract` with a subtest per
 * case, run one after another; each case opens its own stores with `factory` and closes them when it ends.
 * Call it at the top level of a test file (run with `node --test`, or plain `node`), or inside a
 * `describe`/`suite`; inside a `test` callback, await it. The promise settles when the run is over; a
 * failing case fails the run (and the process exit code), not the promise.
 *
 * Assertions map to `node:assert/strict`: `equal` is `strictEqual` (Object.is), `not` is `notStrictEqual`,
 * `ok` is `ok`, `rejects` accepts any rejection; `same` is `deepStrictEqual` with prototypes ignored (a
 * class instance equals a plain object with the same own enumerable keys and values), and `match` is a
 * partial deep strict match (every key of the pattern, recursively, deep-strict-equals the value's; extra
 * keys in the value are fine; arrays, Dates and primitives in the pattern must be equal as a whole). Both are
 * stricter than tap's loose `same`/`match` about primitives (1 is not '1', null is not undefined): a store
 * that passes here passes under tap too. A case stops at its first failed assertion.
 */
export async function runStoreContract (name: string, factory: () => Promise<ContractStores>): Promise<void> {
  const root = new NodeContractTest(async (testName, options, body) => { await nodeTest(testName, options, body) })
  storeContract(root, name, factory)
  await root.settled()
}
