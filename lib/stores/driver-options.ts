/**
 * The options of the SQLite, PostgreSQL and Redis stores, in a module of their own that loads no driver, so
 * that the URL-based factory (in the main entry) can name them without its declarations pulling in
 * better-sqlite3's, pg's or ioredis' types. Each store module re-exports its own.
 */
import type { StoreLogger } from '../ports.js'

export interface SqliteStoreOptions {
  /** Bring the tables up to date on open (default true); `npm run migrate` opens with false and migrates itself. */
  migrate?: boolean
  /**
   * SQLite's `synchronous` for a file database (WAL mode). `'normal'` (default, as Rails sets it) syncs the
   * WAL at checkpoints, not at every commit: the file cannot be corrupted, but the last commits before a
   * power loss or OS crash may be rolled back (a process crash loses nothing). `'full'` syncs every commit.
   */
  synchronous?: 'normal' | 'full'
}

export interface PostgresStoreOptions {
  /**
   * The schema that holds the tables (created when missing; the connections' search_path is set to it).
   * Default: the connection's current schema (normally `public`). Lower-case letters, digits and `_`.
   */
  schema?: string
  /** Connections in the pool (default 10). Each instance of the app has its own pool. */
  poolSize?: number
  /** How long to wait for a connection, new or from the pool, before answering 503 (default 1000 ms). */
  connectionTimeoutMs?: number
  /**
   * How long one statement may run (default 1500 ms): PostgreSQL's `statement_timeout` and `lock_timeout`,
   * plus a client-side read timeout 500 ms longer, which covers a server that stopped answering on an open
   * connection. Migrations run without it.
   */
  statementTimeoutMs?: number
  /** Idle connections are closed after this long (default 10000 ms). */
  idleTimeoutMs?: number
  /** Shown in pg_stat_activity (default `fastify-accounts`). */
  applicationName?: string
  /** Bring the tables up to date on open (default true). Several instances may migrate at once. */
  migrate?: boolean
  /** Where pool errors go (an idle connection dropped by the server, say); default nowhere. */
  logger?: StoreLogger
}

export interface RedisTokenStoreOptions {
  /** Prepended to every key (default `accounts:`), so several apps or tests can share one Redis database. */
  keyPrefix?: string
  /**
   * How long a refresh record (and its blacklist entry) is kept after the token expires (default 300 s).
   * Keep it at least the `jwt.leeway`, so a blacklisted token cannot come back within the leeway.
   */
  refreshGraceSeconds?: number
  /**
   * Opaque (DRF) tokens' keys expire this long after creation. Default: never, as DRF's tokens; they are then
   * bounded by deletion: logout, password change or reset, account deletion, the sessions routes. Prefer the
   * plugin's `authTokenLifetime`, which holds on every store (and sets these keys' expiry too); when both are
   * set, the shorter wins. Kept for deployments that set it before `authTokenLifetime` existed.
   */
  authTokenTtlSeconds?: number | null
  /** For a client this store creates from a URL: how long connecting may take (default 1000 ms). */
  connectTimeoutMs?: number
  /** For a client this store creates from a URL: how long one command may take (default 1000 ms). */
  commandTimeoutMs?: number
  /** For a client this store creates from a URL: its name in CLIENT LIST (default `fastify-accounts`). */
  connectionName?: string
  /** Where connection losses and recoveries are reported (once per outage). */
  logger?: StoreLogger
}

export interface RedisClientOptions {
  /** Default 1000 ms. */
  connectTimeoutMs?: number
  /** Default 1000 ms. */
  commandTimeoutMs?: number
  /** Default `fastify-accounts`. */
  connectionName?: string
}
