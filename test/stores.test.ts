import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import t from 'tap'
import { MemoryTokenStore, MemoryUserStore } from '../lib/stores/memory.js'
import { migrateToLatest } from '../lib/stores/migrations.js'
import { createSqliteStores } from '../lib/stores/sqlite.js'
import { storeContract } from './helpers/store-contract.js'

const dir = mkdtempSync(join(tmpdir(), 'fastify-accounts-stores-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
let files = 0
const tempFile = (): string => join(dir, `db-${++files}.sqlite`)

storeContract(t, 'memory', async () => ({
  users: new MemoryUserStore(),
  tokens: new MemoryTokenStore(),
  close: async () => {}
}))

storeContract(t, 'sqlite :memory:', async () => await createSqliteStores(':memory:'))

storeContract(t, 'sqlite file', async () => await createSqliteStores(tempFile()))

t.test('sqlite: reopening a file keeps its data and does not re-run migrations', async (t) => {
  const file = tempFile()
  const first = await createSqliteStores(file)
  const alice = await first.users.createUser({ username: 'alice', email: 'alice@example.com', password: 'x', isActive: true })
  await first.close()

  const second = await createSqliteStores(file)
  t.teardown(second.close)
  t.same(await second.users.findUserById(alice.id), alice)
  await migrateToLatest(second.db)
  t.same(await second.users.listUsers(), [alice], 'migrating again is a no-op')
  t.equal((await second.users.createUser({ username: 'bob', email: 'bob@example.com', password: 'x', isActive: true })).id, 2)
})

t.test('sqlite: creates the parent directory and uses WAL', async (t) => {
  const file = join(dir, 'nested', 'deeper', 'accounts.sqlite')
  const stores = await createSqliteStores(file)
  t.teardown(stores.close)
  t.ok(existsSync(file), 'database file created')
  const pragma = async (name: string): Promise<unknown> => {
    const { rows } = await sql<Record<string, unknown>>`pragma ${sql.raw(name)}`.execute(stores.db)
    return Object.values(rows[0] ?? {})[0]
  }
  t.equal(await pragma('journal_mode'), 'wal')
  t.equal(await pragma('busy_timeout'), 5000)
  t.equal(await pragma('foreign_keys'), 1)
})

t.test('sqlite: a failing migration is reported clearly', async (t) => {
  const file = tempFile()
  const stores = await createSqliteStores(file)
  // Simulate a database created by someone else: the table exists but our history does not.
  await stores.db.schema.dropTable('accounts_migration').execute()
  await stores.close()
  await t.rejects(createSqliteStores(file), { message: /fastify-accounts: migration "0001_initial" failed: .*already exists/ })
})
