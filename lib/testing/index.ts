/**
 * `fastify-accounts/testing`: the contract suite every UserStore/TokenStore adapter must pass, for authors of
 * custom stores. It depends on no test framework: `storeContract` takes any object shaped like
 * {@link ContractTest} (tap's `Test` is one as is), and `runStoreContract` drives it with Node's built-in
 * `node:test` and `node:assert/strict`.
 *
 * The factory must return fresh, empty stores on every call (each case opens its own) and a `close` that
 * disposes of them (drop the schema, delete the keys…); it runs when the case ends, pass or fail.
 *
 * With tap:
 *
 * ```ts
 * import t from 'tap'
 * import { MemoryTokenStore } from 'fastify-accounts'
 * import { storeContract } from 'fastify-accounts/testing'
 * import { MyUserStore } from '../src/my-user-store.js'
 *
 * storeContract(t, 'my store', async () => ({
 *   users: new MyUserStore(), tokens: new MemoryTokenStore(), close: async () => {}
 * }))
 * ```
 *
 * With node:test (`node --test`, or plain `node my-store.test.js`):
 *
 * ```ts
 * import { runStoreContract } from 'fastify-accounts/testing'
 * import { MyUserStore, MyTokenStore } from '../src/my-stores.js'
 *
 * runStoreContract('my store', async () => {
 *   const users = new MyUserStore(); const tokens = new MyTokenStore()
 *   return { users, tokens, close: async () => { await users.close(); await tokens.close() } }
 * })
 * ```
 *
 * Any other framework: write an adapter implementing {@link ContractTest} (its comment lists the semantics
 * each method must have) and call `storeContract(adapter, name, factory)`.
 */
export { storeContract } from './store-contract.js'
export type { AssertionMessage, ContractStores, ContractTest } from './store-contract.js'
export { runStoreContract } from './node.js'
