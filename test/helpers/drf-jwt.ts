import swagger from '@fastify/swagger'
import { swaggerOptions } from '../../lib/http/openapi.js'
import Fastify, { type LightMyRequestResponse } from 'fastify'
import accounts, { MemoryMailer, type User } from '../../lib/index.js'
import { drfJwtAuthenticator, drfJwtRoutes, resolveDrfJwtOptions, type DrfJwtOptions } from '../../lib/dialects/drf-jwt/index.js'
import { MemoryTokenStore, MemoryUserStore } from '../../lib/stores/memory.js'
import { fastHasher, json, PASSWORD, SECRET, type TestApp } from './app.js'
import { signHmac } from './jwt.js'

type CoreOverrides = Parameters<typeof import('./app.js').buildApp>[0]

export interface DrfJwtAppOptions {
  /** Options of the core plugin (jwt merged over `{ signingKey: SECRET }`). */
  core?: CoreOverrides
  /** Where the core mounts; default '/djoser' (its routes are harmless there). */
  corePrefix?: string
  /** Options of drfJwtRoutes, mounted under /api; the /private route's authenticator gets them too. */
  drfJwt?: DrfJwtOptions
  /** Register @fastify/swagger first, as lib/app.ts does. */
  swagger?: boolean
}

/**
 * An app with the core under `corePrefix`, drf-jwt under /api, in-memory stores, a memory mailer, and
 * GET /private protected by drfJwtAuthenticator (answers `{ user, auth }`).
 */
export async function buildDrfJwtApp (options: DrfJwtAppOptions = {}): Promise<TestApp> {
  const mailer = new MemoryMailer()
  const users = new MemoryUserStore()
  const tokens = new MemoryTokenStore()
  const app = Fastify({ logger: false })
  if (options.swagger === true) {
    await app.register(swagger, swaggerOptions({ title: 'fastify-accounts', version: '0.0.0' }))
  }
  const { jwt, ...rest } = options.core ?? {}
  await app.register(accounts, {
    prefix: options.corePrefix ?? '/djoser',
    store: { users, tokens },
    mailer,
    passwordHasher: fastHasher,
    rateLimit: false,
    ...rest,
    jwt: { signingKey: SECRET, ...jwt }
  })
  await app.register(drfJwtRoutes, { prefix: '/api', ...options.drfJwt })
  const authenticate = drfJwtAuthenticator(app.accounts, resolveDrfJwtOptions(options.drfJwt))
  app.get('/private', { onRequest: authenticate }, async (request) => ({ user: request.user, auth: request.auth }))
  await app.ready()
  return { app, mailer, users, tokens }
}

const apps = new Map<string, Promise<TestApp>>()

/** The app for a configuration without functions, built once and shared by the tests of a file. */
export async function drfJwtAppFor (options: DrfJwtAppOptions = {}): Promise<TestApp> {
  const key = JSON.stringify(options)
  let built = apps.get(key)
  if (built === undefined) {
    built = buildDrfJwtApp(options)
    apps.set(key, built)
  }
  return await built
}

/** Closes every app drfJwtAppFor built (for t.teardown). */
export async function closeDrfJwtApps (): Promise<void> {
  const built = [...apps.values()]
  apps.clear()
  await Promise.all(built.map(async (app) => { await (await app).app.close() }))
}

let serial = 0
let passwordHash: Promise<string> | undefined

/** A user created straight in the store (password PASSWORD), active unless told; names unique per process. */
export async function createUser (t: TestApp, fields: Partial<Pick<User, 'username' | 'email' | 'isActive'>> = {}): Promise<User> {
  passwordHash ??= fastHasher.hash(PASSWORD)
  const username = fields.username ?? `drf${++serial}`
  return await t.users.createUser({
    username,
    email: fields.email ?? `${username}@example.com`,
    password: await passwordHash,
    isActive: fields.isActive ?? true
  })
}

/** POST /api<path> with a JSON body (or a form body when `form`). */
export async function apiPost (t: TestApp, path: string, payload: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await t.app.inject({ method: 'POST', url: `/api${path}`, payload: payload as Record<string, unknown>, headers })
}

/** GET /private with the given headers. */
export async function getPrivate (t: TestApp, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await t.app.inject({ method: 'GET', url: '/private', headers })
}

/** api-token-auth/ for `username` with PASSWORD; the token. */
export async function drfLogin (t: TestApp, username: string, password = PASSWORD, field = 'username'): Promise<string> {
  const res = await apiPost(t, '/api-token-auth/', { [field]: username, password })
  if (res.statusCode !== 200) throw new Error(`api-token-auth failed: ${res.body}`)
  return (json(res) as { token: string }).token
}

/** drf-jwt's payload for `user`, signed by hand with the test secret; `overrides` replace or add claims (undefined deletes). */
export function drfToken (user: Pick<User, 'id' | 'username' | 'email'>, overrides: Record<string, unknown> = {}, secret = SECRET): string {
  const now = Math.floor(Date.now() / 1000)
  const payload: Record<string, unknown> = { user_id: user.id, username: user.username, exp: now + 300, email: user.email, ...overrides }
  for (const [key, value] of Object.entries(payload)) if (value === undefined) delete payload[key]
  return signHmac(payload, secret)
}

export function nowSeconds (): number {
  return Math.floor(Date.now() / 1000)
}
