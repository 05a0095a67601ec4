import swagger from '@fastify/swagger'
import { swaggerOptions } from '../../lib/http/openapi.js'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import accounts, { MemoryMailer, type AccountsOptions } from '../../lib/index.js'
import { sanicJwtAuthenticator, sanicJwtRoutes, type SanicJwtOptions } from '../../lib/dialects/sanic-jwt/index.js'
import { MemoryTokenStore, MemoryUserStore } from '../../lib/stores/memory.js'
import { fastHasher, json, PASSWORD, SECRET } from './app.js'
import { signHmac } from './jwt.js'

export { PASSWORD, SECRET }

export interface SanicTestApp {
  app: FastifyInstance
  mailer: MemoryMailer
  users: MemoryUserStore
  tokens: MemoryTokenStore
}

export type CoreOverrides = Partial<Omit<AccountsOptions, 'jwt'>> & { jwt?: Partial<AccountsOptions['jwt']> }

export interface BuildOptions {
  /** Core options (the core mounts at /djoser); activation mail and rate limits are off unless given. */
  core?: CoreOverrides
  /** Register @fastify/swagger first, as lib/app.ts does. */
  swagger?: boolean
}

/**
 * The core (djoser dialect) under /djoser and the sanic-jwt routes under /auth, on one in-memory user
 * and token store, with an app route /private behind sanicJwtAuthenticator.
 */
export async function buildSanicApp (sanic: SanicJwtOptions = {}, build: BuildOptions = {}): Promise<SanicTestApp> {
  const mailer = new MemoryMailer()
  const users = new MemoryUserStore()
  const tokens = new MemoryTokenStore()
  const app = Fastify({ logger: false })
  if (build.swagger === true) {
    await app.register(swagger, swaggerOptions({ title: 'fastify-accounts', version: '0.0.0' }))
  }
  const { jwt, ...core } = build.core ?? {}
  await app.register(accounts, {
    prefix: '/djoser',
    store: { users, tokens },
    mailer,
    passwordHasher: fastHasher,
    sendActivationEmail: false,
    rateLimit: false,
    openApiSecurity: build.swagger === true,
    ...core,
    jwt: { signingKey: SECRET, ...jwt }
  })
  await app.register(sanicJwtRoutes, { prefix: '/auth', ...sanic })
  app.get('/private', { schema: { hide: true }, onRequest: sanicJwtAuthenticator(app.accounts, sanic) }, async (request) => ({ user: request.user, auth: request.auth }))
  await app.ready()
  return { app, mailer, users, tokens }
}

let serial = 0

/** A username no other test of this process uses. */
export function nextName (): string {
  return `sanic${++serial}`
}

/** Registers an active user through the djoser routes (activation mail off); returns its id and name. */
export async function createUser (t: SanicTestApp, username = nextName(), password = PASSWORD): Promise<{ id: number, username: string, email: string }> {
  const email = `${username}@example.com`
  const res = await t.app.inject({ method: 'POST', url: '/djoser/users/', payload: { username, email, password } })
  if (res.statusCode !== 201) throw new Error(`register failed: ${res.body}`)
  return { id: (json(res) as { id: number }).id, username, email }
}

export async function login (t: SanicTestApp, payload: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await t.app.inject({ method: 'POST', url: '/auth', payload: payload as Record<string, unknown>, headers })
}

/** Logs a new user in; returns the user and the login answer's body. */
export async function loggedIn (t: SanicTestApp, names: { access?: string, refresh?: string, login?: string } = {}): Promise<{ id: number, username: string, access: string, refresh: string | undefined, res: LightMyRequestResponse }> {
  const user = await createUser(t)
  const res = await login(t, { [names.login ?? 'username']: user.username, password: PASSWORD })
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.body}`)
  const body = json(res) as Record<string, string>
  return { id: user.id, username: user.username, access: body[names.access ?? 'access_token'], refresh: body[names.refresh ?? 'refresh_token'], res }
}

export function bearer (token: string, prefix = 'Bearer'): Record<string, string> {
  return { authorization: `${prefix} ${token}` }
}

export async function get (t: SanicTestApp, url: string, headers: Record<string, string> = {}, cookies?: Record<string, string>): Promise<LightMyRequestResponse> {
  return await t.app.inject({ method: 'GET', url, headers, ...(cookies === undefined ? {} : { cookies }) })
}

export async function refresh (t: SanicTestApp, payload: unknown, headers: Record<string, string> = {}, cookies?: Record<string, string>): Promise<LightMyRequestResponse> {
  return await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: payload as Record<string, unknown>, headers, ...(cookies === undefined ? {} : { cookies }) })
}

/** A sanic-jwt style access token signed with the test key: `{user_id, exp}` plus `extra`, exp `lifetime` s from now. */
export function sanicToken (userId: number, lifetime = 1800, extra: Record<string, unknown> = {}, key = 'user_id'): string {
  return signHmac({ [key]: userId, exp: Math.floor(Date.now() / 1000) + lifetime, ...extra }, SECRET)
}

/** The set-cookie attributes of the response's cookie `name`, or undefined. */
export function cookieOf (res: LightMyRequestResponse, name: string): { value: string, httpOnly?: boolean, path?: string, domain?: string, secure?: boolean, sameSite?: string, maxAge?: number } | undefined {
  return (res.cookies as Array<{ name: string, value: string }>).find((cookie) => cookie.name === name)
}

/** The body of a sanic-jwt error: `{reasons, exception}`. */
export interface SanicError {
  reasons: string[]
  exception: string
  valid?: boolean
}
