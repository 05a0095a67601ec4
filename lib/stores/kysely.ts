import type { Compilable, CompiledQuery, DeleteQueryBuilder, DeleteResult, Expression, ExpressionBuilder, Insertable, Kysely, QueryCreator, SqlBool, Updateable } from 'kysely'
import { PostgresAdapter, sql } from 'kysely'
import type {
  AuthTokenRecord, NewRefreshToken, NewUser, RefreshClaim, RefreshSuccessor, RefreshTokenRecord, SessionKind, SessionRecord, TokenStore, User,
  UserExpectation, UserPatch, UserStore
} from '../ports.js'
import type { Database, Flag, RefreshTokenTable, UserTable } from './schema.js'
import { mapDuplicate } from './sql-errors.js'
import { sessionRow, toAuthToken, toRefresh, toSession, toUser, type RefreshRow, type UserRow } from './rows.js'


const flag = (value: boolean): Flag => (value ? 1 : 0)

/** findAuthToken's query: the token and its session's last use, in one lookup (every `Token` request makes one). */
export function authTokenLookup (db: Kysely<Database>, hash: string) {
  return db.selectFrom('accounts_auth_token as a').leftJoin('accounts_session as s', 's.id', 'a.hash')
    .select(['a.hash', 'a.user_id', 'a.created_at', 's.last_used_at']).where('a.hash', '=', hash)
}

/**
 * A refresh token's revocation and its user's session cut-off (lib/ports.ts RefreshStanding) in one
 * statement: one row always, its token columns null when the token has no record, its user columns null
 * when there is no such user.
 */
export function refreshStandingQuery (db: Kysely<Database>, jti: string, userId: number) {
  return db.selectFrom(sql<{ one: number }>`(select 1)`.as('one'))
    .leftJoin('accounts_refresh_token as t', (join) => join.on('t.jti', '=', jti))
    .leftJoin('accounts_user as u', (join) => join.on('u.id', '=', userId))
    .select(['t.revoked_at', 'u.id', 'u.sessions_valid_after', 'u.kept_session'])
}

/**
 * A session's last use, as one conditional statement: the record whole when missing (a session from before
 * migration 0004), else its last use when the stored one is older than `staleBefore` (ms), so that across
 * instances at most one write per interval changes the row.
 */
export function touchSessionQuery (db: Kysely<Database>, record: SessionRecord, staleBefore: number): Compilable & { execute (): Promise<unknown> } {
  return db.insertInto('accounts_session').values(sessionRow(record))
    .onConflict((oc) => oc.column('id')
      .doUpdateSet({ last_used_at: record.lastUsedAt.getTime() })
      .where('accounts_session.last_used_at', '<', staleBefore))
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

type SessionDeletion = (db: QueryCreator<Database>) => DeleteQueryBuilder<Database, 'accounts_session', DeleteResult>

/** The deletion of the user's session rows of `kind`, except `except`. */
function userSessions (userId: number, kind: SessionKind, except: string | undefined): SessionDeletion {
  return (db) => {
    const query = db.deleteFrom('accounts_session').where('user_id', '=', userId).where('kind', '=', kind)
    return except === undefined ? query : query.where('id', '!=', except)
  }
}

export class KyselyTokenStore implements TokenStore {
  readonly #db: Kysely<Database>

  constructor (db: Kysely<Database>) {
    this.#db = db
  }

  /**
   * Runs `queries` as one transaction; returns how many rows each changed. What ends a session and its row
   * go together this way. SqliteTokenStore runs them as one synchronous better-sqlite3 transaction instead
   * (a Kysely transaction there would hold the one connection open across awaits).
   */
  protected async atomically (queries: CompiledQuery[]): Promise<number[]> {
    return await this.#db.transaction().execute(async (trx) => {
      const counts: number[] = []
      for (const query of queries) counts.push(Number((await trx.executeQuery(query)).numAffectedRows ?? 0))
      return counts
    })
  }

  /**
   * Runs `main` (a revocation or deletion; returns how many rows it changed) and `sessions` (the deletion of
   * the session rows it ends) atomically. On PostgreSQL one statement (`sessions` as a data-modifying CTE): one
   * round trip, no transaction holding a pooled connection while 50 reuse detections race.
   */
  async #endWithSessions (main: (db: QueryCreator<Database>) => Compilable, sessions: SessionDeletion): Promise<number> {
    if (this.#db.getExecutor().adapter instanceof PostgresAdapter) {
      const db = this.#db.with('ended_sessions', (qc) => sessions(qc)) as unknown as QueryCreator<Database>
      return Number((await this.#db.executeQuery(main(db).compile())).numAffectedRows ?? 0)
    }
    const [count] = await this.atomically([main(this.#db).compile(), sessions(this.#db).compile()])
    return count
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
    const now = Date.now()
    return await this.#endWithSessions(
      (db) => db.updateTable('accounts_refresh_token').set({ revoked_at: now }).where('family', '=', family).where('revoked_at', 'is', null),
      (db) => db.deleteFrom('accounts_session').where('id', '=', family).where('kind', '=', 'jwt'))
  }

  async revokeUserRefreshTokens (userId: number, exceptFamily?: string): Promise<number> {
    const now = Date.now()
    return await this.#endWithSessions((db) => {
      const query = db.updateTable('accounts_refresh_token').set({ revoked_at: now }).where('user_id', '=', userId).where('revoked_at', 'is', null)
      return exceptFamily === undefined ? query : query.where('family', '!=', exceptFamily)
    }, userSessions(userId, 'jwt', exceptFamily))
  }

  async saveAuthToken (record: AuthTokenRecord): Promise<void> {
    await this.#db.insertInto('accounts_auth_token')
      .values({ hash: record.hash, user_id: record.userId, created_at: record.createdAt.getTime() })
      .execute()
  }

  async findAuthToken (hash: string): Promise<AuthTokenRecord | null> {
    return orNull(await authTokenLookup(this.#db, hash).executeTakeFirst(), toAuthToken)
  }

  async deleteAuthToken (hash: string): Promise<boolean> {
    return await this.#endWithSessions(
      (db) => db.deleteFrom('accounts_auth_token').where('hash', '=', hash),
      (db) => db.deleteFrom('accounts_session').where('id', '=', hash).where('kind', '=', 'token')) > 0
  }

  async deleteUserAuthTokens (userId: number, exceptHash?: string): Promise<number> {
    return await this.#endWithSessions((db) => {
      const query = db.deleteFrom('accounts_auth_token').where('user_id', '=', userId)
      return exceptHash === undefined ? query : query.where('hash', '!=', exceptHash)
    }, userSessions(userId, 'token', exceptHash))
  }

  async purgeExpired (now: Date): Promise<number> {
    const at = now.getTime()
    const result = await this.#db.deleteFrom('accounts_refresh_token').where('expires_at', '<', at).executeTakeFirst()
    // Sessions past their end, and those whose credentials are all gone (a family purged, or one a touch
    // recorded just as it ended).
    await this.#db.deleteFrom('accounts_session as s')
      .where((eb) => eb.or([
        eb('s.expires_at', '<', at),
        eb.and([eb('s.kind', '=', 'jwt'), eb.not(eb.exists(eb.selectFrom('accounts_refresh_token as r').select('r.jti').whereRef('r.family', '=', 's.id')))]),
        eb.and([eb('s.kind', '=', 'token'), eb.not(eb.exists(eb.selectFrom('accounts_auth_token as a').select('a.hash').whereRef('a.hash', '=', 's.id')))])
      ]))
      .execute()
    return Number(result.numDeletedRows)
  }

  async saveSession (record: SessionRecord): Promise<void> {
    const row = sessionRow(record)
    const { id: _id, ...rest } = row
    await this.#db.insertInto('accounts_session').values(row).onConflict((oc) => oc.column('id').doUpdateSet(rest)).execute()
  }

  async touchSession (record: SessionRecord, staleBefore: Date): Promise<void> {
    await touchSessionQuery(this.#db, record, staleBefore.getTime()).execute()
  }

  async listSessions (userId: number, now: Date): Promise<SessionRecord[]> {
    const at = now.getTime()
    const rows = await this.#db.selectFrom('accounts_session as s').selectAll('s')
      .where('s.user_id', '=', userId)
      .where((eb) => eb.or([eb('s.expires_at', 'is', null), eb('s.expires_at', '>', at)]))
      .where((eb) => eb.or([
        eb.and([eb('s.kind', '=', 'jwt'), eb.exists(eb.selectFrom('accounts_refresh_token as r').select('r.jti')
          .whereRef('r.family', '=', 's.id').where('r.used_at', 'is', null).where('r.revoked_at', 'is', null).where('r.expires_at', '>', at))]),
        eb.and([eb('s.kind', '=', 'token'), eb.exists(eb.selectFrom('accounts_auth_token as a').select('a.hash').whereRef('a.hash', '=', 's.id'))])
      ]))
      .orderBy('s.created_at').orderBy('s.id')
      .execute()
    return rows.map(toSession)
  }
}
