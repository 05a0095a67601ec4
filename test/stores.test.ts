import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CompiledQuery, sql, type Kysely } from 'kysely'
import t from 'tap'
import { MemoryTokenStore, MemoryUserStore } from '../lib/stores/memory.js'
import { accountsMigrations, migrateToLatest } from '../lib/stores/migrations.js'
import { createStores } from '../lib/stores/factory.js'
import { usernameIgnoringCase } from '../lib/stores/kysely.js'
import type { Database } from '../lib/stores/schema.js'
import { createSqliteStores } from '../lib/stores/sqlite.js'
import { storeContract } from '../lib/testing/index.js'

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
  t.equal(await pragma('synchronous'), 1, 'synchronous = NORMAL: the WAL is synced at checkpoints')
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

t.test('sqlite: the case-insensitive username lookup uses the lower(username) index', async (t) => {
  const stores = await createSqliteStores(':memory:')
  t.teardown(stores.close)
  t.same(stores.applied, Object.keys(accountsMigrations('sqlite')).sort(), 'every migration, in order')
  t.same(stores.applied.slice(0, 4), ['0001_initial', '0002_username_lower_index', '0003_user_sessions_cutoff', '0004_sessions'])
  const { rows: indexes } = await sql<{ sql: string }>`select sql from sqlite_master where name = 'accounts_user_username_lower_idx'`.execute(stores.db)
  t.match(indexes[0]?.sql ?? '', /^create index "accounts_user_username_lower_idx" on "accounts_user" \(lower\(username\)\)$/i)
  const query = stores.db.selectFrom('accounts_user').selectAll().where(usernameIgnoringCase('ALICE')).orderBy('id').compile()
  const { rows } = await stores.db.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${query.sql}`, [...query.parameters]))
  t.match(rows.map((r) => r.detail).join('\n'), /USING INDEX accounts_user_username_lower_idx/, 'the store\'s query uses it')
})

/** Takes a database migrated to the latest back to the first release's schema and history (migration 0001 alone). */
async function backToRelease1 (db: Kysely<Database>): Promise<void> {
  await sql`drop index accounts_user_username_lower_idx`.execute(db)
  // One column per statement, as SQLite alters tables.
  await sql`alter table accounts_user drop column kept_session`.execute(db)
  await sql`alter table accounts_user drop column sessions_valid_after`.execute(db)
  // The tables later migrations created (0004_sessions and after).
  const release1 = ['accounts_user', 'accounts_refresh_token', 'accounts_auth_token', 'accounts_migration', 'accounts_migration_lock']
  const { rows } = await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name like 'accounts_%'`.execute(db)
  for (const { name } of rows) if (!release1.includes(name)) await sql`drop table ${sql.id(name)}`.execute(db)
  await sql`delete from accounts_migration where name <> '0001_initial'`.execute(db)
}

t.test('sqlite: a file migrated by 0001 alone gets the lower(username) index and the session cut-off, and its users are found in any case', async (t) => {
  const file = tempFile()
  const old = await createSqliteStores(file)
  await backToRelease1(old.db)
  // A user as the first release wrote it (no cut-off columns yet).
  await sql`insert into accounts_user (username, email, email_lower, password, is_active, date_joined) values ('Alice', 'alice@example.com', 'alice@example.com', 'x', 1, 1700000000123)`.execute(old.db)
  await old.close()
  const upgraded = await createSqliteStores(file)
  t.teardown(upgraded.close)
  t.same(upgraded.applied, Object.keys(accountsMigrations('sqlite')).sort().slice(1), 'only the new migrations run')
  const [alice] = await upgraded.users.findUsersByUsernameIgnoringCase('ALICE')
  t.match(alice, { id: 1, username: 'Alice', sessionsValidAfter: null, keptSession: null }, 'found, with no cut-off')
  t.equal(alice.dateJoined.getTime(), 1700000000123)
  const cutoff = new Date(1700000000456)
  t.match(await upgraded.users.updateUser(alice.id, { sessionsValidAfter: cutoff, keptSession: 'k' }), { sessionsValidAfter: cutoff, keptSession: 'k' }, 'and can be given one')
})

t.test('sqlite: the session cut-off migration adds two nullable columns without a default', async (t) => {
  const stores = await createSqliteStores(':memory:')
  t.teardown(stores.close)
  const { rows } = await sql<{ name: string, type: string, notnull: number, dflt_value: unknown }>`pragma table_info(accounts_user)`.execute(stores.db)
  t.match(rows.filter((r) => r.name === 'sessions_valid_after' || r.name === 'kept_session'), [
    { name: 'sessions_valid_after', type: 'bigint', notnull: 0, dflt_value: null },
    { name: 'kept_session', type: /^text$/i, notnull: 0, dflt_value: null }
  ])
})

t.test('sqlite: lower() folds ASCII letters only, as Django\'s iexact on SQLite', async (t) => {
  const stores = await createSqliteStores(':memory:')
  t.teardown(stores.close)
  const emile = await stores.users.createUser({ username: 'Émile', email: 'emile@example.com', password: 'x', isActive: true })
  t.same(await stores.users.findUsersByUsernameIgnoringCase('ÉMILE'), [emile], 'the ASCII letters in any case')
  t.same(await stores.users.findUsersByUsernameIgnoringCase('émile'), [], 'É and é stay apart')
})

t.test('memory: every letter is folded (String.prototype.toLowerCase)', async (t) => {
  const users = new MemoryUserStore()
  const emile = await users.createUser({ username: 'Émile', email: 'emile@example.com', password: 'x', isActive: true })
  t.same(await users.findUsersByUsernameIgnoringCase('émile'), [emile])
})

t.test("sqlite: synchronous: 'full' syncs every commit", async (t) => {
  const stores = await createStores({ databaseUrl: `sqlite:${tempFile()}`, sqlite: { synchronous: 'full' } })
  t.teardown(stores.close)
  const { rows } = await sql<{ synchronous: number }>`pragma synchronous`.execute(stores.db)
  t.equal(rows[0]?.synchronous, 2)
})

t.test('sqlite: a store opened before its tables exist prepares its statements on first use', async (t) => {
  const stores = await createSqliteStores(tempFile(), { migrate: false })
  t.teardown(stores.close)
  await migrateToLatest(stores.db)
  const alice = await stores.users.createUser({ username: 'alice', email: 'Alice@example.com', password: 'x', isActive: true })
  t.same(await stores.users.findUserById(alice.id), alice)
  t.same(await stores.users.findUserByUsername('alice'), alice)
  t.same(await stores.users.findUserByEmail('ALICE@example.com'), alice)
  t.same(await stores.users.findUsersByUsernameIgnoringCase('ALICE'), [alice])
})

t.test('sqlite: a worker thread checkpoints the WAL, so commits on the event loop do not', async (t) => {
  const stores = await createSqliteStores(tempFile())
  t.teardown(stores.close)
  const walFrames = async (): Promise<number> =>
    (await sql<{ log: number }>`pragma wal_checkpoint(PASSIVE)`.execute(stores.db)).rows[0]?.log ?? -1
  const { rows } = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(stores.db)
  t.equal(rows[0]?.wal_autocheckpoint, 10_000, 'the serving connection checkpoints only past 10,000 pages')
  const expiresAt = new Date(Date.now() + 60_000)
  for (let i = 0; i < 300; i++) await stores.tokens.saveRefreshToken({ jti: `jti-${i}`, userId: 1, family: `f-${i}`, expiresAt })
  await new Promise((resolve) => setTimeout(resolve, 400))
  // Checkpointed in full by the worker, the WAL starts over with the next write.
  await stores.tokens.saveRefreshToken({ jti: 'after', userId: 1, family: 'after', expiresAt })
  t.ok(await walFrames() < 20, 'the WAL was copied back and restarted')
  t.equal((await stores.tokens.findRefreshToken('jti-299'))?.family, 'f-299', 'nothing lost')
})
