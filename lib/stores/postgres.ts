import { Kysely, PostgresDialect, sql } from 'kysely'
import type { DatabaseIntrospector, DatabaseMetadata, Dialect, PostgresPool, PostgresPoolClient, SchemaMetadata, TableMetadata } from 'kysely'
import pg from 'pg'
import type { AuthTokenRecord, RefreshStanding, RefreshStandingReader, RefreshTokenRecord, StoreLogger, User } from '../ports.js'
import { authTokenLookup, KyselyTokenStore, KyselyUserStore, orNull, refreshStandingQuery, usernameIgnoringCase } from './kysely.js'
import {
  everyColumn, toAuthToken, toRefresh, toRefreshStanding, toUserFromValues, USER_COLUMNS, type AuthTokenRow, type RefreshRow, type RefreshStandingValues,
  type UserValues
} from './rows.js'
import { isUnavailableError, storeError, withStoreErrors } from './sql-errors.js'
import { LookupBatch } from './lookup-batch.js'
import { migrateToLatest } from './migrations.js'
import type { PostgresStoreOptions } from './driver-options.js'
import type { Database, RefreshTokenTable } from './schema.js'

export type { PostgresStoreOptions } from './driver-options.js'

export interface PostgresStores {
  users: PostgresUserStore
  tokens: PostgresTokenStore
  db: Kysely<Database>
  /** A refresh's two checks (blacklist, session cut-off) in one query: pass it on with the stores (`store`). */
  refreshStanding: RefreshStandingReader
  /** The schema the tables live in. */
  schema: string
  /** The migrations this open applied (none when the schema was up to date or `migrate: false`). */
  applied: string[]
  /** Ends the pool (waiting for checked-out connections); the stores are unusable afterwards. Idempotent. */
  close (): Promise<void>
}

const DEFAULTS = {
  poolSize: 10,
  connectionTimeoutMs: 1000,
  statementTimeoutMs: 1500,
  idleTimeoutMs: 10_000,
  applicationName: 'fastify-accounts'
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/

const INT8_OID = 20

/**
 * node-postgres parses `bigint` to a string, to stay lossless. Our bigints are epoch milliseconds and row
 * counts, far below 2^53, so they become numbers, for this pool only (pg.types stays untouched).
 */
const getTypeParser = ((oid: number, format?: 'text' | 'binary') =>
  oid === INT8_OID && format !== 'binary' ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)
) as typeof pg.types.getTypeParser

function positive (name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value <= 0) throw new TypeError(`fastify-accounts: ${name} must be a positive integer, not ${String(value)}`)
  return value
}

/**
 * Kysely's view of `pool`, handing back a connection that failed at the socket level (cut, timed out)
 * destroyed rather than idle, so the next query gets a fresh one. A pool without this can lend out a
 * connection that a client-side read timeout left waiting for an answer that will never come.
 */
function discardingBrokenClients (pool: pg.Pool): PostgresPool {
  return {
    async connect (): Promise<PostgresPoolClient> {
      const client = await pool.connect()
      let broken: Error | undefined
      const query = (...args: unknown[]): unknown => {
        const result = (client.query as (...a: unknown[]) => unknown)(...args)
        // A cursor (Kysely's streamQuery) comes back as is; a query as a promise.
        if (!(result instanceof Promise)) return result
        return result.catch((error: unknown) => {
          if (isUnavailableError(error)) broken = error as Error
          throw error
        })
      }
      return {
        query: query as PostgresPoolClient['query'],
        release: () => { client.release(broken) }
      }
    },
    end: async () => { await pool.end() }
  }
}

interface PoolSettings {
  url: string
  schema: string | undefined
  max: number
  connectionTimeoutMs: number
  statementTimeoutMs: number | null
  idleTimeoutMs: number
  applicationName: string
  logger: StoreLogger | undefined
}

function createPool (s: PoolSettings): pg.Pool {
  const pool = new pg.Pool({
    connectionString: s.url,
    max: s.max,
    connectionTimeoutMillis: s.connectionTimeoutMs,
    idleTimeoutMillis: s.idleTimeoutMs,
    application_name: s.applicationName,
    keepAlive: true,
    ...(s.statementTimeoutMs === null
      ? {}
      : {
          statement_timeout: s.statementTimeoutMs,
          lock_timeout: s.statementTimeoutMs,
          // Client-side: fires only when the server did not cancel the statement itself (it is gone).
          query_timeout: s.statementTimeoutMs + 500
        }),
    ...(s.schema === undefined ? {} : { options: `-c search_path=${s.schema}` }),
    types: { getTypeParser }
  })
  // A connection the server drops while it is idle (restart, pg_terminate_backend, network) emits 'error'
  // on the pool and on the client; without listeners that would crash the process. The pool discards it.
  pool.on('error', (error) => {
    s.logger?.warn({ err: error }, 'fastify-accounts: an idle PostgreSQL connection failed; it is replaced on next use')
  })
  pool.on('connect', (client) => {
    client.on('error', () => { /* reported by the pool's listener or by the failing query */ })
  })
  return pool
}

// ---- the lookups of every request, as named prepared statements --------------------------------------

const REFRESH_COLUMNS = everyColumn<RefreshTokenTable>()(['jti', 'user_id', 'family', 'expires_at', 'used_at', 'revoked_at'])

/**
 * What the stores' lookups need of a node-postgres `Pool` (which is one): named-statement queries. Spelled
 * out here so that this module's declarations do not need @types/pg.
 */
export interface NamedQueryPool {
  query (config: { name: string, text: string, values: unknown[], rowMode?: 'array' }): Promise<{ rows: unknown[] }>
}

/**
 * A lookup run as a named prepared statement on the pool's connections: PostgreSQL parses and plans it once
 * per connection, and Kysely compiles its SQL once (instead of building, compiling and sending a fresh
 * statement on every call, which cost more than the lookup: bench/README.md). Failures are classified as
 * every store query's are.
 */
class NamedLookup<R> {
  readonly #pool: NamedQueryPool
  readonly #name: string
  readonly #text: string
  readonly #rowMode: 'array' | undefined

  /** With `rowMode: 'array'`, rows come as arrays of values in column order (`R` is then that array). */
  constructor (pool: NamedQueryPool, name: string, text: string, rowMode?: 'array') {
    this.#pool = pool
    this.#name = `fastify_accounts_${name}`
    this.#text = text
    this.#rowMode = rowMode
  }

  async get (...values: Array<number | string | number[]>): Promise<R | undefined> {
    return (await this.all(...values))[0]
  }

  async all (...values: Array<number | string | number[]>): Promise<R[]> {
    try {
      const result = await this.#pool.query({ name: this.#name, text: this.#text, values, rowMode: this.#rowMode })
      return result.rows as R[]
    } catch (error) {
      throw storeError(error)
    }
  }
}

/** The user store with its lookups (one per authenticated request) as named prepared statements. */
export class PostgresUserStore extends KyselyUserStore {
  readonly #byId: LookupBatch<number, User>
  readonly #byUsername: NamedLookup<UserValues>
  readonly #byEmail: NamedLookup<UserValues>
  readonly #byUsernameIgnoringCase: NamedLookup<UserValues>

  constructor (db: Kysely<Database>, pool: NamedQueryPool) {
    super(db)
    // Rows as arrays in USER_COLUMNS' order, as the SQLite store reads them: no object keyed by column name per lookup.
    const lookup = (column: 'id' | 'username' | 'email_lower'): NamedLookup<UserValues> => new NamedLookup(pool, `user_by_${column}`,
      db.selectFrom('accounts_user').select(USER_COLUMNS).where(column, '=', column === 'id' ? 0 : '').compile().sql, 'array')
    const byId = lookup('id')
    const byIds = new NamedLookup<UserValues>(pool, 'users_by_ids',
      db.selectFrom('accounts_user').select(USER_COLUMNS).where(sql<boolean>`id = any(${[0]})`).compile().sql, 'array')
    this.#byId = new LookupBatch(
      async (id) => { const row = await byId.get(id); return row === undefined ? undefined : toUserFromValues(row) },
      async (ids) => new Map((await byIds.all(ids)).map((row) => { const user = toUserFromValues(row); return [user.id, user] })),
      (user) => ({ ...user }))
    this.#byUsername = lookup('username')
    this.#byEmail = lookup('email_lower')
    this.#byUsernameIgnoringCase = new NamedLookup(pool, 'users_by_username_ignoring_case',
      db.selectFrom('accounts_user').select(USER_COLUMNS).where(usernameIgnoringCase('')).orderBy('id').compile().sql, 'array')
  }

  /** Every authenticated request's lookup: those of one event-loop turn go out as one query (lib/stores/lookup-batch.ts). */
  override async findUserById (id: number): Promise<User | null> {
    return await this.#byId.load(id) ?? null
  }

  override async findUserByUsername (username: string): Promise<User | null> {
    return orNull(await this.#byUsername.get(username), toUserFromValues)
  }

  override async findUserByEmail (email: string): Promise<User | null> {
    return orNull(await this.#byEmail.get(email.toLowerCase()), toUserFromValues)
  }

  /** dj-rest-auth's logins and registrations (allauth's usernames): a named prepared statement as the other lookups. */
  override async findUsersByUsernameIgnoringCase (username: string): Promise<User[]> {
    return (await this.#byUsernameIgnoringCase.all(username)).map(toUserFromValues)
  }
}

/** The token store with the refresh lookup (every refresh) and the opaque-token lookup (every `Token` request) as named prepared statements. */
export class PostgresTokenStore extends KyselyTokenStore {
  readonly #refresh: NamedLookup<RefreshRow>
  readonly #auth: NamedLookup<AuthTokenRow>
  readonly #standing: NamedLookup<RefreshStandingValues>

  constructor (db: Kysely<Database>, pool: NamedQueryPool) {
    super(db)
    this.#refresh = new NamedLookup(pool, 'refresh_by_jti',
      db.selectFrom('accounts_refresh_token').select(REFRESH_COLUMNS).where('jti', '=', '').compile().sql)
    // With its session's last use (migration 0004): a name of its own, so no connection reuses the plan of the older statement.
    this.#auth = new NamedLookup(pool, 'auth_with_session_by_hash', authTokenLookup(db, '').compile().sql)
    this.#standing = new NamedLookup(pool, 'refresh_standing', refreshStandingQuery(db, '', 0).compile().sql, 'array')
  }

  override async findRefreshToken (jti: string): Promise<RefreshTokenRecord | null> {
    const row = await this.#refresh.get(jti)
    return orNull(row, toRefresh)
  }

  /**
   * Reads the user table of this store's own database: only for the user store opened with it (the
   * `refreshStanding` of createPostgresStores).
   */
  async findRefreshStanding (jti: string, userId: number): Promise<RefreshStanding> {
    return toRefreshStanding(await this.#standing.get(jti, userId) as RefreshStandingValues)
  }

  override async findAuthToken (hash: string): Promise<AuthTokenRecord | null> {
    const row = await this.#auth.get(hash)
    return orNull(row, toAuthToken)
  }
}

/**
 * What Kysely's migrator needs to know (which schemas and tables exist), for the current schema only.
 * Kysely's own PostgreSQL introspector reads every table of every schema and resolves their names one by
 * one, so another schema dropped meanwhile (another app, another test) makes it fail with
 * `schema "…" does not exist`; this one reads the catalogue in one snapshot and needs no name lookups.
 */
class CurrentSchemaIntrospector implements DatabaseIntrospector {
  readonly #db: Kysely<unknown>

  constructor (db: Kysely<unknown>) {
    this.#db = db
  }

  async getSchemas (): Promise<SchemaMetadata[]> {
    const { rows } = await sql<{ name: string }>`select nspname as name from pg_catalog.pg_namespace`.execute(this.#db)
    return rows
  }

  async getTables (): Promise<TableMetadata[]> {
    const { rows } = await sql<{ name: string, schema: string, kind: string }>`
      select c.relname as name, n.nspname as schema, c.relkind as kind
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where n.nspname = current_schema() and c.relkind in ('r', 'p', 'v', 'm')`.execute(this.#db)
    return rows.map((r) => ({ name: r.name, schema: r.schema, isView: r.kind === 'v' || r.kind === 'm', columns: [] }))
  }

  async getMetadata (): Promise<DatabaseMetadata> {
    return { tables: await this.getTables() }
  }
}

function migrationDialect (dialect: Dialect): Dialect {
  return { ...dialect, createIntrospector: (db) => new CurrentSchemaIntrospector(db) }
}

/**
 * Kysely on `pool`, and how to close both. pg-pool's end() resolves once it has asked every connection to
 * close, before their sockets are gone; `close` waits for them too (at most 2 s), so nothing is left open.
 */
function kyselyOn (pool: pg.Pool, forMigrations = false): { db: Kysely<Database>, close: () => Promise<void> } {
  const open = new Set<pg.PoolClient>()
  let allClosed: (() => void) | undefined
  pool.on('connect', (client) => { open.add(client) })
  pool.on('remove', (client) => {
    open.delete(client)
    if (open.size === 0) allClosed?.()
  })
  const dialect = withStoreErrors(new PostgresDialect({ pool: discardingBrokenClients(pool) }))
  const db = new Kysely<Database>({ dialect: forMigrations ? migrationDialect(dialect) : dialect })
  return {
    db,
    close: async () => {
      const drained = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2000)
        timer.unref()
        allClosed = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      await db.destroy()
      // Kysely ends the pool only if it ever ran a query on it; the named lookups use it directly.
      if (!pool.ending) await pool.end()
      if (open.size > 0) await drained
      else allClosed?.()
    }
  }
}

/**
 * Opens PostgreSQL stores on a pooled connection (node-postgres): the same Kysely stores as SQLite.
 * `url` is a libpq connection URI, `postgres://user:password@host:5432/db` (with `?sslmode=…` when needed).
 * Migrates on open unless `migrate: false`, on a separate connection without the statement timeout.
 * A database that is down, unreachable or slower than the timeouts surfaces as StoreUnavailableError (503);
 * the pool reconnects by itself when it is back.
 */
export async function createPostgresStores (url: string, options: PostgresStoreOptions = {}): Promise<PostgresStores> {
  if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
    throw new TypeError(`fastify-accounts: schema must be lower-case letters, digits and _ (at most 63), not "${options.schema}"`)
  }
  const settings: PoolSettings = {
    url,
    schema: options.schema,
    max: positive('poolSize', options.poolSize, DEFAULTS.poolSize),
    connectionTimeoutMs: positive('connectionTimeoutMs', options.connectionTimeoutMs, DEFAULTS.connectionTimeoutMs),
    statementTimeoutMs: positive('statementTimeoutMs', options.statementTimeoutMs, DEFAULTS.statementTimeoutMs),
    idleTimeoutMs: positive('idleTimeoutMs', options.idleTimeoutMs, DEFAULTS.idleTimeoutMs),
    applicationName: options.applicationName ?? DEFAULTS.applicationName,
    logger: options.logger
  }

  // Migrations (and creating the schema) may legitimately outlast the request timeout: their own pool.
  const { db: setup, close: closeSetup } = kyselyOn(createPool({ ...settings, max: 1, statementTimeoutMs: null }), true)
  let schema: string
  let applied: string[] = []
  try {
    if (options.schema !== undefined) {
      await sql`create schema if not exists ${sql.id(options.schema)}`.execute(setup).catch(async (error: unknown) => {
        // Two instances creating the schema at once: one of them loses on the catalog's unique index.
        const { rows } = await sql<{ n: number }>`select count(*) as n from pg_namespace where nspname = ${options.schema}`.execute(setup)
        if (Number(rows[0]?.n) !== 1) throw error
      })
      schema = options.schema
    } else {
      const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(setup)
      const current = rows[0]?.schema ?? null
      if (current === null) throw new Error('fastify-accounts: the search_path of this connection names no existing schema; pass `schema`')
      schema = current
    }
    if (options.migrate ?? true) applied = await migrateToLatest(setup, 'postgres', { schema })
  } catch (error) {
    throw storeError(error)
  } finally {
    await closeSetup()
  }

  // With no schema given, the connections' own search_path keeps resolving to `schema`.
  const pool = createPool(settings)
  const { db, close } = kyselyOn(pool)
  let closed: Promise<void> | undefined
  const tokens = new PostgresTokenStore(db, pool)
  return {
    users: new PostgresUserStore(db, pool),
    tokens,
    db,
    refreshStanding: tokens.findRefreshStanding.bind(tokens),
    schema,
    applied,
    close: async () => {
      closed ??= close()
      await closed
    }
  }
}
