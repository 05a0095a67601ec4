import type { Insertable, Kysely, Selectable, Updateable } from 'kysely'
import { DuplicateUserError } from '../ports.js'
import type {
  AuthTokenRecord, NewRefreshToken, NewUser, RefreshClaim, RefreshTokenRecord, TokenStore, User,
  UserExpectation, UserPatch, UserStore
} from '../ports.js'
import type { Database, Flag, RefreshTokenTable, UserTable } from './schema.js'

type UserRow = Selectable<UserTable>
type RefreshRow = Selectable<RefreshTokenTable>

const flag = (value: boolean): Flag => (value ? 1 : 0)
const date = (value: number | string): Date => new Date(Number(value))
const nullableDate = (value: number | string | null): Date | null => (value === null ? null : date(value))

function toUser (row: UserRow): User {
  return {
    id: Number(row.id),
    username: row.username,
    email: row.email,
    password: row.password,
    isActive: Number(row.is_active) === 1,
    isStaff: Number(row.is_staff) === 1,
    isSuperuser: Number(row.is_superuser) === 1,
    lastLogin: nullableDate(row.last_login),
    dateJoined: date(row.date_joined)
  }
}

function toRefresh (row: RefreshRow): RefreshTokenRecord {
  return {
    jti: row.jti,
    userId: Number(row.user_id),
    family: row.family,
    expiresAt: date(row.expires_at),
    usedAt: nullableDate(row.used_at),
    revokedAt: nullableDate(row.revoked_at)
  }
}

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

export class KyselyUserStore implements UserStore {
  readonly #db: Kysely<Database>

  constructor (db: Kysely<Database>) {
    this.#db = db
  }

  async createUser (data: NewUser): Promise<User> {
    const row = await mapDuplicate(this.#db.insertInto('accounts_user')
      .values({
        username: data.username,
        email: data.email,
        email_lower: data.email.toLowerCase(),
        password: data.password,
        is_active: flag(data.isActive),
        is_staff: flag(data.isStaff ?? false),
        is_superuser: flag(data.isSuperuser ?? false),
        last_login: null,
        date_joined: Date.now()
      })
      .returningAll()
      .executeTakeFirstOrThrow())
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

  async #findBy (column: 'id' | 'username' | 'email_lower', value: number | string): Promise<User | null> {
    const row = await this.#db.selectFrom('accounts_user').selectAll().where(column, '=', value).executeTakeFirst()
    return row === undefined ? null : toUser(row)
  }

  async updateUser (id: number, patch: UserPatch, expect: UserExpectation = {}): Promise<User | null> {
    const set: Updateable<UserTable> = {}
    if (patch.username !== undefined) set.username = patch.username
    if (patch.email !== undefined) {
      set.email = patch.email
      set.email_lower = patch.email.toLowerCase()
    }
    if (patch.password !== undefined) set.password = patch.password
    if (patch.isActive !== undefined) set.is_active = flag(patch.isActive)
    if (patch.isStaff !== undefined) set.is_staff = flag(patch.isStaff)
    if (patch.isSuperuser !== undefined) set.is_superuser = flag(patch.isSuperuser)
    if (patch.lastLogin !== undefined) set.last_login = patch.lastLogin === null ? null : patch.lastLogin.getTime()

    // One statement, so the expectation check and the write cannot be split by a concurrent update.
    const row = Object.keys(set).length === 0
      ? await this.#db.selectFrom('accounts_user').selectAll()
        .where('id', '=', id).where((eb) => eb.and(expectations(expect))).executeTakeFirst()
      : await mapDuplicate(this.#db.updateTable('accounts_user').set(set)
        .where('id', '=', id).where((eb) => eb.and(expectations(expect))).returningAll().executeTakeFirst())
    return row === undefined ? null : toUser(row)
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
    const row = await this.#findRefresh(jti)
    return row === undefined ? null : toRefresh(row)
  }

  async #findRefresh (jti: string): Promise<RefreshRow | undefined> {
    return await this.#db.selectFrom('accounts_refresh_token').selectAll().where('jti', '=', jti).executeTakeFirst()
  }

  async claimRefreshToken (jti: string, fallback: NewRefreshToken): Promise<RefreshClaim> {
    const now = Date.now()
    // Every step is a single conditional statement, so across processes exactly one caller wins:
    // the one whose UPDATE flips used_at, or whose INSERT creates the missing row already used.
    for (;;) {
      const claimed = await this.#markUsed(jti, now) ??
        await this.#db.insertInto('accounts_refresh_token')
          .values({ ...refreshRow(fallback, jti), used_at: now, revoked_at: null })
          .onConflict((oc) => oc.column('jti').doNothing())
          .returningAll()
          .executeTakeFirst() ??
        // The row appeared between our UPDATE and INSERT: it may be claimable (saved concurrently).
        await this.#markUsed(jti, now)
      if (claimed !== undefined) return { status: 'claimed', record: toRefresh(claimed) }
      const row = await this.#findRefresh(jti)
      // undefined only if purged meanwhile: start over
      if (row !== undefined) return { status: row.revoked_at !== null ? 'revoked' : 'used', record: toRefresh(row) }
    }
  }

  async #markUsed (jti: string, now: number): Promise<RefreshRow | undefined> {
    return await this.#db.updateTable('accounts_refresh_token')
      .set({ used_at: now })
      .where('jti', '=', jti).where('used_at', 'is', null).where('revoked_at', 'is', null)
      .returningAll()
      .executeTakeFirst()
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

  async revokeUserRefreshTokens (userId: number): Promise<number> {
    const result = await this.#db.updateTable('accounts_refresh_token').set({ revoked_at: Date.now() })
      .where('user_id', '=', userId).where('revoked_at', 'is', null).executeTakeFirst()
    return Number(result.numUpdatedRows)
  }

  async saveAuthToken (record: AuthTokenRecord): Promise<void> {
    await this.#db.insertInto('accounts_auth_token')
      .values({ hash: record.hash, user_id: record.userId, created_at: record.createdAt.getTime() })
      .execute()
  }

  async findAuthToken (hash: string): Promise<AuthTokenRecord | null> {
    const row = await this.#db.selectFrom('accounts_auth_token').selectAll().where('hash', '=', hash).executeTakeFirst()
    return row === undefined ? null : { hash: row.hash, userId: Number(row.user_id), createdAt: date(row.created_at) }
  }

  async deleteAuthToken (hash: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('accounts_auth_token').where('hash', '=', hash).executeTakeFirst()
    return result.numDeletedRows > 0n
  }

  async deleteUserAuthTokens (userId: number): Promise<number> {
    const result = await this.#db.deleteFrom('accounts_auth_token').where('user_id', '=', userId).executeTakeFirst()
    return Number(result.numDeletedRows)
  }

  async purgeExpired (now: Date): Promise<number> {
    const result = await this.#db.deleteFrom('accounts_refresh_token')
      .where('expires_at', '<', now.getTime()).executeTakeFirst()
    return Number(result.numDeletedRows)
  }
}
