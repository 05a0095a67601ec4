// `fastify-accounts/stores/kysely`: the Kysely stores, for a database you already open with Kysely (SQLite or
// PostgreSQL dialects), and the migrations that create their tables.
export { KyselyTokenStore, KyselyUserStore } from './kysely.js'
export { migrateToLatest } from './migrations.js'
export type { Database } from './schema.js'
export { KyselySocialAccountStore } from '../social/sql-store.js'
export { KyselyMfaStore } from '../mfa/sql-store.js'
