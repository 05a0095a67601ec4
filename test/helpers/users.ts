import type { LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { json, PASSWORD, type TestApp } from './app.js'

type Payload = Record<string, unknown> | unknown[] | string

/** A POST (or another method) with a JSON body, optionally authenticated. */
export async function send (
  t: TestApp, method: 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'GET', url: string, payload?: Payload, headers: Record<string, string> = {}
): Promise<LightMyRequestResponse> {
  return t.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) })
}

export function bearer (access: string): Record<string, string> {
  return { authorization: `Bearer ${access}` }
}

export function tokenAuth (key: string): Record<string, string> {
  return { authorization: `Token ${key}` }
}

/** POST /auth/users/ and nothing more (the user stays inactive with the default options). */
export async function register (
  t: TestApp, username = 'alice', email = `${username}@example.com`, password = PASSWORD
): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: 'POST', url: '/auth/users/', payload: { username, email, password } })
}

/** POST /auth/jwt/create/ */
export async function jwtLogin (t: TestApp, username = 'alice', password = PASSWORD): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: 'POST', url: '/auth/jwt/create/', payload: { username, password } })
}

/** POST /auth/token/login/ and the opaque key it returns. */
export async function opaqueToken (t: TestApp, username = 'alice', password = PASSWORD): Promise<string> {
  const res = await t.app.inject({ method: 'POST', url: '/auth/token/login/', payload: { username, password } })
  if (res.statusCode !== 200) throw new Error(`token login failed: ${res.body}`)
  return (json(res) as { auth_token: string }).auth_token
}

export async function userCount (t: TestApp): Promise<number> {
  return (await t.users.listUsers()).length
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * A 400 in DRF's `{field: [msg, …]}` shape with exactly `fields` as keys, each a non-empty list of
 * non-empty strings (messages are free text). Returns the body for further checks.
 */
export function assertFieldErrors (t: Test, res: LightMyRequestResponse, fields: string[], status = 400): Record<string, string[]> {
  t.equal(res.statusCode, status, `status ${status}`)
  t.equal(String(res.headers['content-type']).split(';')[0], 'application/json', 'a JSON body')
  const body = json(res)
  t.ok(isObject(body), 'the body is an object')
  if (!isObject(body)) return {}
  t.same(Object.keys(body).sort(), [...fields].sort(), `keys are ${fields.join(', ')}`)
  for (const field of fields) {
    const messages = body[field]
    const ok = Array.isArray(messages) && messages.length > 0 &&
      messages.every((m) => typeof m === 'string' && m.length > 0)
    t.ok(ok, `${field} is a non-empty list of messages`)
  }
  return body as Record<string, string[]>
}

/** `{detail}` and nothing else (DRF's error shape), with the given status. */
export function assertDetail (t: Test, res: LightMyRequestResponse, status: number): void {
  t.equal(res.statusCode, status, `status ${status}`)
  const body = json(res)
  t.ok(isObject(body), 'the body is an object')
  if (!isObject(body)) return
  t.same(Object.keys(body), ['detail'], 'only detail')
  t.ok(typeof body.detail === 'string' && body.detail.length > 0, 'detail is a message')
}

/** simplejwt's `{detail, code[, messages]}` with the given code, status 401. */
export function assertTokenError (t: Test, res: LightMyRequestResponse, code: string): void {
  t.equal(res.statusCode, 401, 'status 401')
  const body = json(res)
  t.ok(isObject(body), 'the body is an object')
  if (!isObject(body)) return
  t.equal(body.code, code, `code ${code}`)
  t.ok(typeof body.detail === 'string' && body.detail.length > 0, 'detail is a message')
  const extra = Object.keys(body).filter((k) => !['detail', 'code', 'messages'].includes(k))
  t.same(extra, [], 'no keys but detail, code and messages')
}
