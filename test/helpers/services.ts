/**
 * The real PostgreSQL and Redis the store tests run against: where they are, whether they answer, unique
 * schema / key-prefix names per test file, and their cleanup.
 *
 * TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) and TEST_REDIS_URL (default
 * redis://127.0.0.1:6379) point elsewhere. Under CI=true a service that does not answer fails the tests
 * that need it; elsewhere those tests are reported as skipped, with the reason.
 */
import { createServer, connect, type Server, type Socket } from 'node:net'
import { basename } from 'node:path'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import { Redis } from 'ioredis'
import pg from 'pg'
import type { Test } from 'tap'
import accounts, { MemoryMailer, type AccountsOptions, type TokenStore, type UserStore } from '../../lib/index.js'
import { fastHasher, SECRET } from './app.js'

export const PG_URL = process.env.TEST_DATABASE_URL !== undefined && process.env.TEST_DATABASE_URL !== ''
  ? process.env.TEST_DATABASE_URL
  : 'postgres://postgres@127.0.0.1:5432/test'
export const REDIS_URL = process.env.TEST_REDIS_URL !== undefined && process.env.TEST_REDIS_URL !== ''
  ? process.env.TEST_REDIS_URL
  : 'redis://127.0.0.1:6379'

export type Service = 'postgres' | 'redis'

const IN_CI = process.env.CI === 'true'

const probes = new Map<Service, Promise<string | null>>()

/** null when the service answers, else why not. */
async function probe (service: Service): Promise<string | null> {
  try {
    if (service === 'postgres') {
      const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 })
      client.on('error', () => {})
      try {
        await client.connect()
        await client.query('select 1')
      } finally {
        await client.end().catch(() => {})
      }
    } else {
      const client = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2000, retryStrategy: () => null, maxRetriesPerRequest: 0 })
      // ioredis rejects with "Connection is closed."; the 'error' event before it says why.
      let cause: Error | undefined
      client.on('error', (error: Error) => { cause ??= error })
      try {
        await client.connect().catch((error: unknown) => { throw cause ?? error })
        await client.ping()
      } finally {
        client.disconnect()
      }
    }
    return null
  } catch (error) {
    return error instanceof Error ? (error.message !== '' ? error.message : error.name) : String(error)
  }
}

/** null when the service answers, else why not (probed once per process). */
export async function unreachable (service: Service): Promise<string | null> {
  let result = probes.get(service)
  if (result === undefined) {
    result = probe(service)
    probes.set(service, result)
  }
  return await result
}

function describe (service: Service): string {
  return service === 'postgres' ? `PostgreSQL at ${PG_URL} (TEST_DATABASE_URL)` : `Redis at ${REDIS_URL} (TEST_REDIS_URL)`
}

/**
 * A subtest that needs `services`: skipped with the reason when one does not answer, except under CI=true,
 * where it fails instead.
 */
export async function serviceTest (t: Test, name: string, services: Service[], fn: (t: Test) => Promise<void>): Promise<void> {
  const problems: string[] = []
  for (const service of services) {
    const problem = await unreachable(service)
    if (problem !== null) problems.push(`${describe(service)} is unreachable: ${problem}`)
  }
  if (problems.length === 0) {
    await t.test(name, fn)
  } else if (IN_CI) {
    await t.test(name, async (t) => { t.fail(`${problems.join('; ')} (CI=true: the real services are required)`) })
  } else {
    await t.test(name, { skip: problems.join('; ') }, async () => {})
  }
}

let serial = 0

/**
 * A name no other test file or run uses: `<prefix>_<file>_<pid>_<time>_<n>`, lower case, at most 63
 * characters (PostgreSQL's identifier limit).
 */
export function uniqueName (prefix: string): string {
  const file = basename(process.argv[1] ?? 'test').replace(/\.test\.[cm]?[jt]s$/, '').replace(/[^a-z0-9]+/gi, '_').toLowerCase().slice(0, 20)
  return `${prefix}_${file}_${process.pid}_${Date.now().toString(36)}_${++serial}`.slice(0, 63)
}

/** Drops a schema and everything in it. */
export async function dropSchema (schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 })
  client.on('error', () => {})
  await client.connect()
  try {
    await client.query(`drop schema if exists "${schema.replaceAll('"', '""')}" cascade`)
  } finally {
    await client.end()
  }
}

/** A fresh schema name, dropped at the end of `t`. */
export function testSchema (t: Test, prefix = 'fa'): string {
  const schema = uniqueName(prefix)
  t.teardown(async () => { await dropSchema(schema) })
  return schema
}

/** Deletes every key under `prefix`; returns how many. */
export async function deleteKeys (prefix: string): Promise<number> {
  const client = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 1 })
  client.on('error', () => {})
  await client.connect()
  try {
    let deleted = 0
    // Until a whole pass finds nothing (at most a few).
    for (let pass = 0; pass < 5; pass++) {
      let found = 0
      let cursor = '0'
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1000)
        cursor = next
        found += keys.length
        if (keys.length > 0) deleted += await client.unlink(...keys)
      } while (cursor !== '0')
      if (found === 0) break
    }
    return deleted
  } finally {
    await client.quit().catch(() => { client.disconnect() })
  }
}

/** A fresh key prefix, whose keys are deleted at the end of `t`. */
export function testKeyPrefix (t: Test, prefix = 'fa-test'): string {
  const keyPrefix = `${uniqueName(prefix)}:`
  t.teardown(async () => { await deleteKeys(keyPrefix) })
  return keyPrefix
}

/** Every key under `prefix`, with its TTL in ms (-1: none). */
export async function keysWithTtl (prefix: string): Promise<Map<string, number>> {
  const client = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 1 })
  client.on('error', () => {})
  await client.connect()
  try {
    const out = new Map<string, number>()
    let cursor = '0'
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1000)
      cursor = next
      for (const key of keys) out.set(key, await client.pttl(key))
    } while (cursor !== '0')
    return out
  } finally {
    await client.quit().catch(() => { client.disconnect() })
  }
}

// ---- app instances on shared stores ------------------------------------------------------------------------

export type InstanceOverrides = Partial<Omit<AccountsOptions, 'jwt' | 'store'>> & { jwt?: Partial<AccountsOptions['jwt']> }

export interface Instance {
  app: FastifyInstance
  mailer: MemoryMailer
  post: (url: string, payload: object, headers?: Record<string, string>) => Promise<LightMyRequestResponse>
  get: (url: string, headers?: Record<string, string>) => Promise<LightMyRequestResponse>
}

/**
 * One instance of an app (as one process behind a load balancer would be) on `store`: the plugin under
 * /auth with the test hasher and key, no activation mail unless overridden. Closed at the end of `t`.
 */
export async function buildInstance (t: Test, store: { users: UserStore, tokens: TokenStore }, overrides: InstanceOverrides = {}): Promise<Instance> {
  const mailer = new MemoryMailer()
  const app = Fastify({ logger: false })
  const { jwt, ...rest } = overrides
  await app.register(accounts, {
    prefix: '/auth',
    store,
    mailer,
    passwordHasher: fastHasher,
    sendActivationEmail: false,
    // These tests hammer one account on purpose; test/rate-limit.test.ts covers the limits.
    rateLimit: false,
    ...rest,
    jwt: { signingKey: SECRET, ...jwt }
  })
  await app.ready()
  t.teardown(async () => { await app.close() })
  return {
    app,
    mailer,
    post: async (url, payload, headers = {}) => await app.inject({ method: 'POST', url: `/auth${url}`, payload, headers }),
    get: async (url, headers = {}) => await app.inject({ method: 'GET', url: `/auth${url}`, headers })
  }
}

export function body (res: LightMyRequestResponse): Record<string, unknown> {
  return JSON.parse(res.body) as Record<string, unknown>
}

// ---- a TCP proxy that misbehaves on request ------------------------------------------------------------------

export type ProxyMode = 'forward' | 'drop' | 'blackhole'

/**
 * A TCP proxy in front of a real service, to stage its failures: `forward` passes bytes both ways; `drop`
 * accepts new connections and closes them at once; `blackhole` accepts them and never answers, and stops
 * passing bytes on the open ones (a server that hangs, a network that eats packets). `stopListening()`
 * leaves nothing listening on the port (connection refused) until `listenAgain()`. `cut()` resets every open
 * connection.
 */
export class FaultProxy {
  readonly #target: { host: string, port: number }
  readonly #sockets = new Set<Socket>()
  #server: Server | undefined
  #port = 0
  mode: ProxyMode = 'forward'

  private constructor (target: { host: string, port: number }) {
    this.#target = target
  }

  /** A proxy on 127.0.0.1 (a free port) to the host and port of `serviceUrl`. */
  static async start (serviceUrl: string): Promise<FaultProxy> {
    const url = new URL(serviceUrl)
    const defaultPort = url.protocol.startsWith('redis') ? 6379 : 5432
    const proxy = new FaultProxy({ host: url.hostname, port: url.port === '' ? defaultPort : Number(url.port) })
    await proxy.listenAgain()
    return proxy
  }

  get port (): number {
    return this.#port
  }

  /** `serviceUrl` pointing at the proxy. */
  urlFor (serviceUrl: string): string {
    const url = new URL(serviceUrl)
    url.hostname = '127.0.0.1'
    url.port = String(this.#port)
    return url.toString()
  }

  #track (socket: Socket): Socket {
    this.#sockets.add(socket)
    socket.on('close', () => { this.#sockets.delete(socket) })
    socket.on('error', () => {})
    return socket
  }

  #accept (client: Socket): void {
    this.#track(client)
    if (this.mode === 'drop') {
      client.resetAndDestroy()
      return
    }
    if (this.mode === 'blackhole') return
    const upstream = this.#track(connect(this.#target.port, this.#target.host))
    client.on('data', (chunk) => { if (this.mode === 'forward') upstream.write(chunk) })
    upstream.on('data', (chunk) => { if (this.mode === 'forward') client.write(chunk) })
    client.on('close', () => { upstream.destroy() })
    upstream.on('close', () => { client.destroy() })
  }

  /** Resets every open connection, both sides. */
  cut (): void {
    for (const socket of this.#sockets) socket.resetAndDestroy()
  }

  /** Back to normal: open connections are reset (their bytes were lost), new ones are forwarded. */
  restore (): void {
    this.cut()
    this.mode = 'forward'
  }

  async stopListening (): Promise<void> {
    const server = this.#server
    this.#server = undefined
    this.cut()
    if (server !== undefined) await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  }

  async listenAgain (): Promise<void> {
    if (this.#server !== undefined) return
    const server = createServer((socket) => { this.#accept(socket) })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.#port, '127.0.0.1', () => { resolve() })
    })
    this.#port = (server.address() as { port: number }).port
    this.#server = server
  }

  async close (): Promise<void> {
    await this.stopListening()
  }
}
