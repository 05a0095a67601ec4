import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import SQLite from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import { KyselyTokenStore, KyselyUserStore } from './kysely.js'
import { migrateToLatest } from './migrations.js'
import type { Database } from './schema.js'

export interface SqliteStores {
  users: KyselyUserStore
  tokens: KyselyTokenStore
  db: Kysely<Database>
  /** Closes the database; the stores are unusable afterwards. */
  close (): Promise<void>
}

/** Opens (creating when missing) and migrates a SQLite database; `':memory:'` gives a private in-memory one. */
export async function createSqliteStores (filename: string): Promise<SqliteStores> {
  const inMemory = filename === ':memory:' || filename === ''
  if (!inMemory) mkdirSync(dirname(filename), { recursive: true })

  const sqlite = new SQLite(filename)
  // WAL lets readers run alongside the writer; in-memory databases cannot use it.
  if (!inMemory) sqlite.pragma('journal_mode = WAL')
  // Wait for another process's write lock instead of failing at once with SQLITE_BUSY.
  sqlite.pragma('busy_timeout = 5000')
  sqlite.pragma('foreign_keys = ON')

  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) })
  try {
    await migrateToLatest(db)
  } catch (err) {
    await db.destroy()
    throw err
  }
  return {
    users: new KyselyUserStore(db),
    tokens: new KyselyTokenStore(db),
    db,
    close: async () => { await db.destroy() }
  }
}
