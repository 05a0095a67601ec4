/** The public types of `fastify-accounts/import-django` and its error (see lib/import-django.ts). */
import type { Kysely } from 'kysely'
import type { TokenStore, UserStore } from '../ports.js'
import type { SocialAccountStore } from '../social/store.js'
import type { Database } from '../stores/schema.js'

/** Where progress and the summary go: `console`, a pino/Fastify logger (info with a string), or your own. */
export interface ImportLogger {
  info (message: string): void
}

/** The stores to fill. Pass what `createStores` returns to get the transaction (it carries `db` and `kind`). */
export interface ImportTarget {
  users: UserStore
  tokens: TokenStore
  /** Where allauth's social accounts go (a createStores() result has one); without it they are not imported. */
  social?: SocialAccountStore
  /** The SQL database of `users` (and of `tokens` unless `kind.tokens` is 'redis'): the import runs in one of its transactions. */
  db?: Kysely<Database>
  kind?: { tokens: string }
}

export interface ImportDjangoOptions {
  /** A Django SQLite database file (a path or `sqlite:<path>`), or a `postgres://…` URL. */
  from: string
  store: ImportTarget
  logger?: ImportLogger
  /** A progress line every this many rows, on tables larger than that (default 1000). */
  progressEvery?: number
  /** Rows read per query (default 1000). */
  batchSize?: number
  /** What counts as expired for simplejwt's outstanding tokens (default now). */
  now?: Date
}

/** What happened to the rows of one Django table. */
export interface TableSummary {
  /** Rows read from Django. */
  read: number
  /** Rows written to the target. */
  inserted: number
  /** Records that existed and were changed (a refresh token blacklisted in Django since the last run). */
  updated: number
  /** Rows already in the target, left as they were. */
  unchanged: number
  /** Rows not imported (expired refresh tokens, token keys DRF would not have made). */
  skipped: number
}

export interface ImportSummary {
  from: string
  users: TableSummary
  /** null when the Django database has no authtoken_token table. */
  authTokens: TableSummary | null
  /** null when it has no token_blacklist tables. */
  refreshTokens: TableSummary | null
  /** allauth's socialaccount_socialaccount: null when the Django database has none; absent without a social store. */
  socialAccounts?: TableSummary | null
  /** True when users and SQL tokens were written in one transaction. */
  transactional: boolean
}

/** The import cannot proceed; nothing was written (on SQL targets). The message says what to fix. */
export class DjangoImportError extends Error {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'DjangoImportError'
  }
}
