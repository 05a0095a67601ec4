import type { FastifyRequest } from 'fastify'
import type { AccountUser } from '../../ports.js'
import { OptionsError } from '../../errors.js'

/**
 * django-rest-framework-jwt's JWT_AUTH settings, camelCased, with their defaults and checks. Kept apart
 * from the routes (lib/routes/drf-jwt.ts re-exports them) so lib/options.ts can resolve `drfJwt` without
 * loading the route code.
 */

/** The payload drf-jwt's jwt_payload_handler writes. */
export interface DrfJwtPayload {
  user_id: number
  /** The login field's value (Django's `get_username()`): the email when `loginField` is `email`. */
  username: string
  exp: number
  email: string
  /** Only with `allowRefresh` (and on every refreshed token): the time of the password login. */
  orig_iat?: number
  aud?: string
  iss?: string
  [claim: string]: unknown
}

/**
 * drf-jwt's `JWT_AUTH` settings, camelCased. Times are in seconds. The key, the algorithm, `JWT_LEEWAY`,
 * `JWT_AUDIENCE` and `JWT_ISSUER` are the core's `jwt.*` options (one signer and verifier for all dialects).
 */
export interface DrfJwtOptions {
  /** JWT_EXPIRATION_DELTA: lifetime of a token. Default 300. */
  expirationDelta?: number
  /** JWT_ALLOW_REFRESH: tokens from api-token-auth/ carry `orig_iat`, so they can be refreshed. Default false. */
  allowRefresh?: boolean
  /** JWT_REFRESH_EXPIRATION_DELTA: how long after `orig_iat` a token may still be refreshed. Default 604800 (7 days). */
  refreshExpirationDelta?: number
  /** JWT_AUTH_HEADER_PREFIX: `Authorization: <prefix> <token>` (any letter case). Default 'JWT'. */
  authHeaderPrefix?: string
  /** JWT_AUTH_COOKIE: name of an HttpOnly cookie set with every token issued, and read when there is no Authorization header. Default off. */
  authCookie?: string
  /** The cookie's Domain (JWT_AUTH_COOKIE_DOMAIN of drf-jwt's successors). Default none. */
  authCookieDomain?: string
  /** The cookie's Path (JWT_AUTH_COOKIE_PATH). Default '/', as Django. */
  authCookiePath?: string
  /** The cookie's Secure flag (JWT_AUTH_COOKIE_SECURE). Default false, as drf-jwt 1.11; set true behind HTTPS. */
  authCookieSecure?: boolean
  /** The cookie's SameSite (JWT_AUTH_COOKIE_SAMESITE). Default 'lax': what browsers assume for drf-jwt 1.11's cookie, which names none. */
  authCookieSameSite?: 'lax' | 'strict' | 'none'
  /** JWT_VERIFY_EXPIRATION: false accepts expired tokens (forever; drf-jwt warns against it). Default true. */
  verifyExpiration?: boolean
  /** JWT_PAYLOAD_HANDLER: the payload of a new token, given the user and drf-jwt's default payload. Keep `exp`, `username` and `user_id`. */
  payloadHandler?: (user: AccountUser, payload: DrfJwtPayload) => Record<string, unknown>
  /** JWT_RESPONSE_PAYLOAD_HANDLER: the success body of all three endpoints. Default `{ token }`. */
  responsePayloadHandler?: (token: string, user: AccountUser, request: FastifyRequest) => object | Promise<object>
}

type OptionalKeys = 'authCookie' | 'authCookieDomain' | 'payloadHandler' | 'responsePayloadHandler'
export type ResolvedDrfJwtOptions = Required<Omit<DrfJwtOptions, OptionalKeys>> & Pick<DrfJwtOptions, OptionalKeys>

/** Every default in one place: drf-jwt 1.11's `JWT_AUTH` defaults. */
export const DRF_JWT_DEFAULTS = {
  expirationDelta: 300,
  allowRefresh: false,
  refreshExpirationDelta: 7 * 24 * 3600,
  authHeaderPrefix: 'JWT',
  authCookiePath: '/',
  authCookieSecure: false,
  authCookieSameSite: 'lax',
  verifyExpiration: true
} as const satisfies Omit<ResolvedDrfJwtOptions, OptionalKeys>

const KNOWN = new Set<string>([
  ...Object.keys(DRF_JWT_DEFAULTS), 'authCookie', 'authCookieDomain', 'payloadHandler', 'responsePayloadHandler'
])

/** JWT_AUTH settings that are the core's options here, and where they went. */
const ELSEWHERE: Record<string, string> = {
  leeway: 'set jwt.leeway (JWT_LEEWAY; shared with the core\'s verifier)',
  audience: 'set jwt.audience (JWT_AUDIENCE)',
  issuer: 'set jwt.issuer (JWT_ISSUER)',
  algorithm: 'set jwt.algorithm (JWT_ALGORITHM)',
  secretKey: 'set jwt.signingKey (JWT_SECRET_KEY)',
  privateKey: 'set jwt.signingKey (JWT_PRIVATE_KEY)',
  publicKey: 'set jwt.verifyingKey (JWT_PUBLIC_KEY)',
  verify: 'JWT_VERIFY=False (no signature check) is not supported'
}

/** A cookie name as RFC 6265 allows it (a token). */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

function fail (message: string): never {
  throw new OptionsError(message)
}

function isPositiveInteger (value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0
}

/** Merges drf-jwt's defaults under `input` and rejects anything mistyped, naming the option. */
export function resolveDrfJwtOptions (input: DrfJwtOptions = {}): ResolvedDrfJwtOptions {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) fail('drfJwt must be an object')
  for (const key of Object.keys(input)) {
    if (Object.hasOwn(ELSEWHERE, key)) fail(`drfJwt.${key} is not an option: ${ELSEWHERE[key]}`)
    if (!KNOWN.has(key)) fail(`unknown option "drfJwt.${key}"`)
  }
  const defined = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined))
  const o = { ...DRF_JWT_DEFAULTS, ...defined } as ResolvedDrfJwtOptions

  for (const key of ['expirationDelta', 'refreshExpirationDelta'] as const) {
    if (!isPositiveInteger(o[key])) fail(`drfJwt.${key} must be a positive whole number of seconds`)
  }
  for (const key of ['allowRefresh', 'verifyExpiration', 'authCookieSecure'] as const) {
    if (typeof o[key] !== 'boolean') fail(`drfJwt.${key} must be a boolean`)
  }
  if (typeof o.authHeaderPrefix !== 'string' || !/^[A-Za-z][\w-]*$/.test(o.authHeaderPrefix)) {
    fail('drfJwt.authHeaderPrefix must be one word such as "JWT" or "Bearer"')
  }
  if (o.authHeaderPrefix.toLowerCase() === 'token') fail('drfJwt.authHeaderPrefix cannot be "Token": it is the opaque token scheme')
  if (o.authCookie !== undefined && (typeof o.authCookie !== 'string' || !COOKIE_NAME.test(o.authCookie))) {
    fail('drfJwt.authCookie must be a cookie name (letters, digits and !#$%&\'*+-.^_`|~), or unset to turn the cookie off')
  }
  if (o.authCookieDomain !== undefined && (typeof o.authCookieDomain !== 'string' || !/^\.?[A-Za-z0-9.-]+$/.test(o.authCookieDomain))) {
    fail('drfJwt.authCookieDomain must be a domain name such as "example.com"')
  }
  if (typeof o.authCookiePath !== 'string' || !/^\/[\x21-\x3a\x3c-\x7e]*$/.test(o.authCookiePath)) {
    fail('drfJwt.authCookiePath must be a path starting with /')
  }
  if (!['lax', 'strict', 'none'].includes(o.authCookieSameSite)) {
    fail('drfJwt.authCookieSameSite must be "lax", "strict" or "none"')
  }
  if (o.authCookieSameSite === 'none' && !o.authCookieSecure) {
    fail('drfJwt.authCookieSameSite "none" requires drfJwt.authCookieSecure: true (browsers drop it otherwise)')
  }
  for (const key of ['payloadHandler', 'responsePayloadHandler'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'function') fail(`drfJwt.${key} must be a function`)
  }
  return o
}
