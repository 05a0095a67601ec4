import type { Insertable, Selectable } from 'kysely'
import type { AuthTokenRecord, RefreshStanding, RefreshTokenRecord, SessionCutoff, SessionRecord, User } from '../ports.js'
import type { AuthTokenTable, Flag, RefreshTokenTable, SessionTable, UserTable } from './schema.js'

// The SQL stores' rows and the ports' records, both ways: what SQLite and PostgreSQL read (numbers or
// numeric strings for bigints, 0/1 flags) and the shapes the rest of the plugin sees.

export type UserRow = Selectable<UserTable>
export type RefreshRow = Selectable<RefreshTokenTable>

const date = (value: number | string): Date => new Date(Number(value))
const nullableDate = (value: number | string | null): Date | null => (value === null ? null : date(value))

/**
 * `columns`, which must name every column of the table `T`: a new column fails to compile until it is
 * listed (a user lookup that left one out would hand the authenticators a user without its session cut-off).
 */
export function everyColumn<T> () {
  return <const C extends ReadonlyArray<keyof T>>(columns: C & ([Exclude<keyof T, C[number]>] extends [never] ? unknown : { unlisted: Exclude<keyof T, C[number]> })): C => columns
}

/**
 * The user columns in the order of {@link toUserFromValues}. Named rather than `*`: a prepared statement
 * whose result type changes under it (a migration adding a column while instances run) fails in PostgreSQL
 * with "cached plan must not change result type".
 */
export const USER_COLUMNS = everyColumn<UserTable>()([
  'id', 'username', 'email', 'email_lower', 'first_name', 'last_name', 'password', 'is_active', 'is_staff', 'is_superuser',
  'last_login', 'date_joined', 'sessions_valid_after', 'kept_session'
])

/** A user row's values in {@link USER_COLUMNS}' order. */
export type UserValues = [
  id: number | string, username: string, email: string, emailLower: string, firstName: string, lastName: string, password: string,
  isActive: Flag | boolean, isStaff: Flag | boolean, isSuperuser: Flag | boolean,
  lastLogin: number | string | null, dateJoined: number | string, sessionsValidAfter: number | string | null, keptSession: string | null
]

/**
 * A user from its row's values in column order: what the lookups of every authenticated request read (a
 * driver's array rows skip building an object keyed by column name only to read it once).
 */
export function toUserFromValues (v: UserValues): User {
  return {
    id: Number(v[0]),
    username: v[1],
    email: v[2],
    firstName: v[4],
    lastName: v[5],
    password: v[6],
    isActive: Number(v[7]) === 1,
    isStaff: Number(v[8]) === 1,
    isSuperuser: Number(v[9]) === 1,
    lastLogin: nullableDate(v[10]),
    dateJoined: date(v[11]),
    sessionsValidAfter: nullableDate(v[12]),
    keptSession: v[13]
  }
}

/** A user row's sessions_valid_after and kept_session, in that order. */
export type SessionCutoffValues = [sessionsValidAfter: number | string | null, keptSession: string | null]

/** A user's session cut-off from its two columns. */
export function toSessionCutoff (v: SessionCutoffValues): SessionCutoff {
  return { sessionsValidAfter: nullableDate(v[0]), keptSession: v[1] }
}

/** refreshStandingQuery's columns in order: the token's revoked_at, the user's id (null: no such user) and cut-off. */
export type RefreshStandingValues = [revokedAt: number | string | null, userId: number | null, ...cutoff: SessionCutoffValues]

export function toRefreshStanding (v: RefreshStandingValues): RefreshStanding {
  return { revoked: v[0] !== null, cutoff: v[1] === null ? null : { sessionsValidAfter: nullableDate(v[2]), keptSession: v[3] } }
}

/** A user from its row keyed by column name (the Kysely queries' rows). */
export function toUser (row: UserRow): User {
  return toUserFromValues(USER_COLUMNS.map((column) => row[column]) as UserValues)
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

/** An opaque token's row, with its session's last use (null without a session row). */
export type AuthTokenRow = Selectable<AuthTokenTable> & { last_used_at: number | string | null }

export function toAuthToken (row: AuthTokenRow): AuthTokenRecord {
  return { hash: row.hash, userId: Number(row.user_id), createdAt: date(row.created_at), lastUsedAt: nullableDate(row.last_used_at) }
}

export function toSession (row: Selectable<SessionTable>): SessionRecord {
  return {
    id: row.id,
    userId: Number(row.user_id),
    kind: row.kind,
    createdAt: date(row.created_at),
    lastUsedAt: date(row.last_used_at),
    expiresAt: nullableDate(row.expires_at),
    ip: row.ip,
    userAgent: row.user_agent
  }
}

export function sessionRow (r: SessionRecord): Insertable<SessionTable> {
  return {
    id: r.id,
    user_id: r.userId,
    kind: r.kind,
    created_at: r.createdAt.getTime(),
    last_used_at: r.lastUsedAt.getTime(),
    expires_at: r.expiresAt === null ? null : r.expiresAt.getTime(),
    ip: r.ip,
    user_agent: r.userAgent
  }
}
