#!/usr/bin/env node
/**
 * `npm run migrate`: brings the database DATABASE_URL names up to date and exits (0 done, 1 failed).
 * DATABASE_URL as for the example server: `postgres://…`, `sqlite:<path>`; default the SQLite file
 * `<DATA_DIR or ./data>/accounts.db`. DATABASE_SCHEMA picks a PostgreSQL schema other than the current one.
 * Safe to run while instances are serving, and from several places at once (an advisory lock serialises runs).
 */
import { createStores, databaseUrlOf, redactUrl } from '../lib/stores/factory.js'
import { isMain } from './is-main.js'

export interface MigrateResult {
  url: string
  /** The migrations applied by this run (empty when the database was up to date). */
  applied: string[]
}

export async function migrate (env: NodeJS.ProcessEnv = process.env): Promise<MigrateResult> {
  const url = databaseUrlOf(env)
  const schema = env.DATABASE_SCHEMA !== undefined && env.DATABASE_SCHEMA !== '' ? env.DATABASE_SCHEMA : undefined
  const stores = await createStores({ databaseUrl: url, migrate: true, postgres: { schema, poolSize: 1 } })
  await stores.close()
  return { url, applied: stores.applied }
}

export async function main (): Promise<void> {
  try {
    const { url, applied } = await migrate(process.env)
    const where = redactUrl(url)
    console.log(applied.length === 0
      ? `fastify-accounts: ${where} is up to date`
      : `fastify-accounts: ${where}: applied ${applied.join(', ')}`)
  } catch (error) {
    console.error(`fastify-accounts: migrating failed: ${(error instanceof Error ? error.message : String(error)).replace(/^fastify-accounts: /, '')}`)
    process.exitCode = 1
  }
}

if (isMain(import.meta.url)) await main()
