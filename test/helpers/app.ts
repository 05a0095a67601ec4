import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import accounts, { MemoryMailer, type AccountsOptions } from '../../lib/index.js'
import { Argon2Hasher } from '../../lib/passwords/argon2.js'
import { MemoryTokenStore, MemoryUserStore } from '../../lib/stores/memory.js'

export const SECRET = 'test-secret-that-is-long-enough-0123456789'

/** Cheap argon2id parameters for tests only; defaults stay at the OWASP minimum. */
export const fastHasher = new Argon2Hasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 })

export interface TestApp {
  app: FastifyInstance
  mailer: MemoryMailer
  users: MemoryUserStore
  tokens: MemoryTokenStore
}

type Overrides = Partial<Omit<AccountsOptions, 'jwt'>> & { jwt?: Partial<AccountsOptions['jwt']> }

/** An app with the plugin under /auth, in-memory stores, a memory mailer and a protected /private route. */
export async function buildApp (overrides: Overrides = {}): Promise<TestApp> {
  const mailer = new MemoryMailer()
  const users = new MemoryUserStore()
  const tokens = new MemoryTokenStore()
  const app = Fastify({ logger: false })
  const { jwt, ...rest } = overrides
  await app.register(accounts, {
    prefix: '/auth',
    store: { users, tokens },
    mailer,
    passwordHasher: fastHasher,
    // Tests log in far more often than a person; test/rate-limit.test.ts turns the limits on.
    rateLimit: false,
    ...rest,
    jwt: { signingKey: SECRET, ...jwt }
  })
  app.get('/private', { onRequest: app.authenticate }, async (request) => ({ user: request.user }))
  await app.ready()
  return { app, mailer, users, tokens }
}

/** The uid and token of the link in the last mail to `to`. */
export function linkFrom (mailer: MemoryMailer, to?: string): { uid: string, token: string } {
  const mail = mailer.last(to)
  if (mail === undefined) throw new Error(`no mail${to === undefined ? '' : ` to ${to}`}`)
  const match = /\/([A-Za-z0-9_-]+)\/([0-9a-z]+-[0-9a-f]+)(?:\s|$)/m.exec(mail.text)
  if (match === null) throw new Error(`no link in mail: ${mail.text}`)
  return { uid: match[1], token: match[2] }
}

export function json (res: LightMyRequestResponse): unknown {
  return JSON.parse(res.body)
}

export const PASSWORD = 'correct-horse-battery-staple'

/** Registers and activates a user through the API; returns its JWT pair. */
export async function activeUser (t: TestApp, username = 'alice', email = `${username}@example.com`, password = PASSWORD): Promise<{ id: number, access: string, refresh: string }> {
  const created = await t.app.inject({ method: 'POST', url: '/auth/users/', payload: { username, email, password } })
  if (created.statusCode !== 201) throw new Error(`register failed: ${created.body}`)
  const id = (json(created) as { id: number }).id
  if (t.mailer.last(email) !== undefined) {
    const link = linkFrom(t.mailer, email)
    const activated = await t.app.inject({ method: 'POST', url: '/auth/users/activation/', payload: link })
    if (activated.statusCode !== 204) throw new Error(`activation failed: ${activated.body}`)
  }
  const login = await t.app.inject({ method: 'POST', url: '/auth/jwt/create/', payload: { username, password } })
  if (login.statusCode !== 200) throw new Error(`login failed: ${login.body}`)
  return { id, ...(json(login) as { access: string, refresh: string }) }
}
