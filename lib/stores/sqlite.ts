import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import SQLite from 'better-sqlite3'
import { Kysely, SqliteDialect, type CompiledQuery, type SqliteDatabase } from 'kysely'
import type { AuthTokenRecord, NewRefreshToken, RefreshClaim, RefreshStanding, RefreshStandingReader, RefreshSuccessor, RefreshTokenRecord, SessionCutoff, SessionRecord, User } from '../ports.js'
import { authTokenLookup, KyselyTokenStore, KyselyUserStore, orNull, refreshStandingQuery, touchSessionQuery, usernameIgnoringCase } from './kysely.js'
import {
  sessionRow, toAuthToken, toRefresh, toRefreshStanding, toSessionCutoff, toUserFromValues, USER_COLUMNS, type AuthTokenRow, type RefreshRow,
  type RefreshStandingValues, type SessionCutoffValues, type UserValues
} from './rows.js'
import { storeError, withStoreErrors } from './sql-errors.js'
import { migrateToLatest } from './migrations.js'
import { FALLBACK_AUTOCHECKPOINT_PAGES, startWalCheckpointer } from './sqlite-checkpointer.js'
import type { SqliteStoreOptions } from './driver-options.js'
import type { Database } from './schema.js'

export type { SqliteStoreOptions } from './driver-options.js'

export interface SqliteStores {
  users: SqliteUserStore
  tokens: SqliteTokenStore
  db: Kysely<Database>
  /** A refresh's two checks (blacklist, session cut-off) in one statement: pass it on with the stores (`store`). */
  refreshStanding: RefreshStandingReader
  /** The migrations this open applied (none when the file was up to date or `migrate: false`). */
  applied: string[]
  /** Closes the database; the stores are unusable afterwards. */
  close (): Promise<void>
}

/**
 * A statement prepared on first use (the tables may not exist yet when the store is built: `npm run
 * migrate` opens with `migrate: false`), with its SQL compiled once by Kysely from the same query builder
 * the other stores use.
 */
class Statement<P extends unknown[], R> {
  readonly #sqlite: SQLite.Database
  readonly #sql: () => string
  readonly #raw: boolean
  #statement: SQLite.Statement<P, R> | undefined

  /** With `raw`, rows come as arrays of values in column order (`R` is then that array). */
  constructor (sqlite: SQLite.Database, sql: () => string, raw = false) {
    this.#sqlite = sqlite
    this.#sql = sql
    this.#raw = raw
  }

  get statement (): SQLite.Statement<P, R> {
    if (this.#statement === undefined) {
      this.#statement = this.#sqlite.prepare<P, R>(this.#sql())
      if (this.#raw) this.#statement.raw(true)
    }
    return this.#statement
  }
}

/**
 * A better-sqlite3 `Database`, as the store constructors take it: named structurally so that this module's
 * declarations do not need @types/better-sqlite3 (a real `Database` is one).
 */
export interface BetterSqlite3Database {
  prepare (source: string): unknown
  transaction (fn: (...args: never[]) => unknown): unknown
}

/** Runs synchronous better-sqlite3 work with the driver's failures classified as every store query's are. */
function run<T> (work: () => T): T {
  try {
    return work()
  } catch (error) {
    throw storeError(error)
  }
}

/**
 * The user store with its lookups (every authenticated request makes one) run as prepared better-sqlite3
 * statements: Kysely builds and compiles each query anew and queues it behind its connection lock, which
 * cost more than the lookup itself (bench/README.md). The SQL is Kysely's; the other methods are
 * KyselyUserStore's. Statements are synchronous, so they run whole between two of Kysely's awaits; no
 * Kysely transaction is open while the plugin serves (the import and migrations run their own).
 */
export class SqliteUserStore extends KyselyUserStore {
  readonly #byId: Statement<[number], UserValues>
  readonly #byUsername: Statement<[string], UserValues>
  readonly #byEmail: Statement<[string], UserValues>
  readonly #byUsernameIgnoringCase: Statement<[string], UserValues>
  readonly #cutoffById: Statement<[number], SessionCutoffValues>

  constructor (db: Kysely<Database>, database: BetterSqlite3Database) {
    super(db)
    const sqlite = database as SQLite.Database
    // Rows as arrays (raw): the lookup of every authenticated request skips keying a row object by column name.
    const select = <P extends unknown[]>(column: 'id' | 'username' | 'email_lower', sample: number | string): Statement<P, UserValues> =>
      new Statement(sqlite, () => db.selectFrom('accounts_user').select(USER_COLUMNS).where(column, '=', sample).compile().sql, true)
    this.#byId = select('id', 0)
    this.#byUsername = select('username', '')
    this.#byEmail = select('email_lower', '')
    this.#byUsernameIgnoringCase = new Statement(sqlite, () =>
      db.selectFrom('accounts_user').select(USER_COLUMNS).where(usernameIgnoringCase('')).orderBy('id').compile().sql, true)
    this.#cutoffById = new Statement(sqlite, () =>
      db.selectFrom('accounts_user').select(['sessions_valid_after', 'kept_session']).where('id', '=', 0).compile().sql, true)
  }

  /** The two columns a verify or a refresh checks: ~1 µs less per call than the whole row (its strings, its dates). */
  async findSessionCutoff (id: number): Promise<SessionCutoff | null> {
    return orNull(run(() => this.#cutoffById.statement.get(id)), toSessionCutoff)
  }

  override async findUserById (id: number): Promise<User | null> {
    return orNull(run(() => this.#byId.statement.get(id)), toUserFromValues)
  }

  override async findUserByUsername (username: string): Promise<User | null> {
    return orNull(run(() => this.#byUsername.statement.get(username)), toUserFromValues)
  }

  override async findUserByEmail (email: string): Promise<User | null> {
    return orNull(run(() => this.#byEmail.statement.get(email.toLowerCase())), toUserFromValues)
  }

  override async findUsersByUsernameIgnoringCase (username: string): Promise<User[]> {
    return run(() => this.#byUsernameIgnoringCase.statement.all(username)).map(toUserFromValues)
  }
}

/** An accounts_refresh_token row's values in column order: jti, user_id, family, expires_at, used_at, revoked_at. */
type RefreshValues = [string, number, string, number, number | null, number | null]

/** touchSessionQuery's parameters in order: the session row's columns, then the new last use and the staleness bound. */
type TouchValues = [string, number, string, number, number, number | null, string | null, string | null, number, number]

/** Only shapes the SQL of the prepared touchSession (every value a parameter). */
const SAMPLE_SESSION: SessionRecord = {
  id: '', userId: 0, kind: 'jwt', createdAt: new Date(0), lastUsedAt: new Date(0), expiresAt: new Date(0), ip: '', userAgent: ''
}

type ClaimArgs = [jti: string, fallback: NewRefreshToken, successor: RefreshSuccessor | undefined, now: number]

/**
 * The token store with its hot paths (refresh lookup and save, rotation's claim with its successor, the
 * opaque-token lookup of every `Token` request) as prepared better-sqlite3 statements, the claim and the
 * successor in one synchronous transaction; the rest is KyselyTokenStore's.
 */
export class SqliteTokenStore extends KyselyTokenStore {
  readonly #claim: SQLite.Transaction<(...args: ClaimArgs) => RefreshClaim>
  readonly #find: Statement<[string], RefreshRow>
  readonly #insert: Statement<RefreshValues, unknown>
  readonly #markUsed: Statement<[number, string], RefreshRow>
  readonly #insertUsed: Statement<RefreshValues, RefreshRow>
  readonly #findAuth: Statement<[string], AuthTokenRow>
  readonly #touch: Statement<TouchValues, unknown>
  readonly #standing: Statement<[string, number], RefreshStandingValues>
  readonly #atomically: SQLite.Transaction<(queries: CompiledQuery[]) => number[]>

  constructor (db: Kysely<Database>, database: BetterSqlite3Database) {
    super(db)
    const sqlite = database as SQLite.Database
    this.#claim = sqlite.transaction((...args: ClaimArgs) => this.#claimIn(...args))
    // Columns in RefreshValues' order; the values only shape the SQL.
    const row = { jti: '', user_id: 0, family: '', expires_at: 0, used_at: 0, revoked_at: null }
    this.#find = new Statement(sqlite, () => db.selectFrom('accounts_refresh_token').selectAll().where('jti', '=', '').compile().sql)
    this.#insert = new Statement(sqlite, () => db.insertInto('accounts_refresh_token').values(row).compile().sql)
    this.#markUsed = new Statement(sqlite, () => db.updateTable('accounts_refresh_token').set({ used_at: 0 })
      .where('jti', '=', '').where('used_at', 'is', null).where('revoked_at', 'is', null).returningAll().compile().sql)
    this.#insertUsed = new Statement(sqlite, () => db.insertInto('accounts_refresh_token').values(row)
      .onConflict((oc) => oc.column('jti').doNothing()).returningAll().compile().sql)
    this.#findAuth = new Statement(sqlite, () => authTokenLookup(db, '').compile().sql)
    this.#touch = new Statement(sqlite, () => touchSessionQuery(db, SAMPLE_SESSION, 0).compile().sql)
    this.#standing = new Statement(sqlite, () => refreshStandingQuery(db, '', 0).compile().sql, true)
    // Session endings are rare: each statement prepared anew, the pair in one synchronous transaction.
    this.#atomically = sqlite.transaction((queries: CompiledQuery[]) =>
      queries.map((query) => sqlite.prepare(query.sql).run(...query.parameters).changes))
  }

  protected override async atomically (queries: CompiledQuery[]): Promise<number[]> {
    return run(() => this.#atomically.immediate(queries))
  }

  override async saveRefreshToken (record: NewRefreshToken): Promise<void> {
    run(() => this.#insert.statement.run(record.jti, record.userId, record.family, record.expiresAt.getTime(), null, null))
  }

  override async findRefreshToken (jti: string): Promise<RefreshTokenRecord | null> {
    const row = run(() => this.#find.statement.get(jti))
    return orNull(row, toRefresh)
  }

  override async claimRefreshToken (jti: string, fallback: NewRefreshToken, successor?: RefreshSuccessor): Promise<RefreshClaim> {
    // IMMEDIATE takes the write lock first, so another process's claim waits (busy_timeout) rather than racing.
    return run(() => this.#claim.immediate(jti, fallback, successor, Date.now()))
  }

  /** One synchronous transaction: nothing else runs on this connection in between. */
  #claimIn (...[jti, fallback, successor, now]: ClaimArgs): RefreshClaim {
    const claimed = this.#markUsed.statement.get(now, jti) ??
      this.#insertUsed.statement.get(jti, fallback.userId, fallback.family, fallback.expiresAt.getTime(), now, null)
    if (claimed === undefined) {
      const row = this.#find.statement.get(jti) as RefreshRow
      return { status: row.revoked_at !== null ? 'revoked' : 'used', record: toRefresh(row) }
    }
    if (successor !== undefined) {
      this.#insert.statement.run(successor.jti, Number(claimed.user_id), claimed.family, successor.expiresAt.getTime(), null, null)
    }
    return { status: 'claimed', record: toRefresh(claimed) }
  }

  /** Every refresh notes its session's use: one prepared statement (building it with Kysely cost more than running it). */
  override async touchSession (record: SessionRecord, staleBefore: Date): Promise<void> {
    const r = sessionRow(record)
    run(() => this.#touch.statement.run(r.id, r.user_id, r.kind, r.created_at, r.last_used_at, r.expires_at ?? null, r.ip ?? null, r.user_agent ?? null,
      r.last_used_at, staleBefore.getTime()))
  }

  /**
   * Reads the user table of this store's own database: only for the user store opened with it (the
   * `refreshStanding` of createSqliteStores).
   */
  async findRefreshStanding (jti: string, userId: number): Promise<RefreshStanding> {
    return toRefreshStanding(run(() => this.#standing.statement.get(jti, userId)) as RefreshStandingValues)
  }

  override async findAuthToken (hash: string): Promise<AuthTokenRecord | null> {
    const row = run(() => this.#findAuth.statement.get(hash))
    return orNull(row, toAuthToken)
  }
}

/**
 * Kysely prepares every statement anew; the store runs a handful of distinct ones, so keeping them
 * prepared takes a third off each lookup (measured in bench/). SQLite re-prepares a cached statement
 * by itself when the schema changes under it.
 */
function withStatementCache (sqlite: SQLite.Database, size = 256): SqliteDatabase {
  const statements = new Map<string, SQLite.Statement>()
  return {
    close: () => { sqlite.close() },
    prepare (sql) {
      let statement = statements.get(sql)
      if (statement === undefined) {
        statement = sqlite.prepare(sql)
        if (statements.size >= size) statements.delete(statements.keys().next().value as string)
        statements.set(sql, statement)
      }
      return statement
    }
  }
}

/**
 * Opens (creating when missing) and migrates a SQLite database; `':memory:'` gives a private in-memory one.
 * A database that stays locked past the busy timeout, or a file that cannot be read or written, surfaces
 * as StoreUnavailableError (503).
 */
export async function createSqliteStores (filename: string, options: SqliteStoreOptions = {}): Promise<SqliteStores> {
  const inMemory = filename === ':memory:' || filename === ''
  if (!inMemory) mkdirSync(dirname(filename), { recursive: true })

  const sqlite = new SQLite(filename)
  // WAL lets readers run alongside the writer; in-memory databases cannot use it.
  if (!inMemory) {
    sqlite.pragma('journal_mode = WAL')
    sqlite.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`)
    sqlite.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`)
  }
  // Wait for another process's write lock instead of failing at once with SQLITE_BUSY.
  sqlite.pragma('busy_timeout = 5000')
  sqlite.pragma('foreign_keys = ON')

  const db = new Kysely<Database>({ dialect: withStoreErrors(new SqliteDialect({ database: withStatementCache(sqlite) })) })
  let applied: string[] = []
  try {
    if (options.migrate ?? true) applied = await migrateToLatest(db, 'sqlite')
  } catch (err) {
    await db.destroy()
    throw err
  }
  const checkpointer = inMemory ? null : startWalCheckpointer(filename)
  let closed = false
  const tokens = new SqliteTokenStore(db, sqlite)
  return {
    users: new SqliteUserStore(db, sqlite),
    tokens,
    db,
    refreshStanding: tokens.findRefreshStanding.bind(tokens),
    applied,
    close: async () => {
      if (closed) return
      closed = true
      await checkpointer?.stop()
      await db.destroy()
    }
  }
}
