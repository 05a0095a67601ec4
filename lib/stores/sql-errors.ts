import type { CompiledQuery, DatabaseConnection, Dialect, Driver, QueryResult, TransactionSettings } from 'kysely'
import { DuplicateUserError, StoreUnavailableError } from '../ports.js'

// How the SQL stores read their drivers' errors: a unique violation names its field; a database that is
// down, unreachable, busy or too slow becomes StoreUnavailableError (503), once, for every query.

/** The field whose uniqueness `err` reports, or null when it is no unique violation on accounts_user. */
function duplicateField (err: unknown): 'username' | 'email' | null {
  if (!(err instanceof Error)) return null
  const { code, constraint, detail } = err as Error & { code?: unknown, constraint?: unknown, detail?: unknown }
  let text: string
  if (code === 'SQLITE_CONSTRAINT_UNIQUE') {
    text = err.message // "UNIQUE constraint failed: accounts_user.email_lower"
  } else if (code === '23505') {
    text = `${String(constraint ?? '')} ${String(detail ?? '')}` // constraint name, "Key (email_lower)=(…) already exists."
  } else {
    return null
  }
  if (text.includes('email_lower')) return 'email'
  if (text.includes('username')) return 'username'
  return null
}

export async function mapDuplicate<T> (query: Promise<T>): Promise<T> {
  try {
    return await query
  } catch (err) {
    const field = duplicateField(err)
    throw field === null ? err : new DuplicateUserError(field)
  }
}

// ---- service failures ---------------------------------------------------------------------------------

/** Socket-level failures: the database is down, unreachable, or the connection was cut. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN',
  'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'ESOCKETTIMEDOUT'
])

/**
 * PostgreSQL SQLSTATEs that mean "the server cannot answer now, try again": connection exceptions (08),
 * insufficient resources (53: too many connections, out of memory, disk full), operator intervention
 * (57P01 terminated by pg_terminate_backend, 57P02 crash, 57P03 starting up, 57014 statement_timeout),
 * system errors (58), lock_timeout (55P03), serialization failure and deadlock (40001, 40P01).
 */
const PG_UNAVAILABLE = /^(08|53|57P0|58)|^(57014|55P03|40001|40P01)$/

/** node-postgres' own messages for a lost or timed-out connection (they carry no code). */
const PG_CONNECTION_MESSAGES = /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error)/

/** SQLite result codes that mean the file is busy, locked, unreadable or full (better-sqlite3's `code`). */
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|PROTOCOL)/

/**
 * True when `error` says the database is down, unreachable or too slow (rather than that the query is
 * wrong). The one place where driver errors are classified; see {@link storeError}.
 */
export function isUnavailableError (error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 3) return false
  if (error instanceof StoreUnavailableError) return true
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || SQLITE_UNAVAILABLE.test(code)) return true
    if (/^[0-9A-Z]{5}$/.test(code) && PG_UNAVAILABLE.test(code)) return true
  }
  if (PG_CONNECTION_MESSAGES.test(error.message)) return true
  // Node's happy-eyeballs connect reports an AggregateError of the per-address failures.
  const nested = [...((error as { errors?: unknown }).errors as unknown[] | undefined ?? []), error.cause]
  return nested.some((inner) => isUnavailableError(inner, depth + 1))
}

/** `error` as the stores throw it: a StoreUnavailableError (503) when the database is unavailable, else as is. */
export function storeError (error: unknown): unknown {
  if (error instanceof StoreUnavailableError || !isUnavailableError(error)) return error
  const reason = error instanceof Error ? error.message : String(error)
  return new StoreUnavailableError(`fastify-accounts: the database is unavailable: ${reason}`, { cause: error })
}

async function guarded<T> (work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    throw storeError(error)
  }
}

class GuardedConnection implements DatabaseConnection {
  readonly inner: DatabaseConnection

  constructor (inner: DatabaseConnection) {
    this.inner = inner
  }

  async executeQuery<R> (query: CompiledQuery): Promise<QueryResult<R>> {
    return await guarded(async () => await this.inner.executeQuery<R>(query))
  }

  async * streamQuery<R> (query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    try {
      yield * this.inner.streamQuery<R>(query, chunkSize)
    } catch (error) {
      throw storeError(error)
    }
  }
}

class GuardedDriver implements Driver {
  readonly #inner: Driver
  readonly #connections = new WeakMap<DatabaseConnection, GuardedConnection>()
  readonly savepoint?: Driver['savepoint']
  readonly rollbackToSavepoint?: Driver['rollbackToSavepoint']
  readonly releaseSavepoint?: Driver['releaseSavepoint']

  constructor (inner: Driver) {
    this.#inner = inner
    const unwrap = (connection: DatabaseConnection): DatabaseConnection => this.#unwrap(connection)
    // Optional in the Driver interface: present only when the wrapped driver has them.
    for (const name of ['savepoint', 'rollbackToSavepoint', 'releaseSavepoint'] as const) {
      const method = inner[name]?.bind(inner)
      if (method !== undefined) {
        this[name] = async (connection, savepointName, compileQuery) =>
          await guarded(async () => { await method(unwrap(connection), savepointName, compileQuery) })
      }
    }
  }

  #unwrap (connection: DatabaseConnection): DatabaseConnection {
    return connection instanceof GuardedConnection ? connection.inner : connection
  }

  async init (): Promise<void> {
    await guarded(async () => { await this.#inner.init() })
  }

  async acquireConnection (): Promise<DatabaseConnection> {
    const inner = await guarded(async () => await this.#inner.acquireConnection())
    let connection = this.#connections.get(inner)
    if (connection === undefined) {
      connection = new GuardedConnection(inner)
      this.#connections.set(inner, connection)
    }
    return connection
  }

  async beginTransaction (connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    await guarded(async () => { await this.#inner.beginTransaction(this.#unwrap(connection), settings) })
  }

  async commitTransaction (connection: DatabaseConnection): Promise<void> {
    await guarded(async () => { await this.#inner.commitTransaction(this.#unwrap(connection)) })
  }

  async rollbackTransaction (connection: DatabaseConnection): Promise<void> {
    await guarded(async () => { await this.#inner.rollbackTransaction(this.#unwrap(connection)) })
  }

  async releaseConnection (connection: DatabaseConnection): Promise<void> {
    await this.#inner.releaseConnection(this.#unwrap(connection))
  }

  async destroy (): Promise<void> {
    await this.#inner.destroy()
  }
}

/**
 * `dialect` with its driver's failures classified once for every query, migrations included: a database
 * that is down, unreachable, busy or too slow surfaces as StoreUnavailableError (the plugin answers 503),
 * any other error (a constraint, a bug) unchanged.
 */
export function withStoreErrors (dialect: Dialect): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createDriver: () => new GuardedDriver(dialect.createDriver()),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db)
  }
}
