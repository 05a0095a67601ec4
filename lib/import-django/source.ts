/**
 * The Django side of the import: read-only access to the source database (SQLite through better-sqlite3,
 * PostgreSQL through pg, each loaded only when a source of its kind is opened), paged reads, and the
 * checks that turn a row's columns into values.
 */
import { existsSync } from 'node:fs'
import type SQLite from 'better-sqlite3'
import type pg from 'pg'
import { loadOptional } from '../optional-package.js'
import { redactUrl, sqliteFilenameOf } from '../stores/factory.js'
import { DjangoImportError } from './types.js'

export type Row = Record<string, unknown>

/** Read-only access to the Django database, inside one read transaction. */
export interface Source {
  readonly description: string
  hasTable (name: string): Promise<boolean>
  /** `sql` uses `?` placeholders. */
  query (sql: string, params?: unknown[]): Promise<Row[]>
  close (): Promise<void>
}

// The source's driver is loaded only for a source of its kind (both are optional peer dependencies).
const loadSqlite = async (): Promise<typeof SQLite> =>
  (await loadOptional('better-sqlite3', 'Django SQLite sources', async () => await import('better-sqlite3'))).default
const loadPg = async (): Promise<typeof pg> =>
  (await loadOptional('pg', 'Django PostgreSQL sources', async () => await import('pg'))).default

async function sqliteSource (file: string): Promise<Source> {
  if (!existsSync(file)) throw new DjangoImportError(`no such file: ${file}`)
  const Database = await loadSqlite()
  let db: SQLite.Database
  try {
    db = new Database(file, { readonly: true, fileMustExist: true })
    db.pragma('busy_timeout = 5000')
    // A deferred transaction: the first read takes the snapshot every later read sees.
    db.exec('BEGIN')
  } catch (error) {
    throw new DjangoImportError(`cannot open ${file} as a SQLite database: ${(error as Error).message}`, { cause: error })
  }
  return {
    description: file,
    hasTable: async (name) => db.prepare("select 1 from sqlite_master where type in ('table', 'view') and name = ?").get(name) !== undefined,
    query: async (sql, params = []) => db.prepare(sql).all(...params) as Row[],
    close: async () => {
      if (db.inTransaction) db.exec('ROLLBACK')
      db.close()
    }
  }
}

async function postgresSource (url: string): Promise<Source> {
  const { Client } = await loadPg()
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000, application_name: 'fastify-accounts import-django' })
  client.on('error', () => { /* the failing query reports it */ })
  try {
    await client.connect()
    await client.query('begin isolation level repeatable read read only')
  } catch (error) {
    await client.end().catch(() => {})
    throw new DjangoImportError(`cannot connect to ${redactUrl(url)}: ${(error as Error).message}`, { cause: error })
  }
  return {
    description: redactUrl(url),
    hasTable: async (name) => (await client.query<{ present: boolean }>('select to_regclass($1) is not null as present', [name])).rows[0].present,
    query: async (sql, params = []) => {
      let n = 0
      return (await client.query(sql.replace(/\?/g, () => `$${++n}`), params)).rows as Row[]
    },
    close: async () => {
      await client.query('rollback').catch(() => {})
      await client.end()
    }
  }
}

export async function openSource (from: string): Promise<Source> {
  if (/^postgres(ql)?:\/\//i.test(from)) return await postgresSource(from)
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(from) && !/^sqlite:/i.test(from)) {
    throw new DjangoImportError(`unsupported source ${redactUrl(from)}: give a Django SQLite file or a postgres://… URL`)
  }
  return await sqliteSource(/^sqlite:/i.test(from) ? sqliteFilenameOf(from) : from)
}

/** Every row `select` returns, in pages ordered by `key` (which `select` also selects as `__key`, to page on). */
export async function * pages (source: Source, select: string, key: string, batchSize: number): AsyncGenerator<Row[]> {
  let after: unknown
  for (;;) {
    const where = after === undefined ? '' : ` where ${key} > ?`
    const rows = await source.query(`${select}${where} order by ${key} limit ${batchSize}`, after === undefined ? [] : [after])
    if (rows.length === 0) return
    yield rows
    after = rows[rows.length - 1].__key
    if (rows.length < batchSize) return
  }
}

function bad (table: string, row: Row, what: string): DjangoImportError {
  const id = row.id ?? row.__key
  return new DjangoImportError(`${table} row ${String(id)}: ${what}`)
}

export function integer (table: string, row: Row, column: string): number {
  const value = row[column]
  const n = typeof value === 'bigint' ? Number(value) : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) throw bad(table, row, `${column} is not a positive integer (${String(value)})`)
  return n
}

export function text (table: string, row: Row, column: string): string {
  const value = row[column]
  if (typeof value !== 'string') throw bad(table, row, `${column} is not text`)
  return value
}

export function bool (table: string, row: Row, column: string): boolean {
  const value = row[column]
  if (value === true || value === 1 || value === 1n || value === '1' || value === 't') return true
  if (value === false || value === 0 || value === 0n || value === '0' || value === 'f') return false
  throw bad(table, row, `${column} is not a boolean (${String(value)})`)
}

/**
 * A Django DateTimeField: a Date from PostgreSQL; in SQLite, text `YYYY-MM-DD HH:MM:SS[.ffffff][+HH:MM]`,
 * UTC when it has no offset (Django writes UTC there when USE_TZ is on). Microseconds are cut to milliseconds.
 */
export function datetime (table: string, row: Row, column: string, nullable: true): Date | null
export function datetime (table: string, row: Row, column: string, nullable?: false): Date
export function datetime (table: string, row: Row, column: string, nullable = false): Date | null {
  const value = row[column]
  if (value === null || value === undefined) {
    if (nullable) return null
    throw bad(table, row, `${column} is empty`)
  }
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value
  if (typeof value === 'string') {
    const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/.exec(value.trim())
    if (m !== null) {
      const millis = (m[3] ?? '').padEnd(3, '0').slice(0, 3)
      const date = new Date(`${m[1]}T${m[2]}.${millis}${m[4] ?? 'Z'}`)
      if (!Number.isNaN(date.getTime())) return date
    }
  }
  throw bad(table, row, `${column} is not a date and time (${String(value)})`)
}
