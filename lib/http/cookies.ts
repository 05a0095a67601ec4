import { fastifyCookie } from '@fastify/cookie'
import type { AnyRequest } from './any-request.js'

/**
 * The request's cookies, whether or not @fastify/cookie parsed them for this route (a host route behind
 * a dialect's authenticator may sit outside the scope that registered it). Malformed headers read as none.
 */
export function requestCookies (request: AnyRequest): Record<string, string | undefined> {
  const parsed = (request as { cookies?: Record<string, string | undefined> | null }).cookies
  if (parsed !== undefined && parsed !== null) return parsed
  const header = request.headers.cookie
  if (typeof header !== 'string' || header === '') return {}
  try {
    return fastifyCookie.parse(header)
  } catch {
    return {}
  }
}

/** A cookie's Secure flag for this request: `auto` is Secure behind https (the configured protocol or the request's). */
export function secureCookie (setting: boolean | 'auto', request: AnyRequest, protocol: 'http' | 'https'): boolean {
  return setting === 'auto' ? protocol === 'https' || request.protocol === 'https' : setting
}

/** One cookie of the request (see requestCookies). */
export function requestCookie (request: AnyRequest, name: string): string | undefined {
  return requestCookies(request)[name]
}
