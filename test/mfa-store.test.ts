import t from 'tap'
import { MemoryMfaStore } from '../lib/mfa/memory-store.js'
import { KyselyMfaStore } from '../lib/mfa/sql-store.js'
import { mfaStoreContract } from '../lib/mfa/store-contract.js'
import { createPostgresStores } from '../lib/stores/postgres.js'
import { createSqliteStores } from '../lib/stores/sqlite.js'
import type { UserStore } from '../lib/ports.js'
import { dropSchema, PG_URL, serviceTest, uniqueName } from './helpers/services.js'

const twoUsers = async (users: UserStore): Promise<[number, number]> => {
  const make = async (name: string): Promise<number> => (await users.createUser({ username: name, email: `${name}@example.com`, password: 'x', isActive: true })).id
  return [await make('alice'), await make('bob')]
}

mfaStoreContract(t, 'memory', async () => ({ store: new MemoryMfaStore(), userIds: [1, 2], close: async () => {} }))

mfaStoreContract(t, 'sqlite', async () => {
  const stores = await createSqliteStores(':memory:')
  return {
    store: new KyselyMfaStore(stores.db),
    userIds: await twoUsers(stores.users),
    // The foreign keys cascade: deleting the user row deletes its MFA rows.
    deleteUser: async (id) => { await stores.users.deleteUser(id) },
    close: stores.close
  }
})

await serviceTest(t, 'postgres', ['postgres'], async (t) => {
  mfaStoreContract(t, 'postgres', async () => {
    const schema = uniqueName('fa_mfa')
    const stores = await createPostgresStores(PG_URL, { schema, poolSize: 4 })
    return {
      store: new KyselyMfaStore(stores.db),
      userIds: await twoUsers(stores.users),
      deleteUser: async (id) => { await stores.users.deleteUser(id) },
      close: async () => {
        await stores.close()
        await dropSchema(schema)
      }
    }
  })
})
