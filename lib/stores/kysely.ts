import type {
  CompiledQuery, DatabaseConnection, Dialect, Driver, Expression, ExpressionBuilder, Insertable, Kysely, QueryCreator, QueryResult, Selectable,
  SqlBool, TransactionSettings, Updateable
} from 'kysely'
import { PostgresAdapter, sql } from 'kysely'
import { DuplicateUserError, StoreUnavailableError } from '../ports.js'
import type {
  AuthTokenRecord, NewRefreshToken, NewUser, RefreshClaim, RefreshSuccessor, RefreshTokenRecord, TokenStore, User,
  UserExpectation, UserPatch, UserStore
} from '../ports.js'
import type { AuthTokenTable, Database, Flag, RefreshTokenTable, UserTable } from './schema.js'

export type UserRow = Selectable<UserTable>
export type RefreshRow = Selectable<RefreshTokenTable>

const flag = (value: boolean): Flag => (value ? 1 : 0)
const date = (value: number | string): Date => new Date(Number(value))
const nullableDate = (value: number | string | null): Date | null => (value === null ? null : date(value))

export function toUser (row: UserRow): User {
  return {
    id: Number(row.id),
    username: row.username,
    email: row.email,
    firstName: row.first_name,
    lastName: row.last_name,
    password: row.password,
    isActive: Number(row.is_active) === 1,
    isStaff: Number(row.is_staff) === 1,
    isSuperuser: Number(row.is_superuser) === 1,
    lastLogin: nullableDate(row.last_login),
    dateJoined: date(row.date_joined),
    sessionsValidAfter: nullableDate(row.sessions_valid_after),
    keptSession: row.kept_session
  }
}

export function toRefresh (row: RefreshRow): RefreshTokenRecord {
  return {
    jti: row.jti,
    userId: Number(row.user_id),
    family: row.family,
    expiresAt: date(row.expires_at),
    usedAt: nullableDate(row.used_at),
    revokedAt: nullableDate(row.revoked_at)
  }
}

export function toAuthToken (row: Selectable<AuthTokenTable>): AuthTokenRecord {
  return { hash: row.hash, userId: Number(row.user_id), createdAt: date(row.created_at) }
}

/**
 * `lower(username) = lower(<username>)`: the username ignoring letter case, folded by the database on both
 * sides, in the form the expression index accounts_user_username_lower_idx (migration 0002) serves.
 */
export function usernameIgnoringCase (username: string): (eb: ExpressionBuilder<Database, 'accounts_user'>) => Expression<SqlBool> {
  return (eb: ExpressionBuilder<Database, 'accounts_user'>): Expression<SqlBool> =>
    eb(eb.fn('lower', ['username']), '=', eb.fn('lower', [eb.val(username)]))
}

/** `map(row)`, or null for no row. */
export const orNull = <R, T>(row: R | undefined, map: (row: R) => T): T | null => (row === undefined ? null : map(row))

function refreshRow (record: NewRefreshToken, jti = record.jti): Insertable<RefreshTokenTable> {
  return { jti, user_id: record.userId, family: record.family, expires_at: record.expiresAt.getTime() }
}

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

async function mapDuplicate<T> (query: Promise<T>): Promise<T> {
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

async function findRefresh (db: Kysely<Database>, jti: string): Promise<RefreshRow | undefined> {
  return await db.selectFrom('accounts_refresh_token').selectAll().where('jti', '=', jti).executeTakeFirst()
}

/** Marks an unused, unrevoked refresh token used; the statement yields the row when it did. */
function markUsed (db: QueryCreator<Database>, jti: string, now: number) {
  return db.updateTable('accounts_refresh_token')
    .set({ used_at: now })
    .where('jti', '=', jti).where('used_at', 'is', null).where('revoked_at', 'is', null)
    .returningAll()
}

/** claimRefreshToken on `db` (the database or a transaction). */
async function claimIn (db: Kysely<Database>, jti: string, fallback: NewRefreshToken, now: number): Promise<RefreshClaim> {
  // Every step is a single conditional statement, so across processes exactly one caller wins:
  // the one whose UPDATE flips used_at, or whose INSERT creates the missing row already used.
  for (;;) {
    const claimed = await markUsed(db, jti, now).executeTakeFirst() ??
      await db.insertInto('accounts_refresh_token')
        .values({ ...refreshRow(fallback, jti), used_at: now, revoked_at: null })
        .onConflict((oc) => oc.column('jti').doNothing())
        .returningAll()
        .executeTakeFirst() ??
      // The row appeared between our UPDATE and INSERT: it may be claimable (saved concurrently).
      await markUsed(db, jti, now).executeTakeFirst()
    if (claimed !== undefined) return { status: 'claimed', record: toRefresh(claimed) }
    const row = await findRefresh(db, jti)
    // undefined only if purged meanwhile: start over
    if (row !== undefined) return { status: row.revoked_at !== null ? 'revoked' : 'used', record: toRefresh(row) }
  }
}

// ---- stores -------------------------------------------------------------------------------------------

export class KyselyUserStore implements UserStore {
  readonly #db: Kysely<Database>

  constructor (db: Kysely<Database>) {
    this.#db = db
  }

  async createUser (data: NewUser): Promise<User> {
    const row = await mapDuplicate(this.#db.insertInto('accounts_user')
      .values({
        ...(data.id === undefined ? {} : { id: data.id }),
        username: data.username,
        email: data.email,
        email_lower: data.email.toLowerCase(),
        first_name: data.firstName ?? '',
        last_name: data.lastName ?? '',
        password: data.password,
        is_active: flag(data.isActive),
        is_staff: flag(data.isStaff ?? false),
        is_superuser: flag(data.isSuperuser ?? false),
        last_login: data.lastLogin == null ? null : data.lastLogin.getTime(),
        date_joined: (data.dateJoined ?? new Date()).getTime(),
        sessions_valid_after: null,
        kept_session: null
      })
      .returningAll()
      .executeTakeFirstOrThrow())
    // PostgreSQL's serial does not see explicit ids: move it past them, or the next signup collides.
    if (data.id !== undefined && this.#db.getExecutor().adapter instanceof PostgresAdapter) {
      await sql`select setval(pg_get_serial_sequence('accounts_user', 'id'), (select max(id) from accounts_user))`.execute(this.#db)
    }
    return toUser(row)
  }

  async findUserById (id: number): Promise<User | null> {
    return await this.#findBy('id', id)
  }

  async findUserByUsername (username: string): Promise<User | null> {
    return await this.#findBy('username', username)
  }

  async findUserByEmail (email: string): Promise<User | null> {
    return await this.#findBy('email_lower', email.toLowerCase())
  }

  async findUsersByUsernameIgnoringCase (username: string): Promise<User[]> {
    const rows = await this.#db.selectFrom('accounts_user').selectAll().where(usernameIgnoringCase(username)).orderBy('id').execute()
    return rows.map(toUser)
  }

  async #findBy (column: 'id' | 'username' | 'email_lower', value: number | string): Promise<User | null> {
    const row = await this.#db.selectFrom('accounts_user').selectAll().where(column, '=', value).executeTakeFirst()
    return orNull(row, toUser)
  }

  async updateUser (id: number, patch: UserPatch, expect: UserExpectation = {}): Promise<User | null> {
    const set: Updateable<UserTable> = {}
    if (patch.username !== undefined) set.username = patch.username
    if (patch.email !== undefined) {
      set.email = patch.email
      set.email_lower = patch.email.toLowerCase()
    }
    if (patch.firstName !== undefined) set.first_name = patch.firstName
    if (patch.lastName !== undefined) set.last_name = patch.lastName
    if (patch.password !== undefined) set.password = patch.password
    if (patch.isActive !== undefined) set.is_active = flag(patch.isActive)
    if (patch.isStaff !== undefined) set.is_staff = flag(patch.isStaff)
    if (patch.isSuperuser !== undefined) set.is_superuser = flag(patch.isSuperuser)
    if (patch.lastLogin !== undefined) set.last_login = patch.lastLogin === null ? null : patch.lastLogin.getTime()
    if (patch.sessionsValidAfter !== undefined) set.sessions_valid_after = patch.sessionsValidAfter === null ? null : patch.sessionsValidAfter.getTime()
    if (patch.keptSession !== undefined) set.kept_session = patch.keptSession

    // One statement, so the expectation check and the write cannot be split by a concurrent update.
    const row = Object.keys(set).length === 0
      ? await this.#db.selectFrom('accounts_user').selectAll()
        .where('id', '=', id).where((eb) => eb.and(expectations(expect))).executeTakeFirst()
      : await mapDuplicate(this.#db.updateTable('accounts_user').set(set)
        .where('id', '=', id).where((eb) => eb.and(expectations(expect))).returningAll().executeTakeFirst())
    return orNull(row, toUser)
  }

  async deleteUser (id: number): Promise<boolean> {
    const result = await this.#db.deleteFrom('accounts_user').where('id', '=', id).executeTakeFirst()
    return result.numDeletedRows > 0n
  }

  async listUsers (): Promise<User[]> {
    const rows = await this.#db.selectFrom('accounts_user').selectAll().orderBy('id').execute()
    return rows.map(toUser)
  }
}

function expectations (expect: UserExpectation): Partial<Pick<UserRow, 'username' | 'email' | 'password' | 'is_active'>> {
  const where: Partial<Pick<UserRow, 'username' | 'email' | 'password' | 'is_active'>> = {}
  if (expect.username !== undefined) where.username = expect.username
  if (expect.email !== undefined) where.email = expect.email
  if (expect.password !== undefined) where.password = expect.password
  if (expect.isActive !== undefined) where.is_active = flag(expect.isActive)
  return where
}

export class KyselyTokenStore implements TokenStore {
  readonly #db: Kysely<Database>

  constructor (db: Kysely<Database>) {
    this.#db = db
  }

  async saveRefreshToken (record: NewRefreshToken): Promise<void> {
    await this.#db.insertInto('accounts_refresh_token')
      .values({ ...refreshRow(record), used_at: null, revoked_at: null })
      .execute()
  }

  async findRefreshToken (jti: string): Promise<RefreshTokenRecord | null> {
    return orNull(await findRefresh(this.#db, jti), toRefresh)
  }

  async claimRefreshToken (jti: string, fallback: NewRefreshToken, successor?: RefreshSuccessor): Promise<RefreshClaim> {
    const now = Date.now()
    if (successor === undefined) return await claimIn(this.#db, jti, fallback, now)
    if (this.#db.getExecutor().adapter instanceof PostgresAdapter) {
      // The usual case in one statement (one round trip): claim the row and record its successor from it.
      const claimed = await this.#db
        .with('claimed', (db) => markUsed(db, jti, now))
        .with('successor', (db) => db.insertInto('accounts_refresh_token')
          .columns(['jti', 'user_id', 'family', 'expires_at', 'used_at', 'revoked_at'])
          .expression((eb) => eb.selectFrom('claimed').select([
            eb.val(successor.jti).as('jti'), 'user_id', 'family', eb.val(successor.expiresAt.getTime()).as('expires_at'),
            eb.val(null).as('used_at'), eb.val(null).as('revoked_at')
          ])))
        .selectFrom('claimed').selectAll().executeTakeFirst()
      if (claimed !== undefined) return { status: 'claimed', record: toRefresh(claimed) }
    }
    return await this.#db.transaction().execute(async (trx) => {
      const claim = await claimIn(trx, jti, fallback, now)
      if (claim.status === 'claimed') {
        await trx.insertInto('accounts_refresh_token')
          .values({ ...refreshRow({ ...successor, userId: claim.record.userId, family: claim.record.family }), used_at: null, revoked_at: null })
          .execute()
      }
      return claim
    })
  }

  async revokeRefreshToken (jti: string, fallback: NewRefreshToken): Promise<void> {
    await this.#db.insertInto('accounts_refresh_token')
      .values({ ...refreshRow(fallback, jti), used_at: null, revoked_at: Date.now() })
      // An earlier revocation keeps its time.
      .onConflict((oc) => oc.column('jti')
        .doUpdateSet((eb) => ({ revoked_at: eb.ref('excluded.revoked_at') }))
        .where('accounts_refresh_token.revoked_at', 'is', null))
      .execute()
  }

  async revokeRefreshFamily (family: string): Promise<number> {
    const result = await this.#db.updateTable('accounts_refresh_token').set({ revoked_at: Date.now() })
      .where('family', '=', family).where('revoked_at', 'is', null).executeTakeFirst()
    return Number(result.numUpdatedRows)
  }

  async revokeUserRefreshTokens (userId: number, exceptFamily?: string): Promise<number> {
    let query = this.#db.updateTable('accounts_refresh_token').set({ revoked_at: Date.now() })
      .where('user_id', '=', userId).where('revoked_at', 'is', null)
    if (exceptFamily !== undefined) query = query.where('family', '!=', exceptFamily)
    const result = await query.executeTakeFirst()
    return Number(result.numUpdatedRows)
  }

  async saveAuthToken (record: AuthTokenRecord): Promise<void> {
    await this.#db.insertInto('accounts_auth_token')
      .values({ hash: record.hash, user_id: record.userId, created_at: record.createdAt.getTime() })
      .execute()
  }

  async findAuthToken (hash: string): Promise<AuthTokenRecord | null> {
    const row = await this.#db.selectFrom('accounts_auth_token').selectAll().where('hash', '=', hash).executeTakeFirst()
    return orNull(row, toAuthToken)
  }

  async deleteAuthToken (hash: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('accounts_auth_token').where('hash', '=', hash).executeTakeFirst()
    return result.numDeletedRows > 0n
  }

  async deleteUserAuthTokens (userId: number, exceptHash?: string): Promise<number> {
    let query = this.#db.deleteFrom('accounts_auth_token').where('user_id', '=', userId)
    if (exceptHash !== undefined) query = query.where('hash', '!=', exceptHash)
    const result = await query.executeTakeFirst()
    return Number(result.numDeletedRows)
  }

  async purgeExpired (now: Date): Promise<number> {
    const result = await this.#db.deleteFrom('accounts_refresh_token')
      .where('expires_at', '<', now.getTime()).executeTakeFirst()
    return Number(result.numDeletedRows)
  }
}
