import { Migrator, PostgresAdapter, SqliteAdapter, sql } from 'kysely'
import type { ColumnDefinitionBuilder, Kysely, Migration, MigrationProvider } from 'kysely'
import type { Database } from './schema.js'

export type SqlDialectName = 'sqlite' | 'postgres'

// Own bookkeeping tables, so an application running its own Kysely migrations on the same database
// never sees ours as unknown migrations (and vice versa).
const MIGRATION_TABLE = 'accounts_migration'
const MIGRATION_LOCK_TABLE = 'accounts_migration_lock'

/** The schema history. Never edit a migration that has shipped: add a new one. */
export function accountsMigrations (dialect: SqlDialectName): Record<string, Migration> {
  return {
    '0001_initial': {
      async up (db: Kysely<unknown>) {
        await db.schema.createTable('accounts_user')
          .addColumn('id', dialect === 'postgres' ? 'serial' : 'integer', (col) =>
            dialect === 'postgres' ? col.primaryKey() : col.primaryKey().autoIncrement())
          .addColumn('username', 'text', (col) => col.notNull())
          .addColumn('email', 'text', (col) => col.notNull())
          .addColumn('email_lower', 'text', (col) => col.notNull())
          .addColumn('first_name', 'text', (col) => col.notNull().defaultTo(''))
          .addColumn('last_name', 'text', (col) => col.notNull().defaultTo(''))
          .addColumn('password', 'text', (col) => col.notNull())
          .addColumn('is_active', 'integer', (col) => col.notNull())
          .addColumn('is_staff', 'integer', (col) => col.notNull().defaultTo(0))
          .addColumn('is_superuser', 'integer', (col) => col.notNull().defaultTo(0))
          .addColumn('last_login', 'bigint')
          .addColumn('date_joined', 'bigint', (col) => col.notNull())
          // The stores map unique violations back to a field by finding the column name in the
          // constraint name (PostgreSQL) or the error message (SQLite): keep the column in the name.
          .addUniqueConstraint('accounts_user_username_key', ['username'])
          .addUniqueConstraint('accounts_user_email_lower_key', ['email_lower'])
          .execute()

        await db.schema.createTable('accounts_refresh_token')
          .addColumn('jti', 'text', (col) => col.primaryKey())
          .addColumn('user_id', 'integer', (col) => col.notNull())
          .addColumn('family', 'text', (col) => col.notNull())
          .addColumn('expires_at', 'bigint', (col) => col.notNull())
          .addColumn('used_at', 'bigint')
          .addColumn('revoked_at', 'bigint')
          .execute()
        for (const column of ['user_id', 'family', 'expires_at']) {
          await db.schema.createIndex(`accounts_refresh_token_${column}_idx`)
            .on('accounts_refresh_token').column(column).execute()
        }

        await db.schema.createTable('accounts_auth_token')
          .addColumn('hash', 'text', (col) => col.primaryKey())
          .addColumn('user_id', 'integer', (col) => col.notNull())
          .addColumn('created_at', 'bigint', (col) => col.notNull())
          .execute()
        await db.schema.createIndex('accounts_auth_token_user_id_idx')
          .on('accounts_auth_token').column('user_id').execute()
      },
      async down (db: Kysely<unknown>) {
        await db.schema.dropTable('accounts_auth_token').execute()
        await db.schema.dropTable('accounts_refresh_token').execute()
        await db.schema.dropTable('accounts_user').execute()
      }
    },
    // The dj-rest-auth dialect looks usernames up ignoring letter case (allauth's filter_users_by_username):
    // `where lower(username) = lower(?)` uses this index on both databases. Not unique: the djoser dialect
    // (Django's ModelBackend) keeps `alice` and `Alice` apart, and both may share one table.
    // `if not exists`: on a large PostgreSQL table an operator may build it first, without blocking writes
    // (`create index concurrently accounts_user_username_lower_idx on accounts_user (lower(username))`).
    '0002_username_lower_index': {
      async up (db: Kysely<unknown>) {
        await db.schema.createIndex('accounts_user_username_lower_idx').ifNotExists()
          .on('accounts_user').expression(sql`lower(username)`).execute()
      },
      async down (db: Kysely<unknown>) {
        await db.schema.dropIndex('accounts_user_username_lower_idx').execute()
      }
    },
    // A password change ends the user's other sessions: every authenticator compares the session a token
    // names with this cut-off, on the user row it loads anyway (no other lookup). Two nullable columns without
    // a default: on PostgreSQL adding them rewrites nothing and takes no long lock, on any table size. One
    // column per statement (SQLite's ALTER TABLE adds one at a time). Instances still running the previous
    // release select their columns by name and keep working while this runs.
    '0003_user_sessions_cutoff': {
      async up (db: Kysely<unknown>) {
        await db.schema.alterTable('accounts_user').addColumn('sessions_valid_after', 'bigint').execute()
        await db.schema.alterTable('accounts_user').addColumn('kept_session', 'text').execute()
      },
      async down (db: Kysely<unknown>) {
        await db.schema.alterTable('accounts_user').dropColumn('kept_session').execute()
        await db.schema.alterTable('accounts_user').dropColumn('sessions_valid_after').execute()
      }
    },
    // The sessions routes (ASVS 3.3.4): a row per rotation family and per opaque token, written at login and
    // dropped with what ends it. Sessions begun before this migration have no row: each gets one at its next
    // use (a refresh, an opaque-token request), dated from its start, with that request's IP and user agent.
    // A new table: nothing existing is rewritten or locked. Its rows go with their user (ON DELETE CASCADE).
    '0004_sessions': {
      async up (db: Kysely<unknown>) {
        await db.schema.createTable('accounts_session')
          .addColumn('id', 'text', (col) => col.primaryKey())
          .addColumn('user_id', 'integer', (col) => col.notNull().references('accounts_user.id').onDelete('cascade'))
          .addColumn('kind', 'text', (col) => col.notNull())
          .addColumn('created_at', 'bigint', (col) => col.notNull())
          .addColumn('last_used_at', 'bigint', (col) => col.notNull())
          .addColumn('expires_at', 'bigint')
          .addColumn('ip', 'text')
          .addColumn('user_agent', 'text')
          .execute()
        await db.schema.createIndex('accounts_session_user_id_idx').on('accounts_session').column('user_id').execute()
      },
      async down (db: Kysely<unknown>) {
        await db.schema.dropTable('accounts_session').execute()
      }
    },
    // Social login (lib/social/sql-store.ts): allauth's socialaccount_socialaccount. (provider, uid) is unique;
    // rows go with their user (ON DELETE CASCADE). A new table: nothing existing is rewritten or locked.
    '0005_social_accounts': {
      async up (db: Kysely<unknown>) {
        await db.schema.createTable('accounts_social_account')
          .addColumn('id', dialect === 'postgres' ? 'serial' : 'integer', (col) => dialect === 'postgres' ? col.primaryKey() : col.primaryKey().autoIncrement())
          .addColumn('provider', 'text', (col) => col.notNull())
          .addColumn('uid', 'text', (col) => col.notNull())
          .addColumn('user_id', 'integer', (col) => col.notNull().references('accounts_user.id').onDelete('cascade'))
          .addColumn('extra_data', 'text', (col) => col.notNull().defaultTo('{}'))
          .addColumn('last_login', 'bigint', (col) => col.notNull())
          .addColumn('date_joined', 'bigint', (col) => col.notNull())
          .addUniqueConstraint('accounts_social_account_provider_uid_key', ['provider', 'uid'])
          .execute()
        await db.schema.createIndex('accounts_social_account_user_id_idx').on('accounts_social_account').column('user_id').execute()
      },
      async down (db: Kysely<unknown>) {
        await db.schema.dropTable('accounts_social_account').execute()
      }
    },
    // MFA (lib/mfa/sql-store.ts): authenticators with the TOTP secret AES-GCM encrypted, recovery codes and
    // ephemeral login tokens as keyed hashes only. Deleting a user deletes them (ON DELETE CASCADE).
    '0006_mfa': {
      async up (db: Kysely<unknown>) {
        const user = (col: ColumnDefinitionBuilder): ColumnDefinitionBuilder => col.notNull().references('accounts_user.id').onDelete('cascade')
        await db.schema.createTable('accounts_mfa_authenticator')
          .addColumn('user_id', 'integer', user)
          .addColumn('type', 'text', (col) => col.notNull())
          .addColumn('secret', 'text', (col) => col.notNull())
          .addColumn('is_active', 'integer', (col) => col.notNull())
          .addColumn('last_used_step', 'bigint')
          .addColumn('created_at', 'bigint', (col) => col.notNull())
          .addColumn('last_used_at', 'bigint')
          .addPrimaryKeyConstraint('accounts_mfa_authenticator_pkey', ['user_id', 'type'])
          .execute()
        await db.schema.createTable('accounts_mfa_recovery_code')
          .addColumn('user_id', 'integer', user)
          .addColumn('hash', 'text', (col) => col.notNull())
          .addColumn('created_at', 'bigint', (col) => col.notNull())
          .addColumn('used_at', 'bigint')
          .addPrimaryKeyConstraint('accounts_mfa_recovery_code_pkey', ['user_id', 'hash'])
          .execute()
        await db.schema.createTable('accounts_mfa_ephemeral_token')
          .addColumn('hash', 'text', (col) => col.primaryKey())
          .addColumn('user_id', 'integer', user)
          .addColumn('expires_at', 'bigint', (col) => col.notNull())
          .execute()
        for (const column of ['user_id', 'expires_at']) {
          await db.schema.createIndex(`accounts_mfa_ephemeral_token_${column}_idx`).on('accounts_mfa_ephemeral_token').column(column).execute()
        }
      },
      async down (db: Kysely<unknown>) {
        await db.schema.dropTable('accounts_mfa_ephemeral_token').execute()
        await db.schema.dropTable('accounts_mfa_recovery_code').execute()
        await db.schema.dropTable('accounts_mfa_authenticator').execute()
      }
    }
  }
}

function dialectOf (db: Kysely<Database>): SqlDialectName {
  const adapter = db.getExecutor().adapter
  if (adapter instanceof SqliteAdapter) return 'sqlite'
  if (adapter instanceof PostgresAdapter) return 'postgres'
  throw new Error(`fastify-accounts: unsupported SQL dialect (${adapter.constructor.name}); use SQLite or PostgreSQL`)
}

export interface MigrateOptions {
  /**
   * PostgreSQL: the schema the tables live in (the connection's search_path must name it too). Kysely's
   * migrator looks its bookkeeping table up across all schemas unless told which one, so pass it whenever
   * another schema of the same database may hold fastify-accounts tables as well.
   */
  schema?: string
}

/**
 * Brings the accounts tables up to date; safe to run on every start and from several processes at once
 * (already applied migrations are skipped; on PostgreSQL an advisory lock serialises concurrent runs).
 * Returns the names of the migrations it applied.
 */
export async function migrateToLatest (db: Kysely<Database>, dialect: SqlDialectName = dialectOf(db), options: MigrateOptions = {}): Promise<string[]> {
  const migrations = accountsMigrations(dialect)
  const provider: MigrationProvider = { getMigrations: async () => migrations }
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
    ...(options.schema === undefined ? {} : { migrationTableSchema: options.schema })
  })
  const { error, results } = await migrator.migrateToLatest()
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName
    const reason = error instanceof Error ? error.message : String(error)
    throw new Error(
      `fastify-accounts: ${failed === undefined ? 'migrating the database' : `migration "${failed}"`} failed: ${reason}`,
      { cause: error }
    )
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}
