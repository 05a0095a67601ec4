import type { ColumnType, Generated } from 'kysely'

/**
 * Epoch milliseconds, stored as a 64-bit integer. SQLite returns a number, PostgreSQL's `bigint` a string
 * (node-postgres keeps int8 lossless), so rows go through `Number()` in the row mappers.
 */
export type Millis = ColumnType<number | string, number, number>
export type NullableMillis = ColumnType<number | string | null, number | null, number | null>

/** Booleans are 0/1 integers so SQLite and PostgreSQL agree. */
export type Flag = 0 | 1

export interface UserTable {
  id: Generated<number>
  username: string
  email: string
  /** `email.toLowerCase()`, kept by the store; carries the case-insensitive uniqueness. */
  email_lower: string
  first_name: string
  last_name: string
  password: string
  is_active: Flag
  is_staff: Flag
  is_superuser: Flag
  last_login: NullableMillis
  date_joined: Millis
  /** Migration 0003: the sessions cut-off (epoch ms), null when none. */
  sessions_valid_after: NullableMillis
  /** Migration 0003: the session the cut-off spares (a `sid`, or an opaque key's hash), null when none. */
  kept_session: string | null
}

export interface RefreshTokenTable {
  jti: string
  user_id: number
  family: string
  expires_at: Millis
  used_at: NullableMillis
  revoked_at: NullableMillis
}

export interface AuthTokenTable {
  hash: string
  user_id: number
  created_at: Millis
}

export interface Database {
  accounts_user: UserTable
  accounts_refresh_token: RefreshTokenTable
  accounts_auth_token: AuthTokenTable
}
