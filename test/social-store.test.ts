import t from 'tap'
import { MemorySocialAccountStore } from '../lib/social/memory-store.js'
import { KyselySocialAccountStore } from '../lib/social/sql-store.js'
import { socialStoreContract } from '../lib/social/store-contract.js'
import { createPostgresStores } from '../lib/stores/postgres.js'
import { createSqliteStores } from '../lib/stores/sqlite.js'
import type { UserStore } from '../lib/ports.js'
import { dropSchema, PG_URL, serviceTest, uniqueName } from './helpers/services.js'

socialStoreContract(t, 'memory', async () => ({ store: new MemorySocialAccountStore(), userIds: [1, 2, 3], close: async () => {} }))

/** Three users in `users`, for the foreign key. */
async function threeUsers (users: UserStore): Promise<[number, number, number]> {
  const ids: number[] = []
  for (const name of ['alice', 'bob', 'carol']) ids.push((await users.createUser({ username: name, email: `${name}@example.com`, password: 'x', isActive: true })).id)
  return ids as [number, number, number]
}

socialStoreContract(t, 'sqlite', async () => {
  const stores = await createSqliteStores(':memory:')
  return { store: new KyselySocialAccountStore(stores.db), userIds: await threeUsers(stores.users), close: async () => { await stores.close() } }
})

t.test('sqlite: deleting a user deletes their social accounts (ON DELETE CASCADE); a link to no user is refused', async (t) => {
  const stores = await createSqliteStores(':memory:')
  t.teardown(async () => { await stores.close() })
  const store = new KyselySocialAccountStore(stores.db)
  const [alice, bob] = await threeUsers(stores.users)
  await store.upsertSocialAccount({ provider: 'google', uid: 'a', userId: alice })
  await store.upsertSocialAccount({ provider: 'github', uid: 'a', userId: alice })
  const kept = await store.upsertSocialAccount({ provider: 'google', uid: 'b', userId: bob })
  t.equal(await stores.users.deleteUser(alice), true)
  t.same(await store.listSocialAccounts(alice), [], 'alice\'s links went with her')
  t.equal(await store.findSocialAccount('google', 'a'), null)
  t.same(await store.listSocialAccounts(bob), [kept], 'bob keeps his')
  await t.rejects(store.upsertSocialAccount({ provider: 'google', uid: 'c', userId: 9999 }), 'the foreign key refuses a user that does not exist')
  t.equal(await store.findSocialAccount('google', 'c'), null)
})

await serviceTest(t, 'postgres', ['postgres'], async (t) => {
  socialStoreContract(t, 'postgres', async () => {
    const schema = uniqueName('fa_social')
    const stores = await createPostgresStores(PG_URL, { schema, poolSize: 4 })
    return {
      store: new KyselySocialAccountStore(stores.db),
      userIds: await threeUsers(stores.users),
      close: async () => {
        await stores.close()
        await dropSchema(schema)
      }
    }
  })

  t.test('postgres: deleting a user deletes their social accounts (ON DELETE CASCADE)', async (t) => {
    const schema = uniqueName('fa_social')
    const stores = await createPostgresStores(PG_URL, { schema, poolSize: 2 })
    t.teardown(async () => { await stores.close(); await dropSchema(schema) })
    const store = new KyselySocialAccountStore(stores.db)
    const [alice, bob] = await threeUsers(stores.users)
    await store.upsertSocialAccount({ provider: 'google', uid: 'a', userId: alice })
    const kept = await store.upsertSocialAccount({ provider: 'google', uid: 'b', userId: bob })
    t.equal(await stores.users.deleteUser(alice), true)
    t.same(await store.listSocialAccounts(alice), [])
    t.same(await store.listSocialAccounts(bob), [kept])
  })
})
