import { copyFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import SQLite from 'better-sqlite3'
import { sql } from 'kysely'
import pg from 'pg'
import t, { type Test } from 'tap'
import { main } from '../bin/import-django.js'
import { DjangoImportError, formatSummary, importDjango, type ImportSummary, type ImportTarget } from '../lib/import-django.js'
import { DjangoPasswordHasher } from '../lib/passwords/django.js'
import { MemoryTokenStore, MemoryUserStore } from '../lib/stores/memory.js'
import { createStores, type Stores } from '../lib/stores/factory.js'
import { hashAuthToken } from '../lib/tokens.js'
import { fastHasher } from './helpers/app.js'
import { body, buildInstance, keysWithTtl, PG_URL, REDIS_URL, serviceTest, testKeyPrefix, testSchema } from './helpers/services.js'

const FIXTURE_DB = fileURLToPath(new URL('./fixtures/django.sqlite3', import.meta.url))

interface FixtureUser {
  id: number
  username: string
  email: string
  password: string
  hasher: string
  isActive: boolean
  isStaff: boolean
  isSuperuser: boolean
  firstName: string
  lastName: string
}
interface FixtureJwt { username: string, userId: number, jti: string, access: string, refresh: string, blacklisted: boolean, expired: boolean }
const FIXTURE = JSON.parse(readFileSync(new URL('./fixtures/django-tokens.json', import.meta.url), 'utf8')) as {
  secretKey: string
  users: FixtureUser[]
  deletedIds: number[]
  drfTokens: Record<string, string>
  jwt: FixtureJwt[]
}
const byName = (username: string): FixtureUser => {
  const user = FIXTURE.users.find((u) => u.username === username)
  if (user === undefined) throw new Error(`no fixture user ${username}`)
  return user
}
const MAX_ID = Math.max(...FIXTURE.users.map((u) => u.id))
const LIVE_JWTS = FIXTURE.jwt.filter((j) => !j.expired)

/** What the import can have written, as the ports see it (and, for SQL, the row counts). */
async function snapshot (stores: ImportTarget): Promise<unknown> {
  const users = await stores.users.listUsers()
  const auth = await Promise.all(Object.values(FIXTURE.drfTokens).map(async (key) => await stores.tokens.findAuthToken(hashAuthToken(key))))
  const refresh = await Promise.all(FIXTURE.jwt.map(async (j) => await stores.tokens.findRefreshToken(j.jti)))
  let counts: unknown = null
  if (stores.db !== undefined) {
    const count = async (table: 'accounts_user' | 'accounts_refresh_token' | 'accounts_auth_token'): Promise<number> =>
      Number((await stores.db!.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)
    counts = [await count('accounts_user'), await count('accounts_refresh_token'), await count('accounts_auth_token')]
  }
  return JSON.parse(JSON.stringify({ users, auth, refresh, counts }))
}

function checkSummary (t: Test, summary: ImportSummary, secondRun: boolean): void {
  const nUsers = FIXTURE.users.length
  const nAuth = Object.keys(FIXTURE.drfTokens).length
  t.same(summary.users, { read: nUsers, inserted: secondRun ? 0 : nUsers, updated: 0, unchanged: secondRun ? nUsers : 0, skipped: 0 })
  t.same(summary.authTokens, { read: nAuth, inserted: secondRun ? 0 : nAuth, updated: 0, unchanged: secondRun ? nAuth : 0, skipped: 0 })
  t.same(summary.refreshTokens, {
    read: FIXTURE.jwt.length, inserted: secondRun ? 0 : LIVE_JWTS.length, updated: 0, unchanged: secondRun ? LIVE_JWTS.length : 0, skipped: 1
  }, 'the expired one is skipped')
}

/** Imports twice into `stores` (the second run changes nothing), then uses every credential over HTTP. */
async function importAndUse (t: Test, stores: Stores | ImportTarget, options: { transactional: boolean, full?: boolean }): Promise<void> {
  const lines: string[] = []
  const first = await importDjango({ from: FIXTURE_DB, store: stores, logger: { info: (line) => lines.push(line) }, batchSize: 3, progressEvery: 3 })
  t.equal(first.transactional, options.transactional)
  checkSummary(t, first, false)
  t.ok(lines.includes('auth_user: 6 of 8 rows (75%)'), 'a progress line on a table larger than progressEvery')
  t.same(lines.slice(-3), formatSummary(first), 'the summary ends the log')
  t.same(formatSummary(first), [
    'auth_user: 8 read, 8 imported, 0 already there',
    'authtoken_token: 3 read, 3 imported, 0 already there',
    'token_blacklist (refresh tokens): 8 read, 7 imported, 0 already there, 1 skipped'
  ])

  const before = await snapshot(stores)
  const second = await importDjango({ from: `sqlite:${FIXTURE_DB}`, store: stores })
  checkSummary(t, second, true)
  t.same(await snapshot(stores), before, 'a second run changes nothing')

  // Ids, flags, names and dates are Django's.
  const users = await stores.users.listUsers()
  t.same(users.map((u) => u.id), FIXTURE.users.map((u) => u.id), 'ids kept, gaps included')
  for (const f of FIXTURE.users) {
    t.match(users.find((u) => u.id === f.id), {
      username: f.username, email: f.email, isActive: f.isActive, isStaff: f.isStaff, isSuperuser: f.isSuperuser, firstName: f.firstName, lastName: f.lastName
    }, f.username)
  }
  const alice = users.find((u) => u.username === 'alice')
  t.equal(alice?.dateJoined.toISOString(), '2020-01-02T03:04:05.678Z')
  t.equal(alice?.lastLogin?.toISOString(), '2024-06-07T08:09:10.111Z')
  t.equal(users.find((u) => u.username === 'bob')?.lastLogin, null)
  t.match(users.find((u) => u.username === 'grace')?.password, /^!/, 'an unusable password stays unusable')

  const app = await buildInstance(t, stores, { passwordHasher: new DjangoPasswordHasher(fastHasher), jwt: { signingKey: FIXTURE.secretKey } })
  const me = async (authorization: string): Promise<ReturnType<typeof body> & { statusCode: number }> => {
    const res = await app.get('/users/me/', { authorization })
    return { ...body(res), statusCode: res.statusCode }
  }

  // simplejwt's access tokens: every one still works (simplejwt never blacklists access tokens).
  for (const j of FIXTURE.jwt) {
    const res = await me(`Bearer ${j.access}`)
    if (j.username === 'heidi') t.match(res, { statusCode: 401, code: 'user_inactive' }, 'heidi is inactive')
    else t.match(res, { statusCode: 200, id: j.userId, username: j.username }, `${j.username}'s Django access token`)
  }
  // Their refresh tokens: live ones refresh, blacklisted and expired ones are token_not_valid.
  for (const j of FIXTURE.jwt) {
    const res = await app.post('/jwt/refresh/', { refresh: j.refresh })
    if (j.blacklisted || j.expired) {
      t.match({ statusCode: res.statusCode, ...body(res) }, { statusCode: 401, code: 'token_not_valid' }, `${j.username}: ${j.blacklisted ? 'blacklisted in Django' : 'expired'}`)
      const verify = await app.post('/jwt/verify/', { token: j.refresh })
      t.equal(verify.statusCode, 401, 'and /jwt/verify/ agrees')
    } else {
      t.equal(res.statusCode, 200, `${j.username}'s Django refresh token`)
      const access = body(res).access as string
      t.match(await me(`Bearer ${access}`), j.username === 'heidi' ? { statusCode: 401 } : { statusCode: 200, id: j.userId })
    }
  }
  // DRF keys through `Token <key>`.
  for (const [username, key] of Object.entries(FIXTURE.drfTokens)) {
    const res = await me(`Token ${key}`)
    if (username === 'heidi') t.equal(res.statusCode, 401, 'an inactive user\'s key is refused, as DRF does')
    else t.match(res, { statusCode: 200, id: byName(username).id }, `${username}'s DRF key`)
  }

  // Everyone logs in with the password Django knew; each legacy hash becomes argon2id.
  for (const f of FIXTURE.users) {
    const res = await app.post('/jwt/create/', { username: f.username, password: f.password })
    const stored = (await stores.users.findUserById(f.id))?.password ?? ''
    if (!f.isActive || f.hasher === 'unusable') {
      t.equal(res.statusCode, 401, `${f.username} (${f.hasher}${f.isActive ? '' : ', inactive'}) cannot log in`)
      t.notMatch(stored, /^\$argon2id\$/, 'and keeps the Django hash')
      continue
    }
    t.equal(res.statusCode, 200, `${f.username} logs in (${f.hasher})`)
    t.match(stored, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/, `${f.username}'s hash is now argon2id`)
    const again = await app.post('/token/login/', { username: f.username, password: f.password })
    t.equal(again.statusCode, 200, 'and the password still works')
    const wrong = await app.post('/jwt/create/', { username: f.username, password: f.password + '!' })
    t.equal(wrong.statusCode, 401)
  }

  // New users continue after the largest imported id.
  const signup = await app.post('/users/', { username: 'newcomer', email: 'newcomer@example.com', password: 'a-new-password-9876' })
  t.equal(signup.statusCode, 201)
  t.ok((body(signup).id as number) > MAX_ID, `a signup after the import gets id ${String(body(signup).id)} > ${MAX_ID}`)

  if (options.full === true) {
    // The imported refresh records are the user's: a password change revokes Django's live refresh tokens too.
    const carol = byName('carol')
    const carolJwt = LIVE_JWTS.find((j) => j.username === 'carol')!
    const changed = await app.post('/users/set_password/', { current_password: carol.password, new_password: 'carols-new-password-42' },
      { authorization: `Bearer ${carolJwt.access}` })
    t.equal(changed.statusCode, 204)
    const refresh = await app.post('/jwt/refresh/', { refresh: carolJwt.refresh })
    t.match({ statusCode: refresh.statusCode, ...body(refresh) }, { statusCode: 401, code: 'token_not_valid' }, 'revoked with the password change')
    // Logout with a DRF key deletes it.
    const bobKey = FIXTURE.drfTokens.bob
    t.equal((await app.post('/token/logout/', {}, { authorization: `Token ${bobKey}` })).statusCode, 204)
    t.equal((await me(`Token ${bobKey}`)).statusCode, 401)
  }
}

/** A user of the target whose email is a Django user's (zoë, imported late): the import fails midway. */
async function failMidway (t: Test, stores: Stores): Promise<void> {
  await stores.users.createUser({ id: 100, username: 'early-bird', email: 'ZOE@example.com', password: 'x', isActive: true })
  const before = await snapshot(stores)
  await t.rejects(importDjango({ from: FIXTURE_DB, store: stores, batchSize: 2 }), {
    name: 'DjangoImportError', message: /auth_user id 7 \(zoë\): another user of the target already has this email/
  })
  t.same(await snapshot(stores), before, 'the target is as it was: the users imported before zoë are rolled back')
  t.same((await stores.users.listUsers()).map((u) => u.username), ['early-bird'])
}

t.test('simplejwt 5.2.2 tokens carry the claims and header this plugin signs and checks', async (t) => {
  const [header, payload] = FIXTURE.jwt[0].access.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>)
  t.same(header, { alg: 'HS256', typ: 'JWT' })
  t.same(Object.keys(payload).sort(), ['exp', 'iat', 'jti', 'token_type', 'user_id'])
  t.match(payload, { token_type: 'access', user_id: FIXTURE.jwt[0].userId, jti: /^[0-9a-f]{32}$/ })
  const refresh = JSON.parse(Buffer.from(FIXTURE.jwt[0].refresh.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>
  t.equal(refresh.token_type, 'refresh')
  t.equal(refresh.jti, FIXTURE.jwt[0].jti)
})

t.test('into SQLite', async (t) => {
  const stores = await createStores({ databaseUrl: `sqlite:${join(t.testdir(), 'accounts.db')}` })
  t.teardown(stores.close)
  await importAndUse(t, stores, { transactional: true, full: true })
})

t.test('into SQLite: a failure midway leaves the target as it was', async (t) => {
  const stores = await createStores({ databaseUrl: `sqlite:${join(t.testdir(), 'accounts.db')}` })
  t.teardown(stores.close)
  await failMidway(t, stores)
})

t.test('into memory stores (no transaction)', async (t) => {
  const stores = { users: new MemoryUserStore(), tokens: new MemoryTokenStore() }
  const summary = await importDjango({ from: FIXTURE_DB, store: stores })
  t.equal(summary.transactional, false)
  checkSummary(t, summary, false)
  checkSummary(t, await importDjango({ from: FIXTURE_DB, store: stores }), true)
  const created = await stores.users.createUser({ username: 'next', email: 'next@example.com', password: 'x', isActive: true })
  t.ok(created.id > MAX_ID)
})

t.test('a Django database the target cannot take is refused before anything is written', async (t) => {
  const dir = t.testdir()
  const copy = join(dir, 'django.sqlite3')
  copyFileSync(FIXTURE_DB, copy)
  const db = new SQLite(copy)
  db.prepare("update auth_user set email = 'ALICE@example.com' where username = 'bob'").run()
  db.prepare("update auth_user set email = '' where username in ('carol', 'dave')").run()
  db.close()
  const stores = await createStores({ databaseUrl: `sqlite:${join(dir, 'accounts.db')}` })
  t.teardown(stores.close)
  await t.rejects(importDjango({ from: copy, store: stores }), {
    name: 'DjangoImportError', message: /emails shared by several users \(\(blank\) × 2, alice@example\.com × 2\)/
  })
  t.same((await stores.users.listUsers()).length, 0)

  await t.rejects(importDjango({ from: join(dir, 'missing.sqlite3'), store: stores }), new DjangoImportError(`no such file: ${join(dir, 'missing.sqlite3')}`))
  await t.rejects(importDjango({ from: join(dir, 'accounts.db'), store: stores }), { message: /has no auth_user table/ })
  await t.rejects(importDjango({ from: 'mysql://root@localhost/django', store: stores }), { message: /unsupported source/ })
  t.same((await stores.users.listUsers()).length, 0)
})

/** A copy of the fixture Django database with `changes` (SQL) made to it. */
function fixtureWith (t: Test, changes: string): string {
  const copy = join(t.testdir(), 'django.sqlite3')
  copyFileSync(FIXTURE_DB, copy)
  const db = new SQLite(copy)
  db.exec(changes)
  db.close()
  return copy
}

t.test('without the authtoken and token_blacklist apps, only users are imported', async (t) => {
  const copy = fixtureWith(t, 'drop table authtoken_token; drop table token_blacklist_blacklistedtoken; drop table token_blacklist_outstandingtoken')
  const summary = await importDjango({ from: copy, store: { users: new MemoryUserStore(), tokens: new MemoryTokenStore() } })
  t.equal(summary.users.inserted, FIXTURE.users.length)
  t.equal(summary.authTokens, null)
  t.equal(summary.refreshTokens, null)
  t.match(formatSummary(summary), [/auth_user/, 'authtoken_token: not in the Django database, skipped', /not in the Django database/])
})

t.test('without the blacklist table, the outstanding refresh tokens are skipped too', async (t) => {
  const copy = fixtureWith(t, 'drop table token_blacklist_blacklistedtoken')
  const summary = await importDjango({ from: copy, store: { users: new MemoryUserStore(), tokens: new MemoryTokenStore() } })
  t.equal(summary.refreshTokens, null)
  t.equal(summary.authTokens?.inserted, Object.keys(FIXTURE.drfTokens).length)
  t.equal(formatSummary(summary)[2], 'token_blacklist (refresh tokens): not in the Django database, skipped')
})

t.test('the command line', async (t) => {
  const dir = t.testdir()
  const out: string[] = []
  const err: string[] = []
  const log = console.log
  const error = console.error
  console.log = (line: string) => { out.push(line) }
  console.error = (line: string) => { err.push(line) }
  t.teardown(() => {
    console.log = log
    console.error = error
  })
  const env = { DATABASE_URL: `sqlite:${join(dir, 'accounts.db')}` }
  t.equal(await main(['--from', FIXTURE_DB], env), 0)
  t.equal(await main(['--from', FIXTURE_DB], env), 0)
  t.equal(await main([], env), 2)
  t.equal(await main(['--form', FIXTURE_DB], env), 2)
  t.equal(await main(['--from', join(dir, 'nope.sqlite3')], env), 1)
  t.equal(await main(['--help'], env), 0)
  console.log = log
  console.error = error
  t.match(out, [
    /^import-django: from .*django\.sqlite3 into sqlite:/,
    'import-django: auth_user: 8 read, 8 imported, 0 already there',
    'import-django: authtoken_token: 3 read, 3 imported, 0 already there',
    'import-django: token_blacklist (refresh tokens): 8 read, 7 imported, 0 already there, 1 skipped',
    'import-django: done',
    /^import-django: from/,
    'import-django: auth_user: 8 read, 0 imported, 8 already there',
    'import-django: authtoken_token: 3 read, 0 imported, 3 already there',
    'import-django: token_blacklist (refresh tokens): 8 read, 0 imported, 7 already there, 1 skipped',
    'import-django: done'
  ])
  t.match(err, [/--from is required/, /Unknown option '--form'/, /import-django: failed: no such file: /])
})

await serviceTest(t, 'into PostgreSQL', ['postgres'], async (t) => {
  const schema = testSchema(t)
  const stores = await createStores({ databaseUrl: PG_URL, postgres: { schema } })
  t.teardown(stores.close)
  await importAndUse(t, stores, { transactional: true })
})

await serviceTest(t, 'into PostgreSQL: a failure midway leaves the target as it was', ['postgres'], async (t) => {
  const schema = testSchema(t)
  const stores = await createStores({ databaseUrl: PG_URL, postgres: { schema } })
  t.teardown(stores.close)
  await failMidway(t, stores)
  // The sequence moved past the failed import's ids (PostgreSQL never rolls sequences back): harmless gaps.
  const next = await stores.users.createUser({ username: 'after', email: 'after@example.com', password: 'x', isActive: true })
  t.ok(next.id > 100)
})

await serviceTest(t, 'users in SQLite, tokens in Redis', ['redis'], async (t) => {
  const keyPrefix = testKeyPrefix(t)
  const stores = await createStores({ databaseUrl: `sqlite:${join(t.testdir(), 'accounts.db')}`, redisUrl: REDIS_URL, redis: { keyPrefix } })
  t.teardown(stores.close)
  t.equal(stores.kind.tokens, 'redis')
  await importAndUse(t, stores, { transactional: true })
})

await serviceTest(t, 'users in SQLite, tokens in Redis: a failed user import writes no token', ['redis'], async (t) => {
  const keyPrefix = testKeyPrefix(t)
  const stores = await createStores({ databaseUrl: `sqlite:${join(t.testdir(), 'accounts.db')}`, redisUrl: REDIS_URL, redis: { keyPrefix } })
  t.teardown(stores.close)
  await failMidway(t, stores)
  t.equal((await keysWithTtl(keyPrefix)).size, 0)
})

await serviceTest(t, 'from a Django database on PostgreSQL', ['postgres'], async (t) => {
  // Django's PostgreSQL tables (the columns the import reads, with Django's types), filled from the fixture.
  const schema = testSchema(t, 'fa_django')
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  t.teardown(async () => { await client.end() })
  await client.query(`create schema ${schema}; set search_path to ${schema};
    create table auth_user (id serial primary key, password varchar(128) not null, last_login timestamptz null,
      is_superuser boolean not null, username varchar(150) not null unique, first_name varchar(150) not null,
      last_name varchar(150) not null, email varchar(254) not null, is_staff boolean not null, is_active boolean not null,
      date_joined timestamptz not null);
    create table authtoken_token (key varchar(40) primary key, created timestamptz not null, user_id integer not null unique references auth_user);
    create table token_blacklist_outstandingtoken (id bigserial primary key, token text not null, created_at timestamptz null,
      expires_at timestamptz not null, user_id integer null references auth_user, jti varchar(255) not null unique);
    create table token_blacklist_blacklistedtoken (id bigserial primary key, blacklisted_at timestamptz not null,
      token_id bigint not null unique references token_blacklist_outstandingtoken)`)
  const django = new SQLite(FIXTURE_DB, { readonly: true })
  const utc = (value: unknown): unknown => typeof value === 'string' ? `${value}+00` : value
  for (const table of ['auth_user', 'authtoken_token', 'token_blacklist_outstandingtoken', 'token_blacklist_blacklistedtoken']) {
    for (const row of django.prepare(`select * from ${table}`).all() as Array<Record<string, unknown>>) {
      const columns = Object.keys(row)
      const values = columns.map((c) => /^(is_|last_login|date_joined|created|expires_at|blacklisted_at)/.test(c) && !c.startsWith('is_') ? utc(row[c]) : c.startsWith('is_') ? row[c] === 1 : row[c])
      await client.query(`insert into ${table} (${columns.map((c) => `"${c}"`).join(', ')}) values (${columns.map((_, i) => `$${i + 1}`).join(', ')})`, values)
    }
  }
  django.close()

  const fromSqlite = await createStores({ databaseUrl: `sqlite:${join(t.testdir(), 'a.db')}` })
  const fromPostgres = await createStores({ databaseUrl: `sqlite:${join(t.testdir(), 'b.db')}` })
  t.teardown(async () => { await Promise.all([fromSqlite.close(), fromPostgres.close()]) })
  await importDjango({ from: FIXTURE_DB, store: fromSqlite })
  const url = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`
  const summary = await importDjango({ from: url, store: fromPostgres })
  checkSummary(t, summary, false)
  checkSummary(t, await importDjango({ from: url, store: fromPostgres }), true)
  // The same rows, whichever database Django used (revocation times are the import's own).
  const strip = (s: unknown): unknown => JSON.parse(JSON.stringify(s, (key, value: unknown) => key === 'revokedAt' && value !== null ? 'set' : value))
  t.same(strip(await snapshot(fromPostgres)), strip(await snapshot(fromSqlite)))
  const { rows } = await sql<{ n: number }>`select count(*) as n from accounts_user`.execute(fromPostgres.db)
  t.equal(Number(rows[0].n), FIXTURE.users.length)
})
