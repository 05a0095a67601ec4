/**
 * The part of a test object the contract suite uses, and all it may use: no test framework is imported
 * here. tap's `Test` satisfies it as is; `runStoreContract` (./node.ts) adapts `node:test`. Any other
 * framework needs an adapter with these semantics:
 *
 * - `test(name, fn)` declares a subtest; the subtests of one test run one after another, each to its end
 *   (its own subtests and teardowns included) before the next starts.
 * - `equal` / `not`: strict equality (`===`) and its negation.
 * - `same`: deep equality of the values (both ways: same keys, same elements).
 * - `match`: every key of `pattern` matches the value's, recursively (extra keys in the value are fine).
 * - `ok`: truthy. `pass`: a passing assertion that checks nothing.
 * - `rejects(promise)`: resolves once the promise rejected (with anything); a fulfilled promise fails.
 * - `teardown(fn)`: runs (and awaits) `fn` once the test and all its subtests are over, pass or fail.
 *
 * A failed assertion must fail the test it ran in; whether it also stops that test is up to the framework
 * (tap goes on, the node:test adapter stops at the first failure).
 */
export interface ContractTest {
  test (name: string, fn: (t: ContractTest) => Promise<void>): unknown
  ok (value: unknown, ...message: AssertionMessage): unknown
  equal (found: unknown, wanted: unknown, ...message: AssertionMessage): unknown
  not (found: unknown, unwanted: unknown, ...message: AssertionMessage): unknown
  same (found: unknown, wanted: unknown, ...message: AssertionMessage): unknown
  match (found: unknown, pattern: unknown, ...message: AssertionMessage): unknown
  rejects (promise: Promise<unknown>, ...message: AssertionMessage): Promise<unknown>
  pass (...message: AssertionMessage): unknown
  teardown (fn: () => unknown): void
}

/** An assertion's optional message (a rest tuple rather than `message?: string`, so tap's signatures fit). */
export type AssertionMessage = [] | [message: string]
