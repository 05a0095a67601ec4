/**
 * One import run and the loop every Django table goes through (lib/import-django/tables.ts, social.ts):
 * skip a table the project did not use, page through its rows, count what each row did, report progress.
 */
import { pages, type Row, type Source } from './source.js'
import type { ImportLogger, TableSummary } from './types.js'

export interface Run {
  source: Source
  logger: ImportLogger
  progressEvery: number
  batchSize: number
  now: Date
}

/** What importing one row did: the summary count it adds to (besides `read`). */
export type RowOutcome = Exclude<keyof TableSummary, 'read'>

export interface TableRead {
  /** The Django table: progress lines name it and count its rows. */
  table: string
  /** Further tables `select` joins; without any of them the table is skipped too. */
  joins?: string[]
  /** The query, selecting the paging key as `__key`. */
  select: string
  /** The paging key's column as `select` names it (`o.id`, `"key"`). */
  key: string
  /** Runs once the tables are known to be there, before any row is read (a check of the whole table). */
  before?: (source: Source) => Promise<void>
}

class Progress {
  readonly #logger: ImportLogger
  readonly #every: number
  readonly #table: string
  readonly #total: number
  #next: number

  constructor (logger: ImportLogger, every: number, table: string, total: number) {
    this.#logger = logger
    this.#every = every
    this.#table = table
    this.#total = total
    this.#next = every
  }

  advance (done: number): void {
    if (this.#total <= this.#every || done < this.#next) return
    this.#next = (Math.floor(done / this.#every) + 1) * this.#every
    this.#logger.info(`${this.#table}: ${done} of ${this.#total} rows (${Math.floor(done * 100 / this.#total)}%)`)
  }
}

async function countRows (source: Source, table: string): Promise<number> {
  const rows = await source.query(`select count(*) as n from ${table}`)
  return Number(rows[0]?.n ?? 0)
}

/**
 * Every row of `read.table` through `importRow`, in order. null (and nothing read) when the Django
 * database lacks the table or one of its joins.
 */
export async function importTable (run: Run, read: TableRead, importRow: (row: Row) => Promise<RowOutcome>): Promise<TableSummary | null> {
  for (const table of [read.table, ...(read.joins ?? [])]) {
    if (!(await run.source.hasTable(table))) return null
  }
  await read.before?.(run.source)
  const summary: TableSummary = { read: 0, inserted: 0, updated: 0, unchanged: 0, skipped: 0 }
  const progress = new Progress(run.logger, run.progressEvery, read.table, await countRows(run.source, read.table))
  for await (const rows of pages(run.source, read.select, read.key, run.batchSize)) {
    for (const row of rows) {
      summary.read++
      const outcome = await importRow(row)
      summary[outcome]++
    }
    progress.advance(summary.read)
  }
  return summary
}
