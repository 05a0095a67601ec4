import { join, resolve } from 'node:path'
import type { Kysely } from 'kysely'
import { loadOptional } from '../optional-package.js'
import type { RefreshStandingReader, StoreLogger, TokenStore, UserStore } from '../ports.js'
import type { SocialAccountStore } from '../social/store.js'
import type { MfaStore } from '../mfa/store.js'
import type { PostgresStoreOptions, RedisTokenStoreOptions, SqliteStoreOptions } from './driver-options.js'
import type { Database } from './schema.js'

export type { StoreLogger } from '../ports.js'
export type { PostgresStoreOptions, RedisClientOptions, RedisTokenStoreOptions, SqliteStoreOptions } from './driver-options.js'

// The store modules import their driver (an optional peer dependency); each is loaded only for a URL that
// names it, and a driver that is not installed fails with the package to install.
const loadSqlite = async (): Promise<typeof import('./sqlite.js')> =>
  await loadOptional('better-sqlite3', 'sqlite: URLs', async () => await import('./sqlite.js'))
const loadPostgres = async (): Promise<typeof import('./postgres.js')> =>
  await loadOptional('pg', 'postgres:// URLs', async () => await import('./postgres.js'))
const loadRedis = async (): Promise<typeof import('./redis.js')> =>
  await loadOptional('ioredis', 'redis:// URLs', async () => await import('./redis.js'))

export interface CreateStoresOptions {
  /**
   * `sqlite:<path>` (`sqlite:./data/accounts.db`, `sqlite:///abs/path.db`, `sqlite::memory:`), or
   * `postgres://…` / `postgresql://…` (a libpq URI).
   */
  databaseUrl: string
  /** `redis://…` / `rediss://…`: keep refresh records, the blacklist and opaque tokens in Redis instead. */
  redisUrl?: string
  /** Bring the SQL tables up to date on open (default true). */
  migrate?: boolean
  logger?: StoreLogger
  /** SQLite settings (`synchronous`). */
  sqlite?: Omit<SqliteStoreOptions, 'migrate'>
  /** PostgreSQL pool and timeout settings. */
  postgres?: Omit<PostgresStoreOptions, 'logger' | 'migrate'>
  /** Redis key prefix, TTL and timeout settings. */
  redis?: Omit<RedisTokenStoreOptions, 'logger'>
}

export interface Stores {
  users: UserStore
  tokens: TokenStore
  /** Social login's accounts, in the same SQL database as the users (table accounts_social_account). */
  social: SocialAccountStore
  /** MFA authenticators, recovery codes and ephemeral tokens, in the same SQL database (migration 0006_mfa). */
  mfa: MfaStore
  /** The SQL database of the user store (and of the token store unless Redis keeps the tokens). */
  db: Kysely<Database>
  /**
   * A refresh's two checks (blacklist, session cut-off) in one statement, when the SQL database holds the
   * tokens too; undefined when Redis keeps them.
   */
  refreshStanding: RefreshStandingReader | undefined
  kind: { users: 'sqlite' | 'postgres', tokens: 'sqlite' | 'postgres' | 'redis' }
  /** The SQL migrations this open applied. */
  applied: string[]
  /** Closes the database pool and the Redis connection. Idempotent. */
  close (): Promise<void>
}

/** `sqlite:<path>`, `sqlite:///abs/path`, `sqlite::memory:` → a better-sqlite3 filename (relative paths from the cwd). */
export function sqliteFilenameOf (url: string): string {
  const match = /^sqlite:(.*)$/i.exec(url)
  if (match === null) throw new TypeError(`fastify-accounts: not a sqlite: URL: ${url}`)
  let path = match[1]
  if (path === ':memory:') return ':memory:'
  // sqlite:///abs/path.db (SQLAlchemy style) is /abs/path.db.
  if (path.startsWith('//')) path = path.slice(2)
  if (path === '') throw new TypeError('fastify-accounts: sqlite: needs a file path, e.g. sqlite:./data/accounts.db, or sqlite::memory:')
  return resolve(path)
}

/** `url` with its password replaced, for logs. */
export function redactUrl (url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.toString()
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@')
  }
}

/**
 * Opens the stores a deployment's URLs name: SQLite or PostgreSQL for users (and tokens), plus Redis for
 * tokens when `redisUrl` is set. The SQL schema is migrated on open unless `migrate: false`.
 */
export async function createStores (options: CreateStoresOptions): Promise<Stores> {
  const { databaseUrl, logger } = options
  const redisUrl = options.redisUrl === '' ? undefined : options.redisUrl
  const migrate = options.migrate ?? true
  const sqlKind = /^sqlite:/i.test(databaseUrl) ? 'sqlite' : /^postgres(ql)?:\/\//i.test(databaseUrl) ? 'postgres' : undefined
  if (sqlKind === undefined) {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(databaseUrl)?.[1]
    throw new TypeError(`fastify-accounts: unsupported database URL ${scheme === undefined ? `"${redactUrl(databaseUrl)}"` : `scheme "${scheme}:"`}; use sqlite:<path>, sqlite::memory: or postgres://…`)
  }
  if (redisUrl !== undefined && !/^rediss?:\/\//i.test(redisUrl)) {
    throw new TypeError(`fastify-accounts: unsupported Redis URL "${redactUrl(redisUrl)}"; use redis://… or rediss://…`)
  }
  // Every driver the URLs need is loaded before anything is opened, so a missing one leaves nothing open.
  const redisModule = redisUrl === undefined ? undefined : await loadRedis()
  let sqlStores: { users: UserStore, tokens: TokenStore, db: Kysely<Database>, refreshStanding: RefreshStandingReader, applied: string[], close: () => Promise<void> }
  if (sqlKind === 'sqlite') {
    const filename = sqliteFilenameOf(databaseUrl)
    const { createSqliteStores } = await loadSqlite()
    sqlStores = await createSqliteStores(filename, { ...options.sqlite, migrate })
  } else {
    const { createPostgresStores } = await loadPostgres()
    sqlStores = await createPostgresStores(databaseUrl, { ...options.postgres, migrate, logger })
  }

  let redis: InstanceType<NonNullable<typeof redisModule>['RedisTokenStore']> | undefined
  if (redisModule !== undefined && redisUrl !== undefined) {
    try {
      redis = new redisModule.RedisTokenStore(redisUrl, { ...options.redis, logger })
      await redis.connect()
    } catch (error) {
      await redis?.close()
      await sqlStores.close()
      throw error
    }
  }

  // Loaded here, not at import: the plugin's entry stays free of the SQL builder.
  const { KyselySocialAccountStore } = await import('../social/sql-store.js')
  const { KyselyMfaStore } = await import('../mfa/sql-store.js')
  let closed: Promise<void> | undefined
  return {
    users: sqlStores.users,
    social: new KyselySocialAccountStore(sqlStores.db),
    mfa: new KyselyMfaStore(sqlStores.db),
    tokens: redis ?? sqlStores.tokens,
    db: sqlStores.db,
    refreshStanding: redis === undefined ? sqlStores.refreshStanding : undefined,
    applied: sqlStores.applied,
    kind: { users: sqlKind, tokens: redis === undefined ? sqlKind : 'redis' },
    close: async () => {
      closed ??= Promise.allSettled([redis?.close(), sqlStores.close()]).then((results) => {
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
        if (failed !== undefined) throw failed.reason
      })
      await closed
    }
  }
}

/** The database URL for an environment: DATABASE_URL, else the example server's SQLite file. */
export function databaseUrlOf (env: NodeJS.ProcessEnv): string {
  if (env.DATABASE_URL !== undefined && env.DATABASE_URL !== '') return env.DATABASE_URL
  return `sqlite:${join(resolve(env.DATA_DIR ?? './data'), 'accounts.db')}`
}
