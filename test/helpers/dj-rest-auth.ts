import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import accounts, { MemoryMailer, type AccountsOptions } from '../../lib/index.js'
import {
  djRestAuthAuthenticator, djRestAuthCoreDefaults, djRestAuthRoutes, resolveDjRestAuthOptions, type DjRestAuthOptions,
  type ResolvedDjRestAuthOptions
} from '../../lib/dialects/dj-rest-auth/index.js'
import { MemoryTokenStore, MemoryUserStore } from '../../lib/stores/memory.js'
import { fastHasher, json, PASSWORD, SECRET, type TestApp } from './app.js'

/** Where the dj-rest-auth routes mount in these tests (the core's djoser routes sit at /djoser). */
export const DRA = '/dj-rest-auth'

export type CoreOverrides = Partial<Omit<AccountsOptions, 'jwt'>> & { jwt?: Partial<AccountsOptions['jwt']> }

export interface DjTestApp extends TestApp {
  dj: ResolvedDjRestAuthOptions
}

export interface BuildOptions {
  /** Core options over the defaults a dj-rest-auth deployment implies (djRestAuthCoreDefaults). */
  core?: CoreOverrides
  /** Called before ready(), e.g. to register @fastify/swagger first or add routes. */
  before?: (app: FastifyInstance) => Promise<void>
}

/**
 * The core under /djoser (in-memory stores, memory mailer, cheap argon2), the dj-rest-auth routes under
 * /dj-rest-auth with `dj`, and GET /private behind djRestAuthAuthenticator.
 */
export async function buildDjRestAuthApp (dj: DjRestAuthOptions = {}, build: BuildOptions = {}): Promise<DjTestApp> {
  const mailer = new MemoryMailer()
  const users = new MemoryUserStore()
  const tokens = new MemoryTokenStore()
  const resolved = resolveDjRestAuthOptions(dj)
  const app = Fastify({ logger: false })
  if (build.before !== undefined) await build.before(app)
  const { jwt, ...core } = build.core ?? {}
  await app.register(accounts, {
    prefix: '/djoser',
    store: { users, tokens },
    mailer,
    passwordHasher: fastHasher,
    // Tests log in far more often than a person; test/dj-rest-auth-openapi.test.ts turns the limits on.
    rateLimit: false,
    ...djRestAuthCoreDefaults(resolved),
    ...core,
    jwt: { signingKey: SECRET, ...jwt }
  })
  await app.register(djRestAuthRoutes, { prefix: DRA, ...dj })
  app.get('/private', { onRequest: djRestAuthAuthenticator(app.accounts, dj) }, async (request) => ({ user: request.user, scheme: request.auth?.scheme }))
  await app.ready()
  return { app, mailer, users, tokens, dj: resolved }
}

type Payload = Record<string, unknown> | string

/** A request to the dj-rest-auth routes (`path` below /dj-rest-auth). */
export async function dra (
  t: TestApp, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, payload?: Payload, headers: Record<string, string> = {}
): Promise<LightMyRequestResponse> {
  return t.app.inject({ method, url: `${DRA}${path}`, headers, ...(payload === undefined ? {} : { payload }) })
}

/** The key of the verification mail last sent to `to` (`#/verify-email/<uid>:<token>` by default). */
export function keyFrom (mailer: MemoryMailer, to?: string): string {
  const mail = mailer.last(to)
  if (mail === undefined) throw new Error(`no mail${to === undefined ? '' : ` to ${to}`}`)
  const match = /verify-email\/([A-Za-z0-9_-]+:[0-9a-z]+-[0-9a-f]+)(?:\s|$)/m.exec(mail.text)
  if (match === null) throw new Error(`no verification key in mail: ${mail.text}`)
  return match[1]
}

/** Registers `username` through registration/ and, when verification is mandatory, verifies the mailed key. */
export async function registered (t: DjTestApp, username = 'alice', email = `${username}@example.com`, password = PASSWORD): Promise<LightMyRequestResponse> {
  const res = await dra(t, 'POST', '/registration/', { username, email, password1: password, password2: password })
  if (res.statusCode !== 201) throw new Error(`registration failed: ${res.statusCode} ${res.body}`)
  if (t.dj.emailVerification === 'mandatory') {
    const verified = await dra(t, 'POST', '/registration/verify-email/', { key: keyFrom(t.mailer, email) })
    if (verified.statusCode !== 200) throw new Error(`verification failed: ${verified.body}`)
  }
  return res
}

/** POST login/ with a username (or the given body). */
export async function login (t: DjTestApp, body: Record<string, unknown> = { username: 'alice', password: PASSWORD }): Promise<LightMyRequestResponse> {
  return dra(t, 'POST', '/login/', body)
}

/** A registered, verified user's token key (token mode). */
export async function tokenKey (t: DjTestApp, username = 'alice'): Promise<string> {
  const res = await login(t, { username, password: PASSWORD })
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.body}`)
  return (json(res) as { key: string }).key
}

export interface ParsedCookie {
  name: string
  value: string
  attributes: Record<string, string | true>
}

/** The Set-Cookie headers of a response, parsed (attribute names lower-cased). */
export function setCookies (res: LightMyRequestResponse): ParsedCookie[] {
  const header = res.headers['set-cookie']
  const lines = header === undefined ? [] : Array.isArray(header) ? header : [header]
  return lines.map((line) => {
    const [pair, ...attrs] = line.split(';').map((part) => part.trim())
    const eq = pair.indexOf('=')
    const attributes: Record<string, string | true> = {}
    for (const attr of attrs) {
      const i = attr.indexOf('=')
      if (i < 0) attributes[attr.toLowerCase()] = true
      else attributes[attr.slice(0, i).toLowerCase()] = attr.slice(i + 1)
    }
    return { name: pair.slice(0, eq), value: pair.slice(eq + 1), attributes }
  })
}

export function cookie (res: LightMyRequestResponse, name: string): ParsedCookie | undefined {
  return setCookies(res).find((c) => c.name === name)
}

export { json, PASSWORD }
