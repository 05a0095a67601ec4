import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql, type Kysely } from 'kysely'
import t from 'tap'
import { migrate } from '../bin/migrate.js'
import { StoreUnavailableError } from '../lib/ports.js'
import { createStores } from '../lib/stores/factory.js'
import { accountsMigrations } from '../lib/stores/migrations.js'
import { createPostgresStores } from '../lib/stores/postgres.js'
import type { Database } from '../lib/stores/schema.js'
import { storeContract } from '../lib/testing/index.js'
import { dropSchema, PG_URL, serviceTest, testSchema, uniqueName } from './helpers/services.js'

const ALL_MIGRATIONS = Object.keys(accountsMigrations('postgres')).sort()

const user = (name: string): { username: string, email: string, password: string, isActive: boolean } =>
  ({ username: name, email: `${name}@example.com`, password: 'x', isActive: true })

await serviceTest(t, 'postgres', ['postgres'], async (t) => {
  // Every contract case gets a schema of its own, dropped when it closes.
  storeContract(t, 'postgres', async () => {
    const schema = uniqueName('fa_contract')
    const stores = await createPostgresStores(PG_URL, { schema, poolSize: 4 })
    return {
      users: stores.users,
      tokens: stores.tokens,
      refreshStanding: stores.refreshStanding,
      close: async () => {
        await stores.close()
        await dropSchema(schema)
      }
    }
  })

  t.test('every lookup of the hot paths has an index', async (t) => {
    const schema = testSchema(t)
    const stores = await createPostgresStores(PG_URL, { schema })
    t.teardown(stores.close)
    const { rows } = await sql<{ tablename: string, indexdef: string }>`
      select tablename, indexdef from pg_indexes where schemaname = ${schema}`.execute(stores.db)
    const indexed = (table: string, column: string): boolean => rows.some((r) =>
      r.tablename === table && new RegExp(`\\(${column}\\)$`).test(r.indexdef))
    for (const [table, column] of [
      ['accounts_user', 'id'],
      ['accounts_user', 'username'],
      ['accounts_user', 'email_lower'], // case-insensitive email lookups compare email_lower
      ['accounts_refresh_token', 'jti'],
      ['accounts_refresh_token', 'user_id'],
      ['accounts_refresh_token', 'family'],
      ['accounts_refresh_token', 'expires_at'],
      ['accounts_auth_token', 'hash'],
      ['accounts_auth_token', 'user_id']
    ]) {
      t.ok(indexed(table, column), `${table}.${column} is indexed`)
    }
    const unique = rows.filter((r) => r.indexdef.startsWith('CREATE UNIQUE INDEX')).map((r) => r.indexdef)
    t.ok(unique.some((d) => d.endsWith('(username)')), 'username is unique')
    t.ok(unique.some((d) => d.endsWith('(email_lower)')), 'email is unique in any letter case')

    // The planner uses them (sequential scans off, so a missing index would show as a Seq Scan).
    await stores.users.createUser(user('alice'))
    await sql`set enable_seqscan = off`.execute(stores.db)
    const plan = async (query: ReturnType<typeof sql>): Promise<string> =>
      (await sql<{ 'QUERY PLAN': string }>`explain ${query}`.execute(stores.db)).rows.map((r) => r['QUERY PLAN']).join('\n')
    t.match(await plan(sql`select * from accounts_user where email_lower = 'alice@example.com'`), /Index/)
    t.match(await plan(sql`select * from accounts_refresh_token where jti = 'x'`), /Index/)
    t.match(await plan(sql`select * from accounts_auth_token where hash = 'x'`), /Index/)
    t.ok(rows.some((r) => r.tablename === 'accounts_user' && /^CREATE INDEX accounts_user_username_lower_idx .*\(lower\(username\)\)$/.test(r.indexdef)),
      'lower(username) has an expression index (dj-rest-auth looks usernames up ignoring case)')
    t.match(await plan(sql`select * from accounts_user where lower("username") = lower('ALICE') order by "id"`), /accounts_user_username_lower_idx/,
      'the case-insensitive lookup, as the store words it, uses it')
  })

  /** Takes a schema migrated to the latest back to the first release's schema and history (migration 0001 alone). */
  async function backToRelease1 (db: Kysely<Database>): Promise<void> {
    await sql`drop index accounts_user_username_lower_idx`.execute(db)
    await sql`alter table accounts_user drop column sessions_valid_after, drop column kept_session`.execute(db)
    // The tables later migrations created (0004_sessions and after).
    const release1 = ['accounts_user', 'accounts_refresh_token', 'accounts_auth_token', 'accounts_migration', 'accounts_migration_lock']
    const { rows } = await sql<{ name: string }>`select tablename as name from pg_tables where schemaname = current_schema() and tablename like 'accounts_%'`.execute(db)
    for (const { name } of rows) if (!release1.includes(name)) await sql`drop table ${sql.id(name)} cascade`.execute(db)
    await sql`delete from accounts_migration where name <> '0001_initial'`.execute(db)
  }

  t.test('a schema migrated by 0001 alone gets the lower(username) index and the session cut-off, and its users are found in any case', async (t) => {
    const schema = testSchema(t)
    const old = await createPostgresStores(PG_URL, { schema })
    t.same(old.applied, ALL_MIGRATIONS)
    await backToRelease1(old.db)
    // A user as the first release wrote it (no cut-off columns yet).
    await sql`insert into accounts_user (username, email, email_lower, password, is_active, date_joined) values ('Alice', 'alice@example.com', 'alice@example.com', 'x', 1, 1700000000123)`.execute(old.db)
    await old.close()
    const upgraded = await createPostgresStores(PG_URL, { schema })
    t.teardown(upgraded.close)
    t.same(upgraded.applied, ALL_MIGRATIONS.slice(1), 'only the new migrations run')
    const [alice] = await upgraded.users.findUsersByUsernameIgnoringCase('alice')
    t.match(alice, { username: 'Alice', sessionsValidAfter: null, keptSession: null }, 'found, with no cut-off')
    t.same(await upgraded.users.findUsersByUsernameIgnoringCase('ALICE'), [alice])
    t.same(await upgraded.users.findUserById(alice.id), alice, 'the prepared lookup reads the new columns too')
    const cutoff = new Date(1700000000456)
    t.match(await upgraded.users.updateUser(alice.id, { sessionsValidAfter: cutoff, keptSession: 'k' }), { sessionsValidAfter: cutoff, keptSession: 'k' })
    t.match(await upgraded.users.findUserByEmail('ALICE@example.com'), { sessionsValidAfter: cutoff, keptSession: 'k' })
  })

  t.test('an index an operator built concurrently beforehand is kept by the migration', async (t) => {
    const schema = testSchema(t)
    const old = await createPostgresStores(PG_URL, { schema })
    await backToRelease1(old.db)
    await sql`create index concurrently accounts_user_username_lower_idx on accounts_user (lower(username))`.execute(old.db)
    await old.close()
    const upgraded = await createPostgresStores(PG_URL, { schema })
    t.teardown(upgraded.close)
    t.same(upgraded.applied, ALL_MIGRATIONS.slice(1))
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_indexes where schemaname = ${schema} and indexname = 'accounts_user_username_lower_idx'`.execute(upgraded.db)
    t.equal(rows[0].n, 1)
  })

  t.test('PostgreSQL folds letters beyond ASCII too (its lower(), on a UTF-8 database)', async (t) => {
    const stores = await createPostgresStores(PG_URL, { schema: testSchema(t) })
    t.teardown(stores.close)
    const emile = await stores.users.createUser(user('Émile'))
    t.same(await stores.users.findUsersByUsernameIgnoringCase('émile'), [emile])
    t.same(await stores.users.findUsersByUsernameIgnoringCase('ÉMILE'), [emile])
  })

  t.test('the prepared lookups survive a column added under them (a migration while instances run)', async (t) => {
    const stores = await createPostgresStores(PG_URL, { schema: testSchema(t), poolSize: 1 })
    t.teardown(stores.close)
    const alice = await stores.users.createUser(user('alice'))
    const expiresAt = new Date(Date.now() + 60_000)
    await stores.tokens.saveRefreshToken({ jti: 'j1', userId: alice.id, family: 'j1', expiresAt })
    // Prepared on the pool's one connection...
    t.same(await stores.users.findUserById(alice.id), alice)
    t.match(await stores.tokens.findRefreshToken('j1'), { userId: alice.id })
    // ...then the tables change shape.
    await sql`alter table accounts_user add column nickname text`.execute(stores.db)
    await sql`alter table accounts_refresh_token add column note text`.execute(stores.db)
    t.same(await stores.users.findUserById(alice.id), alice, 'user lookup still answers')
    t.same(await stores.users.findUserByEmail('ALICE@example.com'), alice)
    t.match(await stores.tokens.findRefreshToken('j1'), { userId: alice.id, family: 'j1' }, 'refresh lookup still answers')
  })

  t.test('bigint columns come back as numbers; pg.types is left alone', async (t) => {
    const schema = testSchema(t)
    const stores = await createPostgresStores(PG_URL, { schema })
    t.teardown(stores.close)
    const { rows } = await sql<{ n: unknown }>`select 1700000000123::bigint as n`.execute(stores.db)
    t.equal(rows[0].n, 1700000000123)
    const pg = (await import('pg')).default
    t.equal(pg.types.getTypeParser(20)('5'), '5', 'the global int8 parser is unchanged')
  })

  t.test('schemas isolate: same database, separate users', async (t) => {
    const a = await createPostgresStores(PG_URL, { schema: testSchema(t) })
    const b = await createPostgresStores(PG_URL, { schema: testSchema(t) })
    t.teardown(async () => { await Promise.all([a.close(), b.close()]) })
    await a.users.createUser(user('alice'))
    t.equal(await b.users.findUserByUsername('alice'), null)
    t.equal((await b.users.createUser(user('alice'))).id, 1, 'each schema has its own sequence')
  })

  t.test('several instances migrating a fresh schema at once: one applies, all work', async (t) => {
    const schema = testSchema(t)
    const opened = await Promise.all(Array.from({ length: 4 }, async () => await createPostgresStores(PG_URL, { schema, poolSize: 2 })))
    t.teardown(async () => { await Promise.all(opened.map(async (s) => { await s.close() })) })
    t.same(opened.flatMap((s) => s.applied), ALL_MIGRATIONS, 'each migration ran once')
    const alice = await opened[0].users.createUser(user('alice'))
    for (const stores of opened) t.same(await stores.users.findUserById(alice.id), alice)
    const again = await createPostgresStores(PG_URL, { schema })
    t.same(again.applied, [], 'reopening applies nothing')
    await again.close()
  })

  t.test('migrate: false opens without touching the schema', async (t) => {
    const schema = testSchema(t)
    const stores = await createPostgresStores(PG_URL, { schema, migrate: false })
    t.teardown(stores.close)
    t.same(stores.applied, [])
    const { rows } = await sql<{ n: number }>`select count(*) as n from pg_tables where schemaname = ${schema}`.execute(stores.db)
    t.equal(rows[0].n, 0, 'no tables')
  })

  t.test('npm run migrate (lib/migrate.ts) migrates DATABASE_URL alone', async (t) => {
    const schema = testSchema(t)
    t.same(await migrate({ DATABASE_URL: PG_URL, DATABASE_SCHEMA: schema }), { url: PG_URL, applied: ALL_MIGRATIONS })
    t.same(await migrate({ DATABASE_URL: PG_URL, DATABASE_SCHEMA: schema }), { url: PG_URL, applied: [] }, 'then up to date')
    const stores = await createPostgresStores(PG_URL, { schema, migrate: false })
    t.teardown(stores.close)
    t.same(await stores.users.listUsers(), [], 'the tables are there')

    const dir = mkdtempSync(join(tmpdir(), 'fastify-accounts-migrate-'))
    t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
    t.same((await migrate({ DATA_DIR: dir })).applied, Object.keys(accountsMigrations('sqlite')).sort(), 'without DATABASE_URL: the SQLite file under DATA_DIR')
    t.same((await migrate({ DATABASE_URL: `sqlite:${join(dir, 'accounts.db')}` })).applied, [])
    await t.rejects(migrate({ DATABASE_URL: 'mysql://localhost/x' }), /unsupported database URL scheme "mysql:"/)
  })

  t.test('createStores: postgres:// and postgresql:// select PostgreSQL', async (t) => {
    for (const url of [PG_URL, PG_URL.replace(/^postgres:/, 'postgresql:')]) {
      const schema = testSchema(t)
      const stores = await createStores({ databaseUrl: url, postgres: { schema } })
      t.same(stores.kind, { users: 'postgres', tokens: 'postgres' })
      const alice = await stores.users.createUser(user('alice'))
      t.equal(alice.id, 1)
      await stores.close()
      await stores.close()
      t.pass('close is idempotent')
    }
  })

  t.test('a bad schema name is refused before connecting', async (t) => {
    await t.rejects(createPostgresStores(PG_URL, { schema: 'Robert"; drop table x; --' }), TypeError)
  })

  t.test('an unreachable server at open: StoreUnavailableError, quickly', async (t) => {
    const started = Date.now()
    const err = await createPostgresStores('postgres://postgres@127.0.0.1:1/test', { schema: 'fa_never' }).catch((e: unknown) => e)
    t.ok(err instanceof StoreUnavailableError, `StoreUnavailableError (${String(err)})`)
    t.ok(Date.now() - started < 2000, `within 2 s (${Date.now() - started} ms)`)
  })
})
