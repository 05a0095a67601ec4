import type { FastifyInstance } from 'fastify'
import { buildServer, ConfigError, type BuildServerOptions } from './app.js'
import { OptionsError } from '../lib/errors.js'
import { isMain } from '../bin/is-main.js'

/** What the signal handling needs of `process`; a test passes an EventEmitter. */
export interface SignalSource {
  on (signal: 'SIGINT' | 'SIGTERM', listener: (signal: NodeJS.Signals) => void): unknown
  off (signal: 'SIGINT' | 'SIGTERM', listener: (signal: NodeJS.Signals) => void): unknown
}

/**
 * On SIGINT or SIGTERM: close the app (in-flight requests finish, the database and mailer close), then
 * exit 0 (1 if closing failed). A second signal while closing exits 1 at once. Returns a remover.
 */
export function closeOnSignals (app: FastifyInstance, source: SignalSource = process, exit: (code: number) => void = (code) => process.exit(code)): () => void {
  let closing = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) {
      app.log.warn(`${signal} received again: exiting without waiting`)
      exit(1)
      return
    }
    closing = true
    app.log.info(`${signal} received: closing (send it again to exit at once)`)
    app.close().then(() => { exit(0) }, (error: unknown) => {
      app.log.error({ err: error }, 'error while closing')
      exit(1)
    })
  }
  source.on('SIGINT', onSignal)
  source.on('SIGTERM', onSignal)
  return () => {
    source.off('SIGINT', onSignal)
    source.off('SIGTERM', onSignal)
  }
}

function port (value: string | undefined): number {
  if (value === undefined || value === '') return 3000
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new ConfigError(`PORT must be a number from 0 to 65535, not "${value}"`)
  return Number(value)
}

/** Builds the example server and listens on PORT (3000) / HOST (127.0.0.1); returns the app and its URL. */
export async function start (env: NodeJS.ProcessEnv = process.env, opts: BuildServerOptions = {}): Promise<{ app: FastifyInstance, url: string }> {
  const listenOn = { port: port(env.PORT), host: env.HOST !== undefined && env.HOST !== '' ? env.HOST : '127.0.0.1' }
  const app = await buildServer(env, opts)
  let url: string
  try {
    url = await app.listen(listenOn)
  } catch (error) {
    await app.close()
    throw error
  }
  // The pages and mailed links use the configured domain (localhost:PORT by default), not the listening address.
  const site = `${app.accounts.options.protocol}://${app.accounts.options.domain}`
  const pages = app.hasRoute({ method: 'GET', url: '/' }) ? ` Account pages: ${site}/` : ''
  const mail = app.hasRoute({ method: 'GET', url: '/dev/mail' }) ? `, mails sent: ${site}/dev/mail` : ''
  app.log.info(`fastify-accounts listening on ${url}.${pages}${mail} (API docs: ${url}/docs, OpenAPI document: ${url}/openapi.json)`)
  return { app, url }
}

async function main (): Promise<void> {
  try {
    const { app } = await start(process.env)
    closeOnSignals(app)
  } catch (error) {
    // Configuration mistakes get their message alone; anything else its stack.
    const known = error instanceof ConfigError || error instanceof OptionsError
    console.error(known ? `fastify-accounts: cannot start: ${error.message}` : error)
    process.exit(1)
  }
}

if (isMain(import.meta.url)) await main()
