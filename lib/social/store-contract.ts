import type { ContractTest } from '../testing/store-contract.js'
import type { SocialAccountStore } from './store.js'

/**
 * The behaviour every SocialAccountStore adapter must share, framework-free as lib/testing/store-contract.ts
 * (tap's `Test` is a ContractTest as is). `factory` returns a fresh, empty store and how to dispose of it;
 * each case opens its own. `userIds` are users that exist in the adapter's database (an SQL adapter whose
 * table has a foreign key needs them created first); the memory adapter takes any numbers.
 */
export interface SocialContractStore {
  store: SocialAccountStore
  /** Three distinct ids of existing users. */
  userIds: [number, number, number]
  close (): Promise<void>
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

export function socialStoreContract (t: ContractTest, name: string, factory: () => Promise<SocialContractStore>): void {
  const open = async (t: ContractTest): Promise<SocialContractStore> => {
    const opened = await factory()
    t.teardown(async () => { await opened.close() })
    return opened
  }

  t.test(`${name} social account store contract`, async (t) => {
    t.test('upsert inserts every field, numbering ids from 1; find reads it back', async (t) => {
      const { store, userIds: [alice] } = await open(t)
      t.equal(await store.findSocialAccount('google', '1001'), null, 'starts empty')
      t.same(await store.listSocialAccounts(alice), [])
      const before = Date.now()
      const created = await store.upsertSocialAccount({ provider: 'google', uid: '1001', userId: alice, extraData: { email: 'a@example.com', nested: { n: 1 } } })
      const after = Date.now()
      t.match(created, { id: 1, provider: 'google', uid: '1001', userId: alice })
      t.same(created.extraData, { email: 'a@example.com', nested: { n: 1 } }, 'extra data round-trips as JSON')
      t.ok(created.dateJoined instanceof Date && created.lastLogin instanceof Date, 'dates are Dates')
      t.ok(created.dateJoined.getTime() >= before - 1 && created.dateJoined.getTime() <= after + 1, 'date joined is now')
      t.same(await store.findSocialAccount('google', '1001'), created)
      t.same(await store.findSocialAccountById(created.id), created)
      const second = await store.upsertSocialAccount({ provider: 'github', uid: '1001', userId: alice })
      t.equal(second.id, 2, 'the same uid at another provider is another account')
      t.same(second.extraData, {}, 'extra data defaults to {}')
    })

    t.test('provider and uid match exactly', async (t) => {
      const { store, userIds: [alice] } = await open(t)
      await store.upsertSocialAccount({ provider: 'github', uid: 'AbC', userId: alice })
      t.equal(await store.findSocialAccount('github', 'abc'), null, 'uid is case-sensitive')
      t.equal(await store.findSocialAccount('GitHub', 'AbC'), null, 'provider is case-sensitive')
      t.equal(await store.findSocialAccount('github', 'AbC '), null, 'no trimming')
      t.equal(await store.findSocialAccountById(999), null, 'an unknown id is null')
    })

    t.test('upsert for the same user updates last login and extra data, keeps id and date joined', async (t) => {
      const { store, userIds: [alice] } = await open(t)
      const first = await store.upsertSocialAccount({ provider: 'google', uid: 'u1', userId: alice, extraData: { v: 1 } })
      await sleep(5)
      const again = await store.upsertSocialAccount({ provider: 'google', uid: 'u1', userId: alice, extraData: { v: 2 } })
      t.equal(again.id, first.id)
      t.same(again.dateJoined, first.dateJoined, 'date joined unchanged')
      t.ok(again.lastLogin.getTime() > first.lastLogin.getTime(), 'last login moves on')
      t.same(again.extraData, { v: 2 })
      const kept = await store.upsertSocialAccount({ provider: 'google', uid: 'u1', userId: alice })
      t.same(kept.extraData, { v: 2 }, 'no extra data given: the stored one stays')
      const at = new Date('2024-05-06T07:08:09.123Z')
      t.same((await store.upsertSocialAccount({ provider: 'google', uid: 'u1', userId: alice, lastLogin: at })).lastLogin, at, 'an explicit last login, to the millisecond')
    })

    t.test('upsert never moves an account to another user', async (t) => {
      const { store, userIds: [alice, bob] } = await open(t)
      const owned = await store.upsertSocialAccount({ provider: 'google', uid: 'u1', userId: alice, extraData: { mine: true } })
      const answer = await store.upsertSocialAccount({ provider: 'google', uid: 'u1', userId: bob, extraData: { mine: false } })
      t.equal(answer.userId, alice, 'answers with the owner')
      t.same(answer, owned, 'and changes nothing')
      t.same(await store.findSocialAccount('google', 'u1'), owned)
      t.same(await store.listSocialAccounts(bob), [])
    })

    t.test('concurrent upserts of one (provider, uid) leave one account', async (t) => {
      const { store, userIds: [alice, bob] } = await open(t)
      const answers = await Promise.all([
        ...Array.from({ length: 5 }, async () => await store.upsertSocialAccount({ provider: 'x', uid: 'race', userId: alice })),
        ...Array.from({ length: 5 }, async () => await store.upsertSocialAccount({ provider: 'x', uid: 'race', userId: bob }))
      ])
      const ids = new Set(answers.map((a) => a.id))
      const owners = new Set(answers.map((a) => a.userId))
      t.equal(ids.size, 1, 'one id for all')
      t.equal(owners.size, 1, 'one owner for all')
      t.equal((await store.listSocialAccounts(alice)).length + (await store.listSocialAccounts(bob)).length, 1)
    })

    t.test('explicit id and dates are kept (an import); later ids continue after it', async (t) => {
      const { store, userIds: [alice] } = await open(t)
      const joined = new Date('2019-03-04T05:06:07.891Z')
      const last = new Date('2024-01-02T03:04:05.678Z')
      const imported = await store.upsertSocialAccount({ provider: 'google', uid: 'old', userId: alice, id: 42, dateJoined: joined, lastLogin: last })
      t.equal(imported.id, 42)
      t.same(imported.dateJoined, joined)
      t.same(imported.lastLogin, last)
      t.same(await store.findSocialAccountById(42), imported)
      const next = await store.upsertSocialAccount({ provider: 'google', uid: 'new', userId: alice })
      t.ok(next.id > 42, 'the next id is after the imported one')
    })

    t.test('list is per user, ordered by id', async (t) => {
      const { store, userIds: [alice, bob, carol] } = await open(t)
      await store.upsertSocialAccount({ provider: 'google', uid: 'a1', userId: alice })
      await store.upsertSocialAccount({ provider: 'github', uid: 'b1', userId: bob })
      await store.upsertSocialAccount({ provider: 'github', uid: 'a2', userId: alice })
      t.same((await store.listSocialAccounts(alice)).map((a) => [a.provider, a.uid]), [['google', 'a1'], ['github', 'a2']])
      t.same((await store.listSocialAccounts(bob)).map((a) => a.uid), ['b1'])
      t.same(await store.listSocialAccounts(carol), [])
    })

    t.test('delete removes only the caller\'s account; delete by user removes all of theirs', async (t) => {
      const { store, userIds: [alice, bob] } = await open(t)
      const a1 = await store.upsertSocialAccount({ provider: 'google', uid: 'a1', userId: alice })
      const a2 = await store.upsertSocialAccount({ provider: 'github', uid: 'a2', userId: alice })
      const b1 = await store.upsertSocialAccount({ provider: 'github', uid: 'b1', userId: bob })
      t.equal(await store.deleteSocialAccount(a1.id, bob), false, 'not bob\'s')
      t.ok(await store.findSocialAccountById(a1.id), 'still there')
      t.equal(await store.deleteSocialAccount(a1.id, alice), true)
      t.equal(await store.deleteSocialAccount(a1.id, alice), false, 'gone')
      t.equal(await store.findSocialAccount('google', 'a1'), null)
      const again = await store.upsertSocialAccount({ provider: 'google', uid: 'a1', userId: bob })
      t.equal(again.userId, bob, 'a deleted (provider, uid) can be linked anew, to anyone')
      t.equal(await store.deleteUserSocialAccounts(alice), 1)
      t.same(await store.listSocialAccounts(alice), [])
      t.equal(await store.findSocialAccountById(a2.id), null)
      t.ok(await store.findSocialAccountById(b1.id), 'other users keep theirs')
      t.equal(await store.deleteUserSocialAccounts(alice), 0, 'nothing left')
    })

    t.test('what a store returns is a copy', async (t) => {
      const { store, userIds: [alice] } = await open(t)
      const account = await store.upsertSocialAccount({ provider: 'google', uid: 'c', userId: alice, extraData: { a: 1 } })
      account.extraData.a = 2
      account.lastLogin.setTime(0)
      const read = await store.findSocialAccount('google', 'c')
      t.same(read?.extraData, { a: 1 })
      t.not(read?.lastLogin.getTime(), 0)
    })
  })
}
