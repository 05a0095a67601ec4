#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { importDjango, type ImportLogger } from '../lib/import-django.js'
import { createStores, databaseUrlOf, redactUrl } from '../lib/stores/factory.js'
import { isMain } from './is-main.js'


const USAGE = `usage: npm run import-django -- --from <django.sqlite3 | sqlite:<path> | postgres://user@host/db>

Copies Django's auth_user, authtoken_token and simplejwt's token blacklist into the database DATABASE_URL
names (default sqlite:<DATA_DIR or ./data>/accounts.db; DATABASE_SCHEMA picks a PostgreSQL schema), with
the tokens in Redis when REDIS_URL is set (REDIS_KEY_PREFIX as for the server). Safe to run twice.`

/** The CLI: parses `argv`, opens the target from `env`, imports, prints the summary. Returns the exit code. */
export async function main (argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let from: string | undefined
  try {
    const { values } = parseArgs({ args: argv, options: { from: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true })
    if (values.help === true) {
      console.log(USAGE)
      return 0
    }
    from = values.from
  } catch (error) {
    console.error(`import-django: ${(error as Error).message}\n${USAGE}`)
    return 2
  }
  if (from === undefined || from === '') {
    console.error(`import-django: --from is required\n${USAGE}`)
    return 2
  }
  const databaseUrl = databaseUrlOf(env)
  const redisUrl = env.REDIS_URL !== undefined && env.REDIS_URL !== '' ? env.REDIS_URL : undefined
  const schema = env.DATABASE_SCHEMA !== undefined && env.DATABASE_SCHEMA !== '' ? env.DATABASE_SCHEMA : undefined
  const keyPrefix = env.REDIS_KEY_PREFIX !== undefined && env.REDIS_KEY_PREFIX !== '' ? env.REDIS_KEY_PREFIX : undefined
  const logger: ImportLogger = { info: (message) => { console.log(`import-django: ${message}`) } }
  let stores: Awaited<ReturnType<typeof createStores>> | undefined
  try {
    stores = await createStores({
      databaseUrl,
      redisUrl,
      migrate: true,
      postgres: { schema, poolSize: 2, statementTimeoutMs: 60_000 },
      redis: { keyPrefix, commandTimeoutMs: 10_000 }
    })
    logger.info(`from ${/^postgres/i.test(from) ? redactUrl(from) : from} into ${redactUrl(databaseUrl)}${redisUrl === undefined ? '' : ` (tokens: ${redactUrl(redisUrl)})`}`)
    await importDjango({ from, store: stores, logger })
    logger.info('done')
    return 0
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).replace(/^fastify-accounts: /, '')
    console.error(`import-django: failed: ${message}`)
    return 1
  } finally {
    await stores?.close()
  }
}

if (isMain(import.meta.url)) process.exitCode = await main()
