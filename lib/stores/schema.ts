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

/** Migration 0006 (lib/mfa/sql-store.ts): a user's authenticator per type; `secret` AES-256-GCM encrypted. */
export interface MfaAuthenticatorTable {
  user_id: number
  type: string
  secret: string
  is_active: Flag
  last_used_step: ColumnType<number | string | null, number | null, number | null>
  created_at: Millis
  last_used_at: NullableMillis
}

/** Migration 0006: recovery codes as keyed hashes; `used_at` set once. */
export interface MfaRecoveryCodeTable {
  user_id: number
  hash: string
  created_at: Millis
  used_at: NullableMillis
}

/** Migration 0006: ephemeral login tokens (between the password and the code) as keyed hashes. */
export interface MfaEphemeralTokenTable {
  hash: string
  user_id: number
  expires_at: Millis
}

/** Migration 0004: one row per session (a rotation family, an opaque token), for the sessions routes. */
export interface SessionTable {
  /** The family id (`sid`) or the opaque key's hash. */
  id: string
  user_id: number
  kind: 'jwt' | 'token'
  created_at: Millis
  last_used_at: Millis
  expires_at: NullableMillis
  ip: string | null
  user_agent: string | null
}

/** Migration 0005: allauth's socialaccount_socialaccount (lib/social/sql-store.ts). `extra_data` is JSON text. */
export interface SocialAccountTable {
  id: Generated<number>
  provider: string
  uid: string
  user_id: number
  extra_data: string
  last_login: Millis
  date_joined: Millis
}

export interface Database {
  accounts_social_account: SocialAccountTable
  accounts_user: UserTable
  accounts_refresh_token: RefreshTokenTable
  accounts_auth_token: AuthTokenTable
  accounts_session: SessionTable
  accounts_mfa_authenticator: MfaAuthenticatorTable
  accounts_mfa_recovery_code: MfaRecoveryCodeTable
  accounts_mfa_ephemeral_token: MfaEphemeralTokenTable
}
