import { createHmac } from 'node:crypto'
import { activeUser, buildApp, type TestApp } from './app.js'

/** A JWT's header and payload, read without verifying anything (base64url JSON). */
export interface DecodedJwt {
  header: Record<string, unknown>
  payload: Record<string, unknown>
  signature: string
}

export function b64url (value: string | Buffer): string {
  return Buffer.from(value).toString('base64url')
}

export function decodeJwt (token: string): DecodedJwt {
  const parts = token.split('.')
  if (parts.length !== 3) throw new Error(`not a JWS compact token: ${token}`)
  const [header, payload, signature] = parts
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>,
    signature
  }
}

/** Signs `payload` as an HS256/384/512 JWT by hand with node:crypto, for forged and edge-case tokens. */
export function signHmac (payload: Record<string, unknown>, secret: string | Buffer, alg: 'HS256' | 'HS384' | 'HS512' = 'HS256', header: Record<string, unknown> = {}): string {
  const digest = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg]
  const input = `${b64url(JSON.stringify({ alg, typ: 'JWT', ...header }))}.${b64url(JSON.stringify(payload))}`
  return `${input}.${createHmac(digest, secret).update(input).digest('base64url')}`
}

/** An unsigned token (`alg: none`, empty signature). */
export function unsigned (payload: Record<string, unknown>): string {
  return `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64url(JSON.stringify(payload))}.`
}

/** The claims simplejwt writes into a token of `type` for `userId`: iat is now + `iatOffset` s, exp is iat + `lifetime` s. */
export function claims (userId: number, type: 'access' | 'refresh', options: { iatOffset?: number, lifetime?: number, jti?: string } = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000)
  const iat = now + (options.iatOffset ?? 0)
  return {
    token_type: type,
    exp: iat + (options.lifetime ?? (type === 'access' ? 300 : 86400)),
    iat,
    jti: options.jti ?? 'f'.repeat(32),
    user_id: userId
  }
}

/** Changes a character of the part after the last dot (a JWT's signature, a sealed value's ciphertext) so it no longer verifies. */
export function tamperSignature (token: string): string {
  const i = token.lastIndexOf('.')
  const signature = token.slice(i + 1)
  // Flip a character in the middle: the last base64url character may carry unused bits.
  const mid = Math.floor(signature.length / 2)
  const swapped = signature[mid] === 'A' ? 'B' : 'A'
  return `${token.slice(0, i + 1)}${signature.slice(0, mid)}${swapped}${signature.slice(mid + 1)}`
}

/** Replaces the payload (keeping header and signature), e.g. to raise a user id. */
export function tamperPayload (token: string, change: (payload: Record<string, unknown>) => Record<string, unknown>): string {
  const [header, , signature] = token.split('.')
  return `${header}.${b64url(JSON.stringify(change(decodeJwt(token).payload)))}.${signature}`
}

export async function me (t: TestApp, authorization?: string) {
  return await t.app.inject({ method: 'GET', url: '/auth/users/me/', headers: authorization === undefined ? {} : { authorization } })
}

export async function post (t: TestApp, url: string, payload: unknown, headers: Record<string, string> = {}) {
  return await t.app.inject({ method: 'POST', url: `/auth${url}`, payload: payload as Record<string, unknown>, headers })
}

export type Overrides = Parameters<typeof buildApp>[0]

const apps = new Map<string, Promise<TestApp>>()
let serial = 0

/** A username no other test of this process uses. */
export function nextUsername (): string {
  return `user${++serial}`
}

/** The app for a configuration, built once and shared by the tests (building one costs ~100 ms). */
export async function appFor (overrides: Overrides = {}): Promise<TestApp> {
  const key = JSON.stringify(overrides)
  let built = apps.get(key)
  if (built === undefined) {
    built = buildApp(overrides)
    apps.set(key, built)
  }
  return await built
}

/**
 * The app for a configuration (built once per configuration and shared: building one costs ~100 ms)
 * and a fresh active user in it, with the JWT pair of its first login.
 */
export async function setup (overrides: Overrides = {}): Promise<{ app: TestApp, id: number, username: string, email: string, access: string, refresh: string }> {
  const app = await appFor(overrides)
  const username = nextUsername()
  const email = `${username}@example.com`
  return { app, username, email, ...(await activeUser(app, username, email)) }
}

