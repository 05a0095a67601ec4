import type { LightMyRequestResponse } from 'fastify'
import type { MailMessage } from '../../lib/index.js'
import { buildApp, json, linkFrom, PASSWORD, type TestApp } from './app.js'

/** Helpers for the password, username and reset tests. Everything goes through `app.inject`. */

export type Body = Record<string, unknown>
export type Headers = Record<string, string>

export async function post (t: TestApp, url: string, payload?: Body, headers: Headers = {}): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: 'POST', url, headers, ...(payload === undefined ? {} : { payload }) })
}

export const bearer = (access: string): Headers => ({ authorization: `Bearer ${access}` })
export const tokenAuth = (key: string): Headers => ({ authorization: `Token ${key}` })

/** The parsed body as a record, for key checks ({} for an empty body, so assertions fail rather than throw). */
export function body (res: LightMyRequestResponse): Record<string, unknown> {
  if (res.body === '') return {}
  const parsed = json(res)
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`not an object: ${res.body}`)
  return parsed as Record<string, unknown>
}

/** True when `value` is a non-empty array of non-empty strings (DRF's per-field message list). */
export function isMessageList (value: unknown): value is string[] {
  return Array.isArray(value) && value.length > 0 && value.every((m) => typeof m === 'string' && m.length > 0)
}

/** POST /auth/jwt/create/ with `{[field]: login, password}`. */
export async function jwtCreate (t: TestApp, login: string, password: string, field: 'username' | 'email' = 'username'): Promise<LightMyRequestResponse> {
  return post(t, '/auth/jwt/create/', { [field]: login, password })
}

/** POST /auth/token/login/ with `{[field]: login, password}`. */
export async function tokenLogin (t: TestApp, login: string, password: string, field: 'username' | 'email' = 'username'): Promise<LightMyRequestResponse> {
  return post(t, '/auth/token/login/', { [field]: login, password })
}

/** An opaque token for a user; throws when the login fails. */
export async function authToken (t: TestApp, login: string, password = PASSWORD, field: 'username' | 'email' = 'username'): Promise<string> {
  const res = await tokenLogin(t, login, password, field)
  if (res.statusCode !== 200) throw new Error(`token login failed: ${res.body}`)
  return (json(res) as { auth_token: string }).auth_token
}

/** POST /auth/jwt/refresh/ */
export async function refresh (t: TestApp, token: string): Promise<LightMyRequestResponse> {
  return post(t, '/auth/jwt/refresh/', { refresh: token })
}

/** GET /auth/users/me/ with the given headers. */
export async function me (t: TestApp, headers: Headers): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: 'GET', url: '/auth/users/me/', headers })
}

/** Messages sent to `to` (exact address). */
export function mailsTo (t: TestApp, to: string): MailMessage[] {
  return t.mailer.outbox.filter((m) => m.to === to)
}

/**
 * Registers (and, when a link is mailed, activates) a user, then logs in for a JWT pair with whichever
 * login field the app uses. Works for `loginField: 'email'`, where test/helpers/app.ts's activeUser cannot.
 */
export async function registerActive (
  t: TestApp,
  opts: { username?: string, email?: string, password?: string, loginField?: 'username' | 'email' } = {}
): Promise<{ id: number, access: string, refresh: string }> {
  const username = opts.username ?? 'alice'
  const email = opts.email ?? `${username}@example.com`
  const password = opts.password ?? PASSWORD
  const field = opts.loginField ?? 'username'
  const created = await post(t, '/auth/users/', { username, email, password })
  if (created.statusCode !== 201) throw new Error(`register failed: ${created.body}`)
  const id = (json(created) as { id: number }).id
  if (t.mailer.last(email) !== undefined) {
    const activated = await post(t, '/auth/users/activation/', linkFrom(t.mailer, email))
    if (activated.statusCode !== 204) throw new Error(`activation failed: ${activated.body}`)
  }
  const login = await jwtCreate(t, field === 'username' ? username : email, password, field)
  if (login.statusCode !== 200) throw new Error(`login failed: ${login.body}`)
  return { id, ...(json(login) as { access: string, refresh: string }) }
}

export const sleep = async (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Waits until just after the start of the next wall-clock second (one-time links count whole seconds). */
export async function startOfNextSecond (): Promise<void> {
  await sleep(1000 - (Date.now() % 1000) + 5)
}

type Options = Parameters<typeof buildApp>[0]
interface TapLike { teardown: (fn: () => unknown) => void }

export interface UserSetup extends TestApp {
  /** The username (also the login for loginField 'username'). */
  name: string
  email: string
  user: { id: number, access: string, refresh: string }
}

/**
 * Building an app costs ~300 ms (schema compilation), so tests share one app per set of options per
 * file, each test with a user of its own; tests therefore compare counts (mails, rows) before and after
 * rather than absolute numbers. Every app is closed in the root test's teardown.
 */
export function userSetups (root: TapLike): {
  setup: (t: TapLike, options?: Options) => Promise<UserSetup>
  uniqueName: (prefix?: string) => string
} {
  const apps = new Map<string, Promise<TestApp>>()
  let counter = 0
  root.teardown(async () => {
    for (const app of apps.values()) await (await app).app.close()
  })
  const uniqueName = (prefix = 'user'): string => `${prefix}${++counter}`
  async function setup (_t: TapLike, options: Options = {}): Promise<UserSetup> {
    const key = JSON.stringify(options)
    let app = apps.get(key)
    if (app === undefined) {
      app = buildApp(options)
      apps.set(key, app)
    }
    const a = await app
    const name = uniqueName()
    const email = `${name}@example.com`
    const loginField = options?.loginField ?? 'username'
    return { ...a, name, email, user: await registerActive(a, { username: name, email, loginField }) }
  }
  return { setup, uniqueName }
}
