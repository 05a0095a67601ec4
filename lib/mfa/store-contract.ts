import type { ContractTest } from '../testing/store-contract.js'
import type { MfaStore } from './store.js'

/**
 * The behaviour every MfaStore adapter must share, framework-free as lib/testing/store-contract.ts (tap's
 * `Test` is a ContractTest as is). `factory` returns a fresh, empty store; `userIds` are users that exist in
 * the adapter's database (the SQL tables have foreign keys); `deleteUser`, when given, deletes one the way
 * the user store does, to check that the user's MFA records go with it.
 */
export interface MfaContractStore {
  store: MfaStore
  /** Two distinct ids of existing users. */
  userIds: [number, number]
  deleteUser?: (id: number) => Promise<void>
  close (): Promise<void>
}

const T0 = new Date('2026-01-02T03:04:05.000Z')
const later = (ms: number): Date => new Date(T0.getTime() + ms)

export function mfaStoreContract (t: ContractTest, name: string, factory: () => Promise<MfaContractStore>): void {
  const open = async (t: ContractTest): Promise<MfaContractStore> => {
    const opened = await factory()
    t.teardown(async () => { await opened.close() })
    return opened
  }

  t.test(`${name} MFA store contract`, async (t) => {
    t.test('an authenticator is saved, found, replaced and deleted', async (t) => {
      const { store, userIds: [alice, bob] } = await open(t)
      t.equal(await store.findAuthenticator(alice, 'totp'), null, 'starts empty')
      t.same(await store.listActiveAuthenticators(alice), [])
      const pending = await store.saveAuthenticator({ userId: alice, type: 'totp', encryptedSecret: 'v1.a.b', active: false, createdAt: T0 })
      t.same(pending, { userId: alice, type: 'totp', encryptedSecret: 'v1.a.b', active: false, lastUsedStep: null, createdAt: T0, lastUsedAt: null })
      t.same(await store.findAuthenticator(alice, 'totp'), pending, 'found as saved')
      t.same(await store.listActiveAuthenticators(alice), [], 'a pending one is not active')
      const active = await store.saveAuthenticator({ userId: alice, type: 'totp', encryptedSecret: 'v1.c.d', active: true, createdAt: later(1000) })
      t.match(active, { encryptedSecret: 'v1.c.d', active: true, lastUsedStep: null })
      t.same(await store.listActiveAuthenticators(alice), [active], 'replaced, one per type')
      t.equal(await store.findAuthenticator(bob, 'totp'), null, 'per user')
      t.equal(await store.deleteAuthenticator(bob, 'totp'), false, 'nothing of bob\'s to delete')
      t.equal(await store.deleteAuthenticator(alice, 'totp'), true)
      t.equal(await store.findAuthenticator(alice, 'totp'), null)
      t.equal(await store.deleteAuthenticator(alice, 'totp'), false, 'gone')
    })

    t.test('claimStep accepts each step once, only moving forward, only on an active authenticator', async (t) => {
      const { store, userIds: [alice, bob] } = await open(t)
      t.equal(await store.claimStep(alice, 'totp', 100, T0), false, 'no authenticator')
      await store.saveAuthenticator({ userId: alice, type: 'totp', encryptedSecret: 's', active: false })
      t.equal(await store.claimStep(alice, 'totp', 100, T0), false, 'not active')
      await store.saveAuthenticator({ userId: alice, type: 'totp', encryptedSecret: 's', active: true })
      await store.saveAuthenticator({ userId: bob, type: 'totp', encryptedSecret: 's', active: true })
      t.equal(await store.claimStep(alice, 'totp', 100, later(5)), true, 'first use')
      t.equal(await store.claimStep(alice, 'totp', 100, later(6)), false, 'same step again')
      t.equal(await store.claimStep(alice, 'totp', 99, later(7)), false, 'an earlier step')
      t.equal(await store.claimStep(bob, 'totp', 100, later(8)), true, 'another user\'s steps are their own')
      t.equal(await store.claimStep(alice, 'totp', 101, later(9)), true, 'the next step')
      t.match(await store.findAuthenticator(alice, 'totp'), { lastUsedStep: 101, lastUsedAt: later(9) })
      const steps = await Promise.all(Array.from({ length: 8 }, async () => await store.claimStep(alice, 'totp', 200, later(10))))
      t.equal(steps.filter(Boolean).length, 1, 'concurrent claims of one step: one wins')
      const renewed = await store.saveAuthenticator({ userId: alice, type: 'totp', encryptedSecret: 's2', active: true })
      t.equal(renewed.lastUsedStep, null, 'a new secret starts afresh')
    })

    t.test('recovery codes: replaced as a set, each used once, counted', async (t) => {
      const { store, userIds: [alice, bob] } = await open(t)
      t.equal(await store.countRecoveryCodes(alice), 0)
      t.equal(await store.useRecoveryCode(alice, 'h1', T0), false, 'none yet')
      await store.replaceRecoveryCodes(alice, ['h1', 'h2', 'h3'], T0)
      await store.replaceRecoveryCodes(bob, ['b1'], T0)
      t.equal(await store.countRecoveryCodes(alice), 3)
      t.equal(await store.useRecoveryCode(bob, 'h1', T0), false, 'not bob\'s code')
      await store.saveAuthenticator({ userId: alice, type: 'totp', encryptedSecret: 'v1.a.b', active: true, createdAt: T0 })
      t.equal(await store.useRecoveryCode(alice, 'h1', later(1)), true)
      t.match(await store.findAuthenticator(alice, 'totp'), { lastUsedAt: later(1), lastUsedStep: null }, 'a use of MFA: last used moves, the step does not')
      t.equal(await store.useRecoveryCode(alice, 'h1', later(2)), false, 'used once only')
      t.match(await store.findAuthenticator(alice, 'totp'), { lastUsedAt: later(1) }, 'a refused code changes nothing')
      t.equal(await store.countRecoveryCodes(alice), 2)
      const races = await Promise.all(Array.from({ length: 6 }, async () => await store.useRecoveryCode(alice, 'h2', later(3))))
      t.equal(races.filter(Boolean).length, 1, 'concurrent uses of one code: one wins')
      await store.replaceRecoveryCodes(alice, ['n1', 'n2'], later(4))
      t.equal(await store.useRecoveryCode(alice, 'h3', later(5)), false, 'old codes are gone')
      t.equal(await store.countRecoveryCodes(alice), 2, 'the new set')
      await store.deleteRecoveryCodes(alice)
      t.equal(await store.countRecoveryCodes(alice), 0)
      t.equal(await store.countRecoveryCodes(bob), 1, 'bob keeps his')
    })

    t.test('ephemeral tokens: found while live, consumed once, expired ones refused and purged', async (t) => {
      const { store, userIds: [alice, bob] } = await open(t)
      await store.saveEphemeralToken('e1', alice, later(300_000))
      await store.saveEphemeralToken('e2', bob, later(1000))
      t.equal(await store.findEphemeralToken('e1', T0), alice)
      t.equal(await store.findEphemeralToken('e1', T0), alice, 'finding does not use it up')
      t.equal(await store.findEphemeralToken('nope', T0), null)
      t.equal(await store.findEphemeralToken('e2', later(1000)), null, 'expired at its expiry')
      t.equal(await store.consumeEphemeralToken('e2', later(1000)), null, 'an expired one is not consumed')
      const consumed = await Promise.all(Array.from({ length: 5 }, async () => await store.consumeEphemeralToken('e1', later(10))))
      t.same(consumed.filter((u) => u !== null), [alice], 'one consumer wins')
      t.equal(await store.findEphemeralToken('e1', later(11)), null, 'gone once consumed')
      await store.saveEphemeralToken('e3', alice, later(50))
      await store.saveEphemeralToken('e4', alice, later(500_000))
      t.equal(await store.purgeExpiredEphemeralTokens(later(100)), 1, 'e3 purged (e2 was consumed)')
      t.equal(await store.findEphemeralToken('e4', later(100)), alice, 'live ones stay')
    })

    t.test('deleting a user\'s MFA (or the user) removes all of it, and only theirs', async (t) => {
      const { store, userIds: [alice, bob], deleteUser } = await open(t)
      for (const id of [alice, bob]) {
        await store.saveAuthenticator({ userId: id, type: 'totp', encryptedSecret: 's', active: true })
        await store.replaceRecoveryCodes(id, [`c${id}`], T0)
        await store.saveEphemeralToken(`t${id}`, id, later(60_000))
      }
      if (deleteUser === undefined) await store.deleteUserMfa(alice)
      else await deleteUser(alice)
      t.equal(await store.findAuthenticator(alice, 'totp'), null)
      t.equal(await store.countRecoveryCodes(alice), 0)
      t.equal(await store.findEphemeralToken(`t${alice}`, T0), null)
      t.ok(await store.findAuthenticator(bob, 'totp'), 'bob keeps his authenticator')
      t.equal(await store.countRecoveryCodes(bob), 1)
      t.equal(await store.findEphemeralToken(`t${bob}`, T0), bob)
      await store.deleteUserMfa(bob)
      t.equal(await store.findAuthenticator(bob, 'totp'), null, 'deleteUserMfa works on any adapter')
    })

    t.test('what a store returns is a copy', async (t) => {
      const { store, userIds: [alice] } = await open(t)
      const saved = await store.saveAuthenticator({ userId: alice, type: 'totp', encryptedSecret: 's', active: true, createdAt: T0 })
      saved.createdAt.setTime(0)
      saved.active = false
      t.match(await store.findAuthenticator(alice, 'totp'), { active: true, createdAt: T0 })
    })
  })
}
