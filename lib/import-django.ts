/**
 * `npm run import-django -- --from <django sqlite file | postgres://…>`: copies a Django project's users and
 * live tokens into the stores DATABASE_URL (and REDIS_URL) name, so nobody is logged out by the move:
 *
 * - `auth_user` → users, keeping ids (uid links already mailed and the `user_id` of live JWTs still point at
 *   the same people), password hashes as they are (DjangoPasswordHasher reads them; they become argon2id on
 *   each user's next login), flags, names, date_joined and last_login;
 * - `authtoken_token` (DRF's TokenAuthentication) → opaque tokens, stored as their SHA-256 (the keys keep
 *   working with `Authorization: Token <key>`);
 * - simplejwt's `token_blacklist_outstandingtoken` / `token_blacklist_blacklistedtoken` → refresh-token
 *   records, the blacklisted ones revoked (so they stay rejected) and the others recorded (so a password
 *   change here revokes them too). Expired ones are skipped.
 *
 * Idempotent: a row already in the target (same id, or same token) is left as it is, so a second run changes
 * nothing. Transactional on SQL targets: users and SQL-stored tokens are written in one transaction, and any
 * failure (a username or email already taken by another user, a broken row, a lost connection) rolls all
 * of it back. A Redis token store is filled after that commit; it is idempotent, so after a failure there
 * simply run the import again. Tables the project did not use (authtoken, token_blacklist) are skipped.
 *
 * The source is only read, in one read transaction (a consistent snapshot). Django's `DATETIME` values are
 * taken as UTC (Django's USE_TZ = True, the default since 1.x's startproject).
 */
import { existsSync } from 'node:fs'
import type SQLite from 'better-sqlite3'
import type { Kysely } from 'kysely'
import type pg from 'pg'
import { loadOptional } from './optional-package.js'
import { DuplicateUserError, type NewRefreshToken, type TokenStore, type User, type UserStore } from './ports.js'
import { redactUrl, sqliteFilenameOf } from './stores/factory.js'
import { KyselyTokenStore, KyselyUserStore } from './stores/kysely.js'
import type { Database } from './stores/schema.js'
import { hashAuthToken } from './tokens.js'

/** Where progress and the summary go: `console`, a pino/Fastify logger (info with a string), or your own. */
export interface ImportLogger {
  info (message: string): void
}

/** The stores to fill. Pass what `createStores` returns to get the transaction (it carries `db` and `kind`). */
export interface ImportTarget {
  users: UserStore
  tokens: TokenStore
  /** The SQL database of `users` (and of `tokens` unless `kind.tokens` is 'redis'): the import runs in one of its transactions. */
  db?: Kysely<Database>
  kind?: { tokens: string }
}

export interface ImportDjangoOptions {
  /** A Django SQLite database file (a path or `sqlite:<path>`), or a `postgres://…` URL. */
  from: string
  store: ImportTarget
  logger?: ImportLogger
  /** A progress line every this many rows, on tables larger than that (default 1000). */
  progressEvery?: number
  /** Rows read per query (default 1000). */
  batchSize?: number
  /** What counts as expired for simplejwt's outstanding tokens (default now). */
  now?: Date
}

/** What happened to the rows of one Django table. */
export interface TableSummary {
  /** Rows read from Django. */
  read: number
  /** Rows written to the target. */
  inserted: number
  /** Records that existed and were changed (a refresh token blacklisted in Django since the last run). */
  updated: number
  /** Rows already in the target, left as they were. */
  unchanged: number
  /** Rows not imported (expired refresh tokens, token keys DRF would not have made). */
  skipped: number
}

export interface ImportSummary {
  from: string
  users: TableSummary
  /** null when the Django database has no authtoken_token table. */
  authTokens: TableSummary | null
  /** null when it has no token_blacklist tables. */
  refreshTokens: TableSummary | null
  /** True when users and SQL tokens were written in one transaction. */
  transactional: boolean
}

/** The import cannot proceed; nothing was written (on SQL targets). The message says what to fix. */
export class DjangoImportError extends Error {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'DjangoImportError'
  }
}

// ---- the Django side ------------------------------------------------------------------------------------

type Row = Record<string, unknown>

/** Read-only access to the Django database, inside one read transaction. */
interface Source {
  readonly description: string
  hasTable (name: string): Promise<boolean>
  /** `sql` uses `?` placeholders. */
  query (sql: string, params?: unknown[]): Promise<Row[]>
  close (): Promise<void>
}

// The source's driver is loaded only for a source of its kind (both are optional peer dependencies).
const loadSqlite = async (): Promise<typeof SQLite> =>
  (await loadOptional('better-sqlite3', 'Django SQLite sources', async () => await import('better-sqlite3'))).default
const loadPg = async (): Promise<typeof pg> =>
  (await loadOptional('pg', 'Django PostgreSQL sources', async () => await import('pg'))).default

async function sqliteSource (file: string): Promise<Source> {
  if (!existsSync(file)) throw new DjangoImportError(`no such file: ${file}`)
  const Database = await loadSqlite()
  let db: SQLite.Database
  try {
    db = new Database(file, { readonly: true, fileMustExist: true })
    db.pragma('busy_timeout = 5000')
    // A deferred transaction: the first read takes the snapshot every later read sees.
    db.exec('BEGIN')
  } catch (error) {
    throw new DjangoImportError(`cannot open ${file} as a SQLite database: ${(error as Error).message}`, { cause: error })
  }
  return {
    description: file,
    hasTable: async (name) => db.prepare("select 1 from sqlite_master where type in ('table', 'view') and name = ?").get(name) !== undefined,
    query: async (sql, params = []) => db.prepare(sql).all(...params) as Row[],
    close: async () => {
      if (db.inTransaction) db.exec('ROLLBACK')
      db.close()
    }
  }
}

async function postgresSource (url: string): Promise<Source> {
  const { Client } = await loadPg()
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000, application_name: 'fastify-accounts import-django' })
  client.on('error', () => { /* the failing query reports it */ })
  try {
    await client.connect()
    await client.query('begin isolation level repeatable read read only')
  } catch (error) {
    await client.end().catch(() => {})
    throw new DjangoImportError(`cannot connect to ${redactUrl(url)}: ${(error as Error).message}`, { cause: error })
  }
  return {
    description: redactUrl(url),
    hasTable: async (name) => (await client.query<{ present: boolean }>('select to_regclass($1) is not null as present', [name])).rows[0].present,
    query: async (sql, params = []) => {
      let n = 0
      return (await client.query(sql.replace(/\?/g, () => `$${++n}`), params)).rows as Row[]
    },
    close: async () => {
      await client.query('rollback').catch(() => {})
      await client.end()
    }
  }
}

async function openSource (from: string): Promise<Source> {
  if (/^postgres(ql)?:\/\//i.test(from)) return await postgresSource(from)
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(from) && !/^sqlite:/i.test(from)) {
    throw new DjangoImportError(`unsupported source ${redactUrl(from)}: give a Django SQLite file or a postgres://… URL`)
  }
  return await sqliteSource(/^sqlite:/i.test(from) ? sqliteFilenameOf(from) : from)
}

/** Every row of `table` in pages ordered by `key`, `columns` selected from `from` (`table` with joins). */
async function * pages (source: Source, select: string, key: string, batchSize: number): AsyncGenerator<Row[]> {
  let after: unknown
  for (;;) {
    const where = after === undefined ? '' : ` where ${key} > ?`
    const rows = await source.query(`${select}${where} order by ${key} limit ${batchSize}`, after === undefined ? [] : [after])
    if (rows.length === 0) return
    yield rows
    after = rows[rows.length - 1].__key
    if (rows.length < batchSize) return
  }
}

function bad (table: string, row: Row, what: string): DjangoImportError {
  const id = row.id ?? row.__key
  return new DjangoImportError(`${table} row ${String(id)}: ${what}`)
}

function integer (table: string, row: Row, column: string): number {
  const value = row[column]
  const n = typeof value === 'bigint' ? Number(value) : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) throw bad(table, row, `${column} is not a positive integer (${String(value)})`)
  return n
}

function text (table: string, row: Row, column: string): string {
  const value = row[column]
  if (typeof value !== 'string') throw bad(table, row, `${column} is not text`)
  return value
}

function bool (table: string, row: Row, column: string): boolean {
  const value = row[column]
  if (value === true || value === 1 || value === 1n || value === '1' || value === 't') return true
  if (value === false || value === 0 || value === 0n || value === '0' || value === 'f') return false
  throw bad(table, row, `${column} is not a boolean (${String(value)})`)
}

/**
 * A Django DateTimeField: a Date from PostgreSQL; in SQLite, text `YYYY-MM-DD HH:MM:SS[.ffffff][+HH:MM]`,
 * UTC when it has no offset (Django writes UTC there when USE_TZ is on). Microseconds are cut to milliseconds.
 */
function datetime (table: string, row: Row, column: string, nullable: true): Date | null
function datetime (table: string, row: Row, column: string, nullable?: false): Date
function datetime (table: string, row: Row, column: string, nullable = false): Date | null {
  const value = row[column]
  if (value === null || value === undefined) {
    if (nullable) return null
    throw bad(table, row, `${column} is empty`)
  }
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value
  if (typeof value === 'string') {
    const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/.exec(value.trim())
    if (m !== null) {
      const millis = (m[3] ?? '').padEnd(3, '0').slice(0, 3)
      const date = new Date(`${m[1]}T${m[2]}.${millis}${m[4] ?? 'Z'}`)
      if (!Number.isNaN(date.getTime())) return date
    }
  }
  throw bad(table, row, `${column} is not a date and time (${String(value)})`)
}

// ---- the import -----------------------------------------------------------------------------------------

const USERS_SELECT = 'select id as __key, id, username, email, password, is_active, is_staff, is_superuser, first_name, last_name, date_joined, last_login from auth_user'
const AUTH_TOKENS_SELECT = 'select "key" as __key, "key", created, user_id from authtoken_token'
const REFRESH_SELECT = 'select o.id as __key, o.id, o.jti, o.expires_at, o.user_id, b.id as blacklisted_id ' +
  'from token_blacklist_outstandingtoken o left join token_blacklist_blacklistedtoken b on b.token_id = o.id'
const REFRESH_KEY = 'o.id'

/** DRF's keys are 40 lower-case hex characters; the token login accepts nothing else. */
const DRF_KEY = /^[0-9a-f]{40}$/

function emptySummary (): TableSummary {
  return { read: 0, inserted: 0, updated: 0, unchanged: 0, skipped: 0 }
}

class Progress {
  readonly #logger: ImportLogger
  readonly #every: number
  readonly #table: string
  readonly #total: number
  #next: number

  constructor (logger: ImportLogger, every: number, table: string, total: number) {
    this.#logger = logger
    this.#every = every
    this.#table = table
    this.#total = total
    this.#next = every
  }

  advance (done: number): void {
    if (this.#total <= this.#every || done < this.#next) return
    this.#next = (Math.floor(done / this.#every) + 1) * this.#every
    this.#logger.info(`${this.#table}: ${done} of ${this.#total} rows (${Math.floor(done * 100 / this.#total)}%)`)
  }
}

interface Run {
  source: Source
  logger: ImportLogger
  progressEvery: number
  batchSize: number
  now: Date
}

async function countRows (source: Source, table: string): Promise<number> {
  const rows = await source.query(`select count(*) as n from ${table}`)
  return Number(rows[0]?.n ?? 0)
}

/** Django allows duplicate and blank emails; the target's email is unique (any letter case). Say which, up front. */
async function checkEmails (source: Source): Promise<void> {
  const dupes = await source.query('select lower(email) as email, count(*) as n from auth_user group by lower(email) having count(*) > 1 order by lower(email) limit 10')
  if (dupes.length === 0) return
  const list = dupes.map((r) => `${r.email === '' ? '(blank)' : String(r.email)} × ${String(r.n)}`).join(', ')
  throw new DjangoImportError(
    `auth_user has emails shared by several users (${list}${dupes.length === 10 ? ', …' : ''}); ` +
    'here an email belongs to one user (case-insensitively). Give those users distinct emails in Django, then run the import again.')
}

function sameUser (existing: User, id: number, username: string): void {
  if (existing.username !== username) {
    throw new DjangoImportError(`auth_user id ${id} (${username}): the target already has user id ${id} with username ${existing.username}; import into an empty database`)
  }
}

async function importUsers (run: Run, users: UserStore): Promise<TableSummary> {
  const summary = emptySummary()
  const table = 'auth_user'
  if (!(await run.source.hasTable(table))) throw new DjangoImportError(`${run.source.description} has no auth_user table: is it a Django database (with django.contrib.auth migrated)?`)
  await checkEmails(run.source)
  const progress = new Progress(run.logger, run.progressEvery, table, await countRows(run.source, table))
  for await (const rows of pages(run.source, USERS_SELECT, 'id', run.batchSize)) {
    for (const row of rows) {
      summary.read++
      const id = integer(table, row, 'id')
      const username = text(table, row, 'username')
      const existing = await users.findUserById(id)
      if (existing !== null) {
        sameUser(existing, id, username)
        summary.unchanged++
        continue
      }
      try {
        await users.createUser({
          id,
          username,
          email: text(table, row, 'email'),
          password: text(table, row, 'password'),
          isActive: bool(table, row, 'is_active'),
          isStaff: bool(table, row, 'is_staff'),
          isSuperuser: bool(table, row, 'is_superuser'),
          firstName: text(table, row, 'first_name'),
          lastName: text(table, row, 'last_name'),
          dateJoined: datetime(table, row, 'date_joined'),
          lastLogin: datetime(table, row, 'last_login', true)
        })
      } catch (error) {
        if (error instanceof DuplicateUserError) {
          throw new DjangoImportError(`auth_user id ${id} (${username}): another user of the target already has this ${error.field}; import into an empty database`, { cause: error })
        }
        throw error
      }
      summary.inserted++
    }
    progress.advance(summary.read)
  }
  return summary
}

async function importAuthTokens (run: Run, tokens: TokenStore): Promise<TableSummary | null> {
  const table = 'authtoken_token'
  if (!(await run.source.hasTable(table))) return null
  const summary = emptySummary()
  const progress = new Progress(run.logger, run.progressEvery, table, await countRows(run.source, table))
  for await (const rows of pages(run.source, AUTH_TOKENS_SELECT, '"key"', run.batchSize)) {
    for (const row of rows) {
      summary.read++
      const key = text(table, row, 'key')
      if (!DRF_KEY.test(key)) {
        summary.skipped++
        continue
      }
      const hash = hashAuthToken(key)
      if (await tokens.findAuthToken(hash) !== null) {
        summary.unchanged++
        continue
      }
      await tokens.saveAuthToken({ hash, userId: integer(table, row, 'user_id'), createdAt: datetime(table, row, 'created') })
      summary.inserted++
    }
    progress.advance(summary.read)
  }
  return summary
}

async function importRefreshTokens (run: Run, tokens: TokenStore): Promise<TableSummary | null> {
  const table = 'token_blacklist_outstandingtoken'
  if (!(await run.source.hasTable(table)) || !(await run.source.hasTable('token_blacklist_blacklistedtoken'))) return null
  const summary = emptySummary()
  const progress = new Progress(run.logger, run.progressEvery, table, await countRows(run.source, table))
  for await (const rows of pages(run.source, REFRESH_SELECT, REFRESH_KEY, run.batchSize)) {
    for (const row of rows) {
      summary.read++
      const expiresAt = datetime(table, row, 'expires_at')
      if (expiresAt.getTime() <= run.now.getTime()) {
        summary.skipped++
        continue
      }
      const jti = text(table, row, 'jti')
      // A user deleted in Django leaves user_id NULL (SET_NULL): the token then names nobody.
      const userId = row.user_id === null || row.user_id === undefined ? 0 : integer(table, row, 'user_id')
      const blacklisted = row.blacklisted_id !== null && row.blacklisted_id !== undefined
      const record: NewRefreshToken = { jti, userId, family: jti, expiresAt }
      const existing = await tokens.findRefreshToken(jti)
      if (existing !== null) {
        if (blacklisted && existing.revokedAt === null) {
          await tokens.revokeRefreshToken(jti, record)
          summary.updated++
        } else {
          summary.unchanged++
        }
        continue
      }
      if (blacklisted) await tokens.revokeRefreshToken(jti, record)
      else await tokens.saveRefreshToken(record)
      summary.inserted++
    }
    progress.advance(summary.read)
  }
  return summary
}

function describeTable (name: string, s: TableSummary | null): string {
  if (s === null) return `${name}: not in the Django database, skipped`
  const parts = [`${s.read} read`, `${s.inserted} imported`]
  if (s.updated > 0) parts.push(`${s.updated} updated`)
  parts.push(`${s.unchanged} already there`)
  if (s.skipped > 0) parts.push(`${s.skipped} skipped`)
  return `${name}: ${parts.join(', ')}`
}

/** The summary as the CLI prints it, one line per table. */
export function formatSummary (summary: ImportSummary): string[] {
  return [
    describeTable('auth_user', summary.users),
    describeTable('authtoken_token', summary.authTokens),
    describeTable('token_blacklist (refresh tokens)', summary.refreshTokens)
  ]
}

/**
 * Copies a Django database's users and tokens into `store` (see the top of this file). Resolves with what
 * it did; rejects with DjangoImportError (or the store's error) having written nothing on SQL targets.
 */
export async function importDjango (options: ImportDjangoOptions): Promise<ImportSummary> {
  const logger = options.logger ?? { info: () => {} }
  const target = options.store
  const source = await openSource(options.from)
  const run: Run = {
    source,
    logger,
    progressEvery: options.progressEvery ?? 1000,
    batchSize: options.batchSize ?? 1000,
    now: options.now ?? new Date()
  }
  try {
    const db = target.db
    const sqlTokens = target.tokens instanceof KyselyTokenStore && target.kind?.tokens !== 'redis'
    let summary: ImportSummary
    if (db !== undefined && target.users instanceof KyselyUserStore) {
      const inTransaction = await db.transaction().execute(async (trx) => {
        const tokens = sqlTokens ? new KyselyTokenStore(trx) : undefined
        return {
          users: await importUsers(run, new KyselyUserStore(trx)),
          authTokens: tokens === undefined ? undefined : await importAuthTokens(run, tokens),
          refreshTokens: tokens === undefined ? undefined : await importRefreshTokens(run, tokens)
        }
      })
      let { authTokens, refreshTokens } = inTransaction
      if (authTokens === undefined || refreshTokens === undefined) {
        // A token store of its own (Redis): filled once the users are committed; idempotent, so a rerun completes it.
        try {
          authTokens = await importAuthTokens(run, target.tokens)
          refreshTokens = await importRefreshTokens(run, target.tokens)
        } catch (error) {
          throw new DjangoImportError(`the users are imported (${inTransaction.users.inserted} new), but importing the tokens into the token store failed; run the import again to complete it: ${(error as Error).message}`, { cause: error })
        }
      }
      summary = { from: source.description, users: inTransaction.users, authTokens, refreshTokens, transactional: true }
    } else {
      logger.info('the target is not a SQL store: rows are written one by one (a failure leaves those written so far; rerun to complete)')
      summary = {
        from: source.description,
        users: await importUsers(run, target.users),
        authTokens: await importAuthTokens(run, target.tokens),
        refreshTokens: await importRefreshTokens(run, target.tokens),
        transactional: false
      }
    }
    for (const line of formatSummary(summary)) logger.info(line)
    return summary
  } finally {
    await source.close()
  }
}
