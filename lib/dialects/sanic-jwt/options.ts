import { Type, type Static } from '@sinclair/typebox'
import { withoutRegisterOptions } from '../../http/register-options.js'
import { checkOptions, defaultsOf, expect, Flag, isRecord, Matching, OneOf, SecureFlag, Seconds, withDefaults, withUnknownOption, type DeepReadonly } from '../../option-checks.js'
import { OptionsError } from '../../errors.js'

/*
 * sanic-jwt 1.8's settings, camelCased (SANIC_JWT_ACCESS_TOKEN_NAME → accessTokenName), as a schema: the
 * types, the defaults and the checks come from it. Kept apart from the routes so lib/options.ts composes
 * it into the plugin's options without loading the route code.
 */

/** RFC 7230 token characters: header names, the header scheme word, cookie names. */
const TOKEN_CHARS = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const SAMESITE = ['Strict', 'Lax', 'None'] as const
const PATHS = ['pathToAuthenticate', 'pathToRefresh', 'pathToRetrieveUser', 'pathToVerify'] as const

const Name = (defaultValue: string, description: string) =>
  Type.Optional(Type.String({ minLength: 1, maxLength: 100, errorMessage: 'must be a non-empty string', default: defaultValue, description }))
const CookieName = (defaultValue: string, description: string) =>
  Type.Optional(Matching(TOKEN_CHARS, { errorMessage: 'must be a cookie name', default: defaultValue, description }))
const Path = (defaultValue: string, description: string) => Type.Optional(Matching(/^\/([A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*)?$/, {
  errorMessage: 'must be a path such as "/verify" (or "/" for the prefix itself)', default: defaultValue, description
}))

/**
 * sanic-jwt 1.8's settings. The signing key and algorithm (sanic-jwt's `secret`, `private_key`, `algorithm`)
 * are the core's `jwt.signingKey`, `jwt.verifyingKey` and `jwt.algorithm`; `url_prefix` is Fastify's
 * `prefix` (mount the routes at '/auth').
 */
export const SanicJwtOptionsSchema = withUnknownOption(Type.Object({
  accessTokenName: Name('access_token', 'Body key of the access token.'),
  refreshTokenName: Name('refresh_token', 'Body key of the refresh token (answer of login, body of refresh).'),
  refreshTokenEnabled: Type.Optional(Flag(false, 'Login also returns a refresh token, and POST /refresh exists.')),
  refreshTokenLifetime: Type.Optional(Seconds(1, {
    description: 'Seconds a refresh token stays usable (beyond sanic-jwt, whose refresh tokens live as long as the application keeps them). ' +
      "Default: the core's `jwt.refreshTokenLifetime`."
  })),
  userIdKey: Name('user_id', "The claim (and /me key) holding the user id: sanic-jwt's `user_id` setting."),
  expirationDelta: Type.Optional(Seconds(1, { default: 1800, description: 'Access token lifetime, seconds.' })),
  leeway: Type.Optional(Seconds(0, { default: 180, description: 'Clock skew allowed on exp, nbf and iat, seconds (also shifts a generated nbf, as sanic-jwt does).' })),
  authorizationHeader: Type.Optional(Matching(TOKEN_CHARS, { errorMessage: 'must be a header name', default: 'authorization', description: 'Name of the request header carrying the access token.' })),
  authorizationHeaderPrefix: Type.Optional(Matching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]*$/, {
    errorMessage: 'must be one word such as "Bearer" or "JWT", or "" for a bare token',
    default: 'Bearer',
    description: "Scheme word before the token in that header; '' for a bare token."
  })),
  claimAud: Type.Optional(Type.String({ minLength: 1, description: 'Written as `aud` and required on verification.' })),
  claimIat: Type.Optional(Flag(false, 'Write `iat`.')),
  claimIss: Type.Optional(Type.String({ minLength: 1, description: 'Written as `iss` and required on verification.' })),
  claimNbf: Type.Optional(Flag(false, 'Write `nbf` (now + leeway + claimNbfDelta).')),
  claimNbfDelta: Type.Optional(Seconds(0, { default: 0, description: 'Seconds added to a written `nbf`.' })),
  cookieSet: Type.Optional(Flag(false, 'Tokens travel in cookies: login and refresh set them, and requests are read from them.')),
  cookieStrict: Type.Optional(Flag(true, 'With cookies on, a request without the cookie is refused (false: fall back to the header).')),
  cookieAccessTokenName: CookieName('access_token', 'Cookie of the access token.'),
  cookieRefreshTokenName: CookieName('refresh_token', 'Cookie of the refresh token.'),
  cookieHttponly: Type.Optional(Flag(true, 'The cookies carry `HttpOnly`.')),
  cookieDomain: Type.Optional(Matching(/^[^\s;,]*$/, { errorMessage: 'must be a domain, or "" for none', default: '', description: "The cookies' Domain; '' sets none." })),
  cookiePath: Type.Optional(Matching(/^\/[^\s;,]*$/, { errorMessage: 'must be a path starting with /', default: '/', description: "The cookies' Path." })),
  cookieSecure: Type.Optional(SecureFlag("The cookies carry `Secure`: 'auto' whenever `protocol` is https or the request came over TLS (sanic-jwt: off).")),
  cookieSamesite: Type.Optional(OneOf(SAMESITE, { description: 'SameSite attribute of the cookies (any letter case); unset by default.' })),
  cookieMaxAge: Type.Optional(Seconds(0, { errorMessage: 'must be a whole number of seconds, 0 for session cookies', default: 0, description: 'Max-Age attribute, seconds; 0 makes session cookies.' })),
  cookieSplit: Type.Optional(Flag(false, 'Split the access token cookie: header.payload readable by scripts, the signature HttpOnly.')),
  cookieSplitSignatureName: CookieName('access_token_signature', 'Cookie of the signature, with cookieSplit.'),
  pathToAuthenticate: Path('/', "Path of login under the prefix; '/' is the prefix itself."),
  pathToRefresh: Path('/refresh', 'Path of refresh under the prefix.'),
  pathToRetrieveUser: Path('/me', 'Path of the current user under the prefix.'),
  pathToVerify: Path('/verify', 'Path of verify under the prefix.')
}, { additionalProperties: false, description: "sanic-jwt's SANIC_JWT_* settings: the sanic-jwt dialect's options." }),
(name) => `${name} is not a sanic-jwt option`)

/** sanic-jwt 1.8's settings, camelCased, and Fastify's `prefix` (ignored: the route plugin's register option). */
export type SanicJwtOptions = Static<typeof SanicJwtOptionsSchema> & {
  /** Fastify's register option: where the routes mount (sanic-jwt's url_prefix, '/auth'). */
  prefix?: string
}

type OptionalKeys = 'prefix' | 'refreshTokenLifetime' | 'claimAud' | 'claimIss' | 'cookieSamesite'
export type ResolvedSanicJwtOptions = Required<Omit<SanicJwtOptions, OptionalKeys>> & Pick<SanicJwtOptions, Exclude<OptionalKeys, 'prefix'>>

/** sanic-jwt 1.8's defaults, read from the schema. */
export const SANIC_JWT_DEFAULTS = defaultsOf(SanicJwtOptionsSchema) as DeepReadonly<Omit<ResolvedSanicJwtOptions, Exclude<OptionalKeys, 'prefix'>>>

/** Merges the defaults under the given sanic-jwt options and rejects anything mistyped, naming it. */
export function resolveSanicJwtOptions (input: SanicJwtOptions = {}): ResolvedSanicJwtOptions {
  if (!isRecord(input)) throw new OptionsError('sanicJwt.options must be an object')
  const given: Record<string, unknown> = withoutRegisterOptions(input)
  // sanic-jwt reads SameSite in any letter case; the schema holds its spelling.
  const sameSite = SAMESITE.find((value) => typeof given.cookieSamesite === 'string' && value.toLowerCase() === given.cookieSamesite.toLowerCase())
  if (sameSite !== undefined) given.cookieSamesite = sameSite
  checkOptions(SanicJwtOptionsSchema, given, 'sanicJwt')
  const o = withDefaults<ResolvedSanicJwtOptions>(SANIC_JWT_DEFAULTS, given)
  o.authorizationHeader = o.authorizationHeader.toLowerCase()

  expect(!o.refreshTokenEnabled || o.accessTokenName !== o.refreshTokenName, 'sanicJwt.refreshTokenName must differ from accessTokenName')
  if (o.cookieSet) {
    const names = [o.cookieAccessTokenName, ...(o.cookieSplit ? [o.cookieSplitSignatureName] : []), ...(o.refreshTokenEnabled ? [o.cookieRefreshTokenName] : [])]
    expect(new Set(names).size === names.length, 'sanicJwt.cookieAccessTokenName, cookieRefreshTokenName and cookieSplitSignatureName must differ')
  }
  expect(o.cookieSamesite !== 'None' || o.cookieSecure === true, 'sanicJwt.cookieSamesite "None" needs cookieSecure: true (browsers drop the cookie otherwise)')
  expect(new Set(PATHS.map((key) => o[key])).size === PATHS.length, 'sanicJwt.pathToAuthenticate, pathToRefresh, pathToRetrieveUser and pathToVerify must differ')
  return o
}
