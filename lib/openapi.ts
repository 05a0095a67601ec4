import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { buildServer, packageRoot } from './app.js'
import { isMain } from './is-main.js'

/**
 * Writes the OpenAPI document of the example server (`npm run openapi`), pretty-printed, to `path`
 * (default `openapi.json` at the package root). The app runs on an in-memory SQLite database with a
 * throwaway JWT secret, so nothing is read from or written to ./data; ACCOUNTS_CONFIG is honoured,
 * as options change the routes (prefix, login field). Returns the absolute path written.
 */
export async function writeOpenApi (path: string = join(packageRoot(), 'openapi.json'), env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const app = await buildServer({
    DATABASE_URL: 'sqlite::memory:',
    JWT_SECRET: randomBytes(32).toString('hex'),
    ...(env.ACCOUNTS_CONFIG === undefined ? {} : { ACCOUNTS_CONFIG: env.ACCOUNTS_CONFIG })
  }, { logger: false })
  try {
    const target = resolve(path)
    writeFileSync(target, JSON.stringify(app.swagger(), null, 2) + '\n')
    return target
  } finally {
    await app.close()
  }
}

if (isMain(import.meta.url)) {
  try {
    const written = await writeOpenApi(process.argv[2])
    console.log(`OpenAPI document written to ${written}`)
  } catch (error) {
    console.error(error instanceof Error ? `fastify-accounts: ${error.message}` : error)
    process.exit(1)
  }
}
