import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify'
import type { Redis } from 'ioredis'
import { ConfigError, readConfigFile, readPackageJson, type FileOptions } from '../bin/config.js'
import type { AccountsEventName } from '../lib/events.js'
import { swaggerOptions } from '../lib/http/openapi.js'
import { SmtpMailer } from '../lib/mail/smtp.js'
import { DEFAULTS, resolveOptions, type AccountsOptions } from '../lib/options.js'
import { accounts } from '../lib/plugin.js'
import type { Mailer } from '../lib/ports.js'
import { createStores, type Stores } from '../lib/stores/factory.js'
import { createRedisClient } from '../lib/stores/redis.js'
import { accountsUi, uiLinks } from '../lib/ui/index.js'
import { DevMailbox, devMailRoutes } from './dev-mailbox.js'

export interface BuildServerOptions {
  /** Fastify's logger option; default pino at `info` (or `LOG_LEVEL`). */
  logger?: boolean | object
  /** Where the default logger writes (default stdout); its level is LOG_LEVEL, its redaction always on. */
  logStream?: { write (line: string): void }
  /** Called on the new instance before anything is registered (hooks, extra plugins, routes). */
  configure?: (app: FastifyInstance) => void | Promise<void>
  /** Whether stdout is a terminal (default process.stdout.isTTY): the default logger then pretty-prints. */
  tty?: boolean
}

/**
 * The default logger's destination: pino-pretty (a dev dependency) on a terminal, outside production;
 * JSON lines otherwise, for whatever collects them. Undefined means pino's own stdout.
 */
export async function logDestination (env: NodeJS.ProcessEnv, tty: boolean): Promise<{ write (line: string): void } | undefined> {
  if (!tty || env.NODE_ENV === 'production') return undefined
  try {
    const { default: pretty } = await import('pino-pretty')
    // The mail lines say everything in their message; their `mail` object is for the JSON logs.
    return pretty({ translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,mail' })
  } catch {
    return undefined // installed without dev dependencies: JSON it is
  }
}

/** The dev mailbox (and its /dev/mail page) exists only without SMTP and outside production. */
export function hasDevMailbox (env: NodeJS.ProcessEnv): boolean {
  return (env.SMTP_URL === undefined || env.SMTP_URL === '') && env.NODE_ENV !== 'production'
}

/** localhost with the port the server listens on, so mailed links lead back to it (PORT=4000 too). */
function defaultDomain (env: NodeJS.ProcessEnv): string {
  const port = env.PORT !== undefined && /^\d{1,5}$/.test(env.PORT) && Number(env.PORT) > 0 ? Number(env.PORT) : 3000
  return `localhost:${port}`
}

/** Checks DATABASE_URL's scheme up front, so a typo fails before anything is written. */
function checkDatabaseUrl (url: string): void {
  if (/^sqlite:/i.test(url) || /^postgres(ql)?:\/\//i.test(url)) {
    if (/^sqlite:(\/\/)?$/i.test(url)) throw new ConfigError('DATABASE_URL: sqlite: needs a file path, e.g. sqlite:./data/accounts.db, or sqlite::memory:')
    return
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]
  throw new ConfigError(`DATABASE_URL: unsupported ${scheme === undefined ? 'value' : `scheme "${scheme}:"`}; use sqlite:<path>, sqlite::memory: or postgres://user@host/db`)
}

/**
 * The JWT secret kept in `<dataDir>/jwt-secret` when JWT_SECRET is not set: 64 random hex characters,
 * created with mode 0600 on the first start and reused afterwards, so tokens survive restarts.
 */
function storedJwtSecret (dataDir: string): string {
  const file = join(dataDir, 'jwt-secret')
  try {
    mkdirSync(dataDir, { recursive: true })
    // 'wx': never overwrite a secret another process has just written.
    writeFileSync(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new ConfigError(`JWT_SECRET is not set and ${file} cannot be created: ${(error as Error).message}`)
    }
  }
  let secret: string
  try {
    if (!statSync(file).isFile()) throw new Error('not a file')
    secret = readFileSync(file, 'utf8').trim()
  } catch (error) {
    throw new ConfigError(`JWT_SECRET is not set and ${file} cannot be read: ${(error as Error).message}`)
  }
  if (secret.length < 32) throw new ConfigError(`${file} holds a JWT secret shorter than 32 characters; delete it to generate a new one, or set JWT_SECRET`)
  return secret
}

/** Stands in for the stored secret while the options are checked (an HMAC secret, as the stored one). */
const PROVISIONAL_SECRET = `provisional-${randomBytes(32).toString('hex')}`

/**
 * Never in a log line: credentials in headers, and any password or token a body or error might carry.
 * (Fastify's request serializer logs no headers or bodies; this holds if a handler logs more.)
 */
export const REDACTED_LOG_PATHS = [
  'req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]',
  'headers.authorization', 'headers.cookie',
  '*.password', '*.current_password', '*.new_password', '*.re_password', '*.re_new_password',
  '*.password1', '*.password2', '*.old_password', '*.new_password1', '*.new_password2',
  '*.token', '*.refresh', '*.access', '*.auth_token', '*.refresh_token', '*.access_token', '*.key'
]

/** The example server writes every audit event to its log: ids and reasons, never secrets. */
function logAuditEvents (app: FastifyInstance): void {
  const events: AccountsEventName[] = [
    'login.succeeded', 'login.failed', 'user.created', 'user.activated', 'user.updated', 'user.deleted',
    'password.changed', 'password.reset', 'username.changed', 'token.refreshed', 'token.reuseDetected', 'token.revoked',
    'mfa.activated', 'mfa.deactivated', 'mfa.verified', 'mfa.failed', 'mfa.recoveryCodesRegenerated'
  ]
  for (const event of events) {
    app.accounts.events.on(event, (payload) => { app.log.info({ audit: event, ...payload }, `audit: ${event}`) })
  }
}

/** webmaster@<host> as Django's DEFAULT_FROM_EMAIL, without the port of `domain`. */
function defaultFrom (domain: string): string {
  return `webmaster@${domain.replace(/:\d+$/, '')}`
}

/**
 * The account pages' "Continue with …" buttons send the pages' own root URL as djoser's redirect_uri: with
 * social providers configured and no `social.allowedRedirectUris` of the config's own, that URL is the one
 * allowed (the providers' consoles must list it too). A config that lists its own keeps exactly its list.
 */
function allowPagesRedirect (options: AccountsOptions): void {
  const social = options.social
  // A malformed block is left as it is, for resolveOptions to name.
  const providers: unknown = social?.providers
  if (typeof providers !== 'object' || providers === null || Object.keys(providers).length === 0 || social?.allowedRedirectUris !== undefined) return
  options.social = { ...social, allowedRedirectUris: [`${options.protocol ?? DEFAULTS.protocol}://${options.domain ?? DEFAULTS.domain}/`] }
}

/**
 * The example server (`npm start`) as a function, ready to listen: the plugin under `/auth` on a SQLite
 * file (two-factor sign-in on, with the djoser dialect), the account pages at / (fastify-accounts/ui; every
 * mailed link lands there), the dev mailbox at
 * /dev/mail (no SMTP_URL, not production), Swagger UI at /docs and the OpenAPI document at /openapi.json.
 * Configured by the environment: DATABASE_URL, SMTP_URL (+ SMTP_FROM), JWT_SECRET, DATA_DIR, ACCOUNTS_CONFIG,
 * LOG_LEVEL, PORT (the mailed links' default domain is localhost:PORT), HOST, NODE_ENV.
 */
export { ConfigError }

export async function buildServer (env: NodeJS.ProcessEnv = process.env, opts: BuildServerOptions = {}): Promise<FastifyInstance> {
  const dataDir = resolve(env.DATA_DIR ?? './data')
  const configFile = env.ACCOUNTS_CONFIG !== undefined && env.ACCOUNTS_CONFIG !== '' ? env.ACCOUNTS_CONFIG : undefined
  const fileOptions: FileOptions = configFile === undefined ? {} : readConfigFile(configFile)
  const databaseUrl = env.DATABASE_URL !== undefined && env.DATABASE_URL !== '' ? env.DATABASE_URL : `sqlite:${join(dataDir, 'accounts.db')}`
  checkDatabaseUrl(databaseUrl)

  const { jwt: fileJwt, ...fileRest } = fileOptions
  const envSecret = env.JWT_SECRET !== undefined && env.JWT_SECRET !== '' ? env.JWT_SECRET : undefined
  // The pages speak djoser's dialect: with another one, the mailed links keep that dialect's defaults.
  const pages = (fileRest.dialect ?? 'djoser') === 'djoser'
  const options: AccountsOptions = {
    prefix: '/auth',
    domain: defaultDomain(env),
    ...(pages ? uiLinks('/') : {}),
    // Two-factor sign-in on, so a first run shows it on the account page; `"mfa": false` in ACCOUNTS_CONFIG turns it off.
    ...(pages ? { mfa: true } : {}),
    ...fileRest,
    jwt: { signingKey: envSecret ?? PROVISIONAL_SECRET, ...fileJwt }
  }
  if (pages) allowPagesRedirect(options)
  // Check the options before writing or opening anything, so a typo names the file it came from.
  try {
    resolveOptions(options)
  } catch (error) {
    const message = (error as Error).message.replace(/^fastify-accounts: /, '')
    throw new ConfigError(configFile === undefined ? message : `ACCOUNTS_CONFIG: ${resolve(configFile)}: ${message}`)
  }
  if (typeof options.prefix !== 'string' || (options.prefix !== '' && !options.prefix.startsWith('/'))) {
    throw new ConfigError(`ACCOUNTS_CONFIG: ${resolve(configFile ?? '')}: "prefix" must be a path starting with /, or ""`)
  }

  let mailer: SmtpMailer | undefined
  if (env.SMTP_URL !== undefined && env.SMTP_URL !== '') {
    try {
      mailer = new SmtpMailer({ url: env.SMTP_URL, from: env.SMTP_FROM ?? defaultFrom(options.domain ?? DEFAULTS.domain) })
    } catch (error) {
      throw new ConfigError(`SMTP_URL: ${(error as Error).message}`)
    }
  }

  // Only now, with everything else checked: a failed start leaves no secret file behind.
  if (options.jwt.signingKey === PROVISIONAL_SECRET) {
    try {
      options.jwt = { ...options.jwt, signingKey: storedJwtSecret(dataDir) }
    } catch (error) {
      await mailer?.close()
      throw error
    }
  }

  const pkg = readPackageJson()
  const stream = opts.logStream ?? (opts.logger === undefined ? await logDestination(env, opts.tty ?? process.stdout.isTTY === true) : undefined)
  const logger = { level: env.LOG_LEVEL ?? 'info', redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' }, ...(stream === undefined ? {} : { stream }) }
  const app = Fastify({
    logger: opts.logger ?? logger,
    // The router's own errors (a malformed %-escape, an overlong parameter), in DRF's shape.
    frameworkErrors (error, _request, reply) {
      const badUrl = error.code === 'FST_ERR_BAD_URL'
      void (reply as unknown as FastifyReply).code(badUrl ? 400 : 404).send({ detail: badUrl ? 'Malformed URL.' : 'Not found.' })
    }
  })
  app.setNotFoundHandler(async (_request, reply) => reply.code(404).send({ detail: 'Not found.' }))

  let stores: Stores | undefined
  let rateLimitRedis: Redis | undefined
  let closed = false
  async function closeResources (): Promise<void> {
    if (closed) return
    closed = true
    await stores?.close()
    await mailer?.close()
    rateLimitRedis?.disconnect()
  }
  app.addHook('onClose', closeResources)

  try {
    if (opts.configure !== undefined) await opts.configure(app)
    const redisUrl = env.REDIS_URL !== undefined && env.REDIS_URL !== '' ? env.REDIS_URL : undefined
    const schema = env.DATABASE_SCHEMA !== undefined && env.DATABASE_SCHEMA !== '' ? { postgres: { schema: env.DATABASE_SCHEMA } } : {}
    const keyPrefix = env.REDIS_KEY_PREFIX !== undefined && env.REDIS_KEY_PREFIX !== '' ? { redis: { keyPrefix: env.REDIS_KEY_PREFIX } } : {}
    stores = await createStores({ databaseUrl, redisUrl, logger: app.log, ...schema, ...keyPrefix })
    if (redisUrl !== undefined && options.rateLimit !== false) {
      // Rate-limit counters shared by every instance, on a connection of their own.
      rateLimitRedis = createRedisClient(redisUrl, { connectionName: 'fastify-accounts-rate-limit' })
      await rateLimitRedis.connect().catch((error: unknown) => { app.log.warn({ err: error }, 'rate limits: Redis is unreachable for now') })
      options.rateLimit = { ...options.rateLimit, redis: rateLimitRedis }
    }

    await app.register(swagger, swaggerOptions({ title: pkg.name, version: pkg.version, description: pkg.description }))

    const site = `${options.protocol ?? DEFAULTS.protocol}://${options.domain ?? DEFAULTS.domain}`
    const mailbox = mailer === undefined && hasDevMailbox(env) ? new DevMailbox(app.log, { pageUrl: `${site}/dev/mail` }) : undefined
    const chosenMailer: Mailer | undefined = mailer ?? mailbox
    if (mailbox !== undefined && env.HOST !== undefined && !['', '127.0.0.1', 'localhost', '::1'].includes(env.HOST)) {
      app.log.warn(`HOST is ${env.HOST}: anyone who reaches this server can read /dev/mail and use its links; set SMTP_URL, or listen on 127.0.0.1`)
    }
    const mailerOption: { mailer?: Mailer } = chosenMailer === undefined ? {} : { mailer: chosenMailer }
    await app.register(accounts, { openApiSecurity: true, ...options, ...mailerOption, store: { users: stores.users, tokens: stores.tokens, social: stores.social, mfa: stores.mfa, refreshStanding: stores.refreshStanding } })
    logAuditEvents(app)
    const devLinks = mailbox === undefined ? [] : [{ href: '/dev/mail', label: 'Dev mailbox' }]
    if (pages) await app.register(accountsUi, { apiPrefix: options.prefix, navLinks: [...devLinks, { href: '/docs', label: 'API docs' }] })
    if (mailbox !== undefined) {
      await app.register(devMailRoutes(mailbox, { stylesheet: pages ? '/style.css' : undefined, navLinks: [...(pages ? [{ href: '/', label: 'Account pages' }] : []), { href: '/docs', label: 'API docs' }] }))
    }
    await app.register(swaggerUi, { routePrefix: '/docs' })
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
    await app.ready()
  } catch (error) {
    await closeResources().catch(() => {})
    await app.close().catch(() => {})
    throw error
  }
  return app
}
