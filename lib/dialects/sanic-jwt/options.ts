import { OptionsError } from '../../errors.js'

/*
 * sanic-jwt's settings, kept apart from the routes so lib/options.ts can resolve them without loading
 * the route code (lib/routes/sanic-jwt.ts re-exports all of this).
 */

/**
 * sanic-jwt 1.8's settings, camelCased (SANIC_JWT_ACCESS_TOKEN_NAME → accessTokenName). The signing
 * key and algorithm (sanic-jwt's `secret`, `private_key`, `algorithm`) are the core's `jwt.signingKey`,
 * `jwt.verifyingKey` and `jwt.algorithm`; `url_prefix` is Fastify's `prefix` (mount the routes at '/auth').
 */
export interface SanicJwtOptions {
  /** Fastify's register option: where the routes mount (sanic-jwt's url_prefix, '/auth'). */
  prefix?: string
  /** Body key of the access token. */
  accessTokenName?: string
  /** Body key of the refresh token (answer of login, body of refresh). */
  refreshTokenName?: string
  /** Login also returns a refresh token, and POST /refresh exists. */
  refreshTokenEnabled?: boolean
  /**
   * Seconds a refresh token stays usable (beyond sanic-jwt, whose refresh tokens live as long as the
   * application keeps them). Default: the core's `jwt.refreshTokenLifetime`.
   */
  refreshTokenLifetime?: number
  /** The claim (and /me key) holding the user id: sanic-jwt's `user_id` setting. */
  userIdKey?: string
  /** Access token lifetime, seconds. */
  expirationDelta?: number
  /** Clock skew allowed on exp, nbf and iat, seconds (also shifts a generated nbf, as sanic-jwt does). */
  leeway?: number
  /** Name of the request header carrying the access token. */
  authorizationHeader?: string
  /** Scheme word before the token in that header; '' for a bare token. */
  authorizationHeaderPrefix?: string
  /** Written as `aud` and required on verification. */
  claimAud?: string
  /** Write `iat`. */
  claimIat?: boolean
  /** Written as `iss` and required on verification. */
  claimIss?: string
  /** Write `nbf` (now + leeway + claimNbfDelta). */
  claimNbf?: boolean
  claimNbfDelta?: number
  /** Tokens travel in cookies: login and refresh set them, and requests are read from them. */
  cookieSet?: boolean
  /** With cookies on, a request without the cookie is refused (false: fall back to the header). */
  cookieStrict?: boolean
  cookieAccessTokenName?: string
  cookieRefreshTokenName?: string
  cookieHttponly?: boolean
  /** '' sets no Domain attribute. */
  cookieDomain?: string
  cookiePath?: string
  cookieSecure?: boolean
  /** SameSite attribute; unset by default. */
  cookieSamesite?: 'Strict' | 'Lax' | 'None'
  /** Max-Age attribute, seconds; 0 makes session cookies. */
  cookieMaxAge?: number
  /** Split the access token cookie: header.payload readable by scripts, the signature HttpOnly. */
  cookieSplit?: boolean
  cookieSplitSignatureName?: string
  /** Paths under the prefix; '/' is the prefix itself. */
  pathToAuthenticate?: string
  pathToRefresh?: string
  pathToRetrieveUser?: string
  pathToVerify?: string
}

type OptionalKeys = 'prefix' | 'refreshTokenLifetime' | 'claimAud' | 'claimIss' | 'cookieSamesite'
export type ResolvedSanicJwtOptions = Required<Omit<SanicJwtOptions, OptionalKeys>> & Pick<SanicJwtOptions, Exclude<OptionalKeys, 'prefix'>>

/** sanic-jwt 1.8's defaults, in one place. */
export const SANIC_JWT_DEFAULTS = {
  accessTokenName: 'access_token',
  refreshTokenName: 'refresh_token',
  refreshTokenEnabled: false,
  userIdKey: 'user_id',
  expirationDelta: 1800,
  leeway: 180,
  authorizationHeader: 'authorization',
  authorizationHeaderPrefix: 'Bearer',
  claimIat: false,
  claimNbf: false,
  claimNbfDelta: 0,
  cookieSet: false,
  cookieStrict: true,
  cookieAccessTokenName: 'access_token',
  cookieRefreshTokenName: 'refresh_token',
  cookieHttponly: true,
  cookieDomain: '',
  cookiePath: '/',
  cookieSecure: false,
  cookieMaxAge: 0,
  cookieSplit: false,
  cookieSplitSignatureName: 'access_token_signature',
  pathToAuthenticate: '/',
  pathToRefresh: '/refresh',
  pathToRetrieveUser: '/me',
  pathToVerify: '/verify'
} as const satisfies Omit<ResolvedSanicJwtOptions, Exclude<OptionalKeys, 'prefix'>>

/** Fastify's own register options, passed along with ours and ignored here. */
const REGISTER_OPTIONS = new Set(['prefix', 'logLevel', 'logSerializers'])
const KNOWN = new Set<string>([...Object.keys(SANIC_JWT_DEFAULTS), 'refreshTokenLifetime', 'claimAud', 'claimIss', 'cookieSamesite'])
const BOOLEANS = ['refreshTokenEnabled', 'claimIat', 'claimNbf', 'cookieSet', 'cookieStrict', 'cookieHttponly', 'cookieSecure', 'cookieSplit'] as const
const NAMES = ['accessTokenName', 'refreshTokenName', 'userIdKey'] as const
const COOKIE_NAMES = ['cookieAccessTokenName', 'cookieRefreshTokenName', 'cookieSplitSignatureName'] as const
const PATHS = ['pathToAuthenticate', 'pathToRefresh', 'pathToRetrieveUser', 'pathToVerify'] as const
/** RFC 7230 token characters: header names, the header scheme word, cookie names. */
const TOKEN_CHARS = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const SAMESITE = ['Strict', 'Lax', 'None'] as const

function fail (message: string): never {
  throw new OptionsError(`sanicJwt.${message}`)
}

function isWholeNumber (value: unknown, min: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min
}

/** Merges the defaults under the given sanic-jwt options and rejects anything mistyped, naming it. */
export function resolveSanicJwtOptions (input: SanicJwtOptions = {}): ResolvedSanicJwtOptions {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) fail('options must be an object')
  const given: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(input)) {
    if (REGISTER_OPTIONS.has(key)) continue
    if (!KNOWN.has(key)) fail(`${key} is not a sanic-jwt option`)
    if (value !== undefined) given[key] = value
  }
  const o = { ...SANIC_JWT_DEFAULTS, ...given } as ResolvedSanicJwtOptions

  for (const key of BOOLEANS) if (typeof o[key] !== 'boolean') fail(`${key} must be a boolean`)
  for (const key of NAMES) {
    if (typeof o[key] !== 'string' || o[key].length === 0 || o[key].length > 100) fail(`${key} must be a non-empty string`)
  }
  if (o.refreshTokenEnabled && o.accessTokenName === o.refreshTokenName) fail('refreshTokenName must differ from accessTokenName')
  if (!isWholeNumber(o.expirationDelta, 1)) fail('expirationDelta must be a positive whole number of seconds')
  if (!isWholeNumber(o.leeway, 0)) fail('leeway must be a whole number of seconds, 0 or more')
  if (!isWholeNumber(o.claimNbfDelta, 0)) fail('claimNbfDelta must be a whole number of seconds, 0 or more')
  if (o.refreshTokenLifetime !== undefined && !isWholeNumber(o.refreshTokenLifetime, 1)) {
    fail('refreshTokenLifetime must be a positive whole number of seconds')
  }
  if (typeof o.authorizationHeader !== 'string' || !TOKEN_CHARS.test(o.authorizationHeader)) fail('authorizationHeader must be a header name')
  o.authorizationHeader = o.authorizationHeader.toLowerCase()
  if (typeof o.authorizationHeaderPrefix !== 'string' || (o.authorizationHeaderPrefix !== '' && !TOKEN_CHARS.test(o.authorizationHeaderPrefix))) {
    fail('authorizationHeaderPrefix must be one word such as "Bearer" or "JWT", or "" for a bare token')
  }
  for (const key of ['claimAud', 'claimIss'] as const) {
    if (o[key] !== undefined && (typeof o[key] !== 'string' || o[key].length === 0)) fail(`${key} must be a non-empty string`)
  }
  for (const key of COOKIE_NAMES) {
    if (typeof o[key] !== 'string' || !TOKEN_CHARS.test(o[key])) fail(`${key} must be a cookie name`)
  }
  if (o.cookieSet) {
    const names = [o.cookieAccessTokenName, ...(o.cookieSplit ? [o.cookieSplitSignatureName] : []), ...(o.refreshTokenEnabled ? [o.cookieRefreshTokenName] : [])]
    if (new Set(names).size !== names.length) fail('cookieAccessTokenName, cookieRefreshTokenName and cookieSplitSignatureName must differ')
  }
  if (typeof o.cookieDomain !== 'string' || /[\s;,]/.test(o.cookieDomain)) fail('cookieDomain must be a domain, or "" for none')
  if (typeof o.cookiePath !== 'string' || !o.cookiePath.startsWith('/') || /[\s;,]/.test(o.cookiePath)) fail('cookiePath must be a path starting with /')
  if (!isWholeNumber(o.cookieMaxAge, 0)) fail('cookieMaxAge must be a whole number of seconds, 0 for session cookies')
  if (o.cookieSamesite !== undefined) {
    const match = SAMESITE.find((value) => typeof o.cookieSamesite === 'string' && value.toLowerCase() === o.cookieSamesite.toLowerCase())
    if (match === undefined) fail('cookieSamesite must be "Strict", "Lax" or "None"')
    o.cookieSamesite = match
    if (match === 'None' && !o.cookieSecure) fail('cookieSamesite "None" needs cookieSecure: true (browsers drop the cookie otherwise)')
  }
  for (const key of PATHS) {
    const path = o[key]
    if (typeof path !== 'string' || !/^\/([A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*)?$/.test(path)) {
      fail(`${key} must be a path such as "/verify" (or "/" for the prefix itself)`)
    }
  }
  if (new Set(PATHS.map((key) => o[key])).size !== PATHS.length) fail('pathToAuthenticate, pathToRefresh, pathToRetrieveUser and pathToVerify must differ')
  return o
}
