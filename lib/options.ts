import { createPublicKey } from 'node:crypto'
import { OptionsError } from './errors.js'
import type { DecoratorsOption } from './decorator-names.js'
import type { Mailer, PasswordHasher, TokenStore, UserStore } from './ports.js'
import type { PasswordValidationOptions } from './passwords/validators.js'
import { djRestAuthCoreDefaults, resolveDjRestAuthOptions, type DjRestAuthOptions, type ResolvedDjRestAuthOptions } from './dialects/dj-rest-auth/options.js'
import { resolveDrfJwtOptions, type DrfJwtOptions, type ResolvedDrfJwtOptions } from './dialects/drf-jwt/options.js'
import { resolveSanicJwtOptions, type ResolvedSanicJwtOptions, type SanicJwtOptions } from './dialects/sanic-jwt/options.js'

export type JwtAlgorithm =
  | 'HS256' | 'HS384' | 'HS512'
  | 'RS256' | 'RS384' | 'RS512'
  | 'PS256' | 'PS384' | 'PS512'
  | 'ES256' | 'ES384' | 'ES512'
  | 'EdDSA'

export type LoginField = 'username' | 'email'

/** A budget: at most `max` requests per `timeWindow` seconds. */
export interface RateLimitWindow { max: number, timeWindow: number }

/** An ioredis client (or anything @fastify/rate-limit accepts as `redis`). */
export type RateLimitRedis = NonNullable<import('@fastify/rate-limit').RateLimitPluginOptions['redis']>

export interface RateLimitOptions {
  /** Per client address (`request.ip`: set Fastify's `trustProxy` behind a proxy). */
  perIp?: RateLimitWindow
  /** Per account named in the body (username or email), whatever the address. */
  perAccount?: RateLimitWindow
  /** Counters in Redis, shared by every instance; default in memory. */
  redis?: RateLimitRedis
  redisNamespace?: string
}

export type ResolvedRateLimitOptions = Required<Omit<RateLimitOptions, 'redis'>> & Pick<RateLimitOptions, 'redis'>

/** The wire format the routes speak (and `app.authenticate` answers in). */
export type DialectName = 'djoser' | 'dj-rest-auth' | 'sanic-jwt' | 'drf-jwt'
export const DIALECTS: readonly DialectName[] = ['djoser', 'dj-rest-auth', 'sanic-jwt', 'drf-jwt']

/** A key that no longer signs but still verifies the tokens it signed, until they expire (key rotation). */
export interface VerifyingKey {
  /** The `kid` header of the tokens this key signed (the `signingKid` it had while it was the signing key). */
  kid: string
  /** HMAC secret (HS*) or PEM public key (RS*, PS*, ES*, EdDSA). */
  key: string
  /** Default `jwt.algorithm`. */
  algorithm?: JwtAlgorithm
}

/** simplejwt's SIMPLE_JWT settings, camelCased. Lifetimes and leeway are in seconds. */
export interface JwtOptions {
  /** HMAC secret (HS*) or PEM private key (RS*, PS*, ES*, EdDSA). Required. */
  signingKey: string
  /** PEM public key; required for asymmetric algorithms, not allowed with HS*. */
  verifyingKey?: string
  /** The `kid` header of new tokens, naming `signingKey` (and `verifyingKey`); tokens without a `kid` are checked with this key too. */
  signingKid?: string
  /** Older keys, chosen by the `kid` of a token's header: their tokens keep verifying until they expire. Needs `signingKid`. */
  verifyingKeys?: VerifyingKey[]
  algorithm?: JwtAlgorithm
  accessTokenLifetime?: number
  refreshTokenLifetime?: number
  rotateRefreshTokens?: boolean
  blacklistAfterRotation?: boolean
  updateLastLogin?: boolean
  audience?: string
  issuer?: string
  leeway?: number
  authHeaderTypes?: string[]
  userIdClaim?: string
  tokenTypeClaim?: string
  jtiClaim?: string
  /** A refresh token already rotated out, used again, revokes every token of its rotation family. */
  refreshReuseDetection?: boolean
  /**
   * Seconds after its rotation during which a rotated-out refresh token presented again is only refused
   * (401), not taken for reuse: two tabs refreshing at once do not log the user out. 0: any reuse revokes.
   */
  refreshReuseInterval?: number
}

/** djoser's DJOSER settings, camelCased, plus what the plugin needs to run. */
export interface AccountsOptions {
  /** Where the routes mount, e.g. '/auth'. Fastify's own register option; default ''. */
  prefix?: string
  /** Which project's wire format the routes speak. */
  dialect?: DialectName
  /**
   * Routes declare `security` (schemes `jwt` and `token`) in the OpenAPI document. Turn on only when your
   * @fastify/swagger config defines those schemes (`components: { securitySchemes }`, exported by this
   * package): @fastify/swagger fails on a route naming a scheme it does not know.
   */
  openApiSecurity?: boolean
  /** Limits on login, reset and activation routes; false turns them off. */
  rateLimit?: RateLimitOptions | false
  /** dj-rest-auth's REST_AUTH (and allauth's) settings: the dj-rest-auth dialect's options. */
  djRestAuth?: DjRestAuthOptions
  /** django-rest-framework-jwt's JWT_AUTH settings: the drf-jwt dialect's options. */
  drfJwt?: DrfJwtOptions
  /** sanic-jwt's SANIC_JWT_* settings: the sanic-jwt dialect's options. */
  sanicJwt?: SanicJwtOptions
  /**
   * Stores for users and tokens; default in-memory stores (lost on restart: for tests and trying out). A
   * `createStores()` result fits as it is (its `close` closes both).
   */
  store?: { users: UserStore, tokens: TokenStore, close?: () => Promise<void> }
  /**
   * On `app.close()`, after the mails on their way are sent, close `store` and `mailer` too. Off by default:
   * what you pass in stays yours to close (as with @fastify/redis's `closeClient`).
   */
  closeResources?: boolean
  /** Other names for `request.user`, `request.auth`, `app.authenticate`, `app.accounts` (see AccountsDecoratorNames). */
  decorators?: DecoratorsOption
  /** Where mail goes; default a console mailer that writes each message to the Fastify log. */
  mailer?: Mailer
  /** Default argon2id with `argon2` parameters. */
  passwordHasher?: PasswordHasher
  argon2?: { memoryCost?: number, timeCost?: number, parallelism?: number }
  passwordValidation?: PasswordValidationOptions
  /** A login with a hash in an older format or with weaker parameters stores a fresh argon2id hash. */
  rehashOnLogin?: boolean
  /** HMAC key for activation and reset links (Django's SECRET_KEY); default `jwt.signingKey` when it is an HMAC secret. */
  secretKey?: string
  /** Django's PASSWORD_RESET_TIMEOUT, seconds: how long a one-time link lives. */
  passwordResetTimeout?: number
  /** Used in mails and links; never taken from the Host header. */
  domain?: string
  siteName?: string
  protocol?: 'http' | 'https'
  /** Largest accepted request body, bytes. */
  bodyLimit?: number

  sendActivationEmail?: boolean
  sendConfirmationEmail?: boolean
  userCreatePasswordRetype?: boolean
  setPasswordRetype?: boolean
  passwordResetConfirmRetype?: boolean
  setUsernameRetype?: boolean
  usernameResetConfirmRetype?: boolean
  passwordResetShowEmailNotFound?: boolean
  usernameResetShowEmailNotFound?: boolean
  passwordChangedEmailConfirmation?: boolean
  usernameChangedEmailConfirmation?: boolean
  logoutOnPasswordChange?: boolean
  /** Password change and reset revoke the user's refresh tokens and opaque tokens (beyond djoser). */
  revokeTokensOnPasswordChange?: boolean
  /**
   * Access and refresh tokens issued before the user's password last changed stop working at once (their
   * `ver` claim no longer matches); tokens without `ver` (issued by simplejwt) are refused too (beyond simplejwt).
   */
  revokeAccessOnPasswordChange?: boolean
  hideUsers?: boolean
  activationUrl?: string
  passwordResetConfirmUrl?: string
  usernameResetConfirmUrl?: string
  loginField?: LoginField

  jwt: JwtOptions
}

export type ResolvedJwtOptions = Required<Omit<JwtOptions, 'verifyingKey' | 'signingKid' | 'audience' | 'issuer' | 'verifyingKeys'>> &
  Pick<JwtOptions, 'verifyingKey' | 'signingKid' | 'audience' | 'issuer'> &
  { verifyingKeys: Array<Required<VerifyingKey>> }

export type ResolvedOptions =
  Required<Omit<AccountsOptions, 'jwt' | 'store' | 'mailer' | 'passwordHasher' | 'prefix' | 'decorators' | 'argon2' | 'passwordValidation' | 'rateLimit' | 'djRestAuth' | 'drfJwt' | 'sanicJwt'>> &
  { rateLimit: ResolvedRateLimitOptions | false, djRestAuth: ResolvedDjRestAuthOptions, drfJwt: ResolvedDrfJwtOptions, sanicJwt: ResolvedSanicJwtOptions } &
  Pick<AccountsOptions, 'store' | 'mailer' | 'passwordHasher' | 'argon2' | 'passwordValidation'> &
  { jwt: ResolvedJwtOptions }

/** Every default in one place. Where a default differs from djoser's or simplejwt's, the README says so. */
export const DEFAULTS = {
  dialect: 'djoser',
  rateLimit: {
    perIp: { max: 30, timeWindow: 60 },
    perAccount: { max: 10, timeWindow: 60 },
    redisNamespace: 'accounts-rate-limit:'
  },
  passwordResetTimeout: 259200,
  domain: 'localhost:3000',
  siteName: 'fastify-accounts',
  protocol: 'http',
  bodyLimit: 16384,
  rehashOnLogin: true,
  closeResources: false,
  openApiSecurity: false,
  sendActivationEmail: true,
  sendConfirmationEmail: false,
  userCreatePasswordRetype: false,
  setPasswordRetype: false,
  passwordResetConfirmRetype: false,
  setUsernameRetype: false,
  usernameResetConfirmRetype: false,
  passwordResetShowEmailNotFound: false,
  usernameResetShowEmailNotFound: false,
  passwordChangedEmailConfirmation: false,
  usernameChangedEmailConfirmation: false,
  logoutOnPasswordChange: false,
  revokeTokensOnPasswordChange: true,
  revokeAccessOnPasswordChange: false,
  hideUsers: true,
  activationUrl: '#/activate/{uid}/{token}',
  passwordResetConfirmUrl: '#/password/reset/confirm/{uid}/{token}',
  usernameResetConfirmUrl: '#/username/reset/confirm/{uid}/{token}',
  loginField: 'username',
  jwt: {
    algorithm: 'HS256',
    accessTokenLifetime: 300,
    refreshTokenLifetime: 86400,
    rotateRefreshTokens: false,
    blacklistAfterRotation: false,
    updateLastLogin: false,
    leeway: 0,
    authHeaderTypes: ['Bearer'],
    userIdClaim: 'user_id',
    tokenTypeClaim: 'token_type',
    jtiClaim: 'jti',
    refreshReuseDetection: true,
    refreshReuseInterval: 10,
    verifyingKeys: []
  }
} as const satisfies Omit<ResolvedOptions, 'jwt' | 'secretKey' | 'djRestAuth' | 'drfJwt' | 'sanicJwt'> & { jwt: Omit<ResolvedJwtOptions, 'signingKey'> }

const BOOLEAN_OPTIONS = [
  'rehashOnLogin', 'closeResources', 'openApiSecurity', 'sendActivationEmail', 'sendConfirmationEmail', 'userCreatePasswordRetype', 'setPasswordRetype',
  'passwordResetConfirmRetype', 'setUsernameRetype', 'usernameResetConfirmRetype',
  'passwordResetShowEmailNotFound', 'usernameResetShowEmailNotFound', 'passwordChangedEmailConfirmation',
  'usernameChangedEmailConfirmation', 'logoutOnPasswordChange', 'revokeTokensOnPasswordChange', 'revokeAccessOnPasswordChange', 'hideUsers'
] as const
const JWT_BOOLEAN_OPTIONS = ['rotateRefreshTokens', 'blacklistAfterRotation', 'updateLastLogin', 'refreshReuseDetection'] as const
const LINK_OPTIONS = ['activationUrl', 'passwordResetConfirmUrl', 'usernameResetConfirmUrl'] as const
const ALGORITHMS: readonly JwtAlgorithm[] = [
  'HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'
]
const KNOWN_OPTIONS = new Set<string>([
  ...Object.keys(DEFAULTS), 'djRestAuth', 'drfJwt', 'sanicJwt', 'jwt', 'store', 'mailer', 'passwordHasher', 'argon2', 'passwordValidation', 'secretKey', 'prefix', 'decorators'
])
const KNOWN_JWT_OPTIONS = new Set<string>([...Object.keys(DEFAULTS.jwt), 'signingKey', 'verifyingKey', 'signingKid', 'audience', 'issuer'])
const VERIFYING_KEY_FIELDS = new Set(['kid', 'key', 'algorithm'])
/** The key type (node:crypto's asymmetricKeyType) each asymmetric algorithm family verifies with. */
const KEY_TYPES: Record<string, readonly string[]> = { RS: ['rsa'], PS: ['rsa', 'rsa-pss'], ES: ['ec'], Ed: ['ed25519', 'ed448'] }


function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function expect (condition: boolean, message: string): asserts condition {
  if (!condition) throw new OptionsError(message)
}

function isPositiveInteger (value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0
}

/** Every method the plugin calls on each store, so a store missing one fails at registration, not at its first call. */
const USER_STORE_METHODS = ['createUser', 'findUserById', 'findUserByUsername', 'findUserByEmail', 'updateUser', 'deleteUser', 'listUsers'] as const
const TOKEN_STORE_METHODS = [
  'saveRefreshToken', 'findRefreshToken', 'claimRefreshToken', 'revokeRefreshToken', 'revokeRefreshFamily', 'revokeUserRefreshTokens',
  'saveAuthToken', 'findAuthToken', 'deleteAuthToken', 'deleteUserAuthTokens', 'purgeExpired'
] as const

function expectMethods (value: unknown, name: string, port: string, methods: readonly string[]): void {
  expect(isRecord(value), `${name} must be a ${port}`)
  const missing = methods.filter((m) => typeof value[m] !== 'function')
  expect(missing.length === 0, `${name} must implement ${port}: missing ${missing.join(', ')}`)
}

/** Merges defaults under the given options and rejects anything a Django team could mistype. */
export function resolveOptions (input: AccountsOptions): ResolvedOptions {
  expect(isRecord(input), 'options must be an object')
  for (const key of Object.keys(input)) {
    expect(KNOWN_OPTIONS.has(key), `unknown option "${key}"`)
  }
  expect(isRecord(input.jwt), 'options.jwt is required (at least { signingKey })')
  for (const key of Object.keys(input.jwt)) {
    expect(KNOWN_JWT_OPTIONS.has(key), `unknown option "jwt.${key}"`)
  }
  const jwt = { ...DEFAULTS.jwt, authHeaderTypes: [...DEFAULTS.jwt.authHeaderTypes], verifyingKeys: [], ...stripUndefined(input.jwt) } as ResolvedJwtOptions
  const options = { ...DEFAULTS, ...stripUndefined(input), jwt } as ResolvedOptions

  expect(ALGORITHMS.includes(jwt.algorithm), `jwt.algorithm must be one of ${ALGORITHMS.join(', ')}`)
  expect(typeof jwt.signingKey === 'string' && jwt.signingKey.length > 0, 'jwt.signingKey is required')
  const symmetric = jwt.algorithm.startsWith('HS')
  if (symmetric) {
    expect(jwt.verifyingKey === undefined, `jwt.verifyingKey is only for asymmetric algorithms, not ${jwt.algorithm}`)
    expect(!jwt.signingKey.includes('-----BEGIN'), `jwt.signingKey looks like a PEM key, but ${jwt.algorithm} wants a shared secret`)
  } else {
    expect(typeof jwt.verifyingKey === 'string' && jwt.verifyingKey.includes('-----BEGIN'),
      `jwt.verifyingKey (a PEM public key) is required with ${jwt.algorithm}`)
    expect(jwt.signingKey.includes('-----BEGIN'), `jwt.signingKey must be a PEM private key with ${jwt.algorithm}`)
  }
  for (const key of ['accessTokenLifetime', 'refreshTokenLifetime'] as const) {
    expect(isPositiveInteger(jwt[key]), `jwt.${key} must be a positive whole number of seconds`)
  }
  expect(Number.isInteger(jwt.leeway) && jwt.leeway >= 0, 'jwt.leeway must be a whole number of seconds, 0 or more')
  expect(Number.isInteger(jwt.refreshReuseInterval) && jwt.refreshReuseInterval >= 0,
    'jwt.refreshReuseInterval must be a whole number of seconds, 0 or more')
  jwt.verifyingKeys = resolveVerifyingKeys(jwt)
  for (const key of JWT_BOOLEAN_OPTIONS) expect(typeof jwt[key] === 'boolean', `jwt.${key} must be a boolean`)
  expect(Array.isArray(jwt.authHeaderTypes) && jwt.authHeaderTypes.length > 0 &&
    jwt.authHeaderTypes.every((type) => typeof type === 'string' && /^[A-Za-z][\w-]*$/.test(type)),
  'jwt.authHeaderTypes must be a non-empty array of words such as ["Bearer"] or ["JWT"]')
  expect(!jwt.authHeaderTypes.some((type) => type.toLowerCase() === 'token'),
    'jwt.authHeaderTypes cannot include "Token": it is the opaque token scheme')
  for (const key of ['userIdClaim', 'tokenTypeClaim', 'jtiClaim'] as const) {
    expect(typeof jwt[key] === 'string' && jwt[key].length > 0, `jwt.${key} must be a non-empty string`)
  }
  for (const key of ['audience', 'issuer'] as const) {
    expect(jwt[key] === undefined || (typeof jwt[key] === 'string' && jwt[key].length > 0), `jwt.${key} must be a non-empty string`)
  }

  for (const key of BOOLEAN_OPTIONS) expect(typeof options[key] === 'boolean', `${key} must be a boolean`)
  options.rateLimit = resolveRateLimit(input.rateLimit)
  options.drfJwt = resolveDrfJwtOptions(input.drfJwt)
  options.djRestAuth = resolveDjRestAuthOptions(input.djRestAuth)
  expect(input.sanicJwt === undefined || isRecord(input.sanicJwt), 'sanicJwt must be an object')
  expect(input.sanicJwt?.prefix === undefined, "sanicJwt.prefix: the routes mount at the plugin's prefix")
  options.sanicJwt = resolveSanicJwtOptions(input.sanicJwt ?? {})
  if (options.dialect === 'dj-rest-auth') {
    // allauth's email verification is the core's activation: its setting decides unless both are given.
    const implied = djRestAuthCoreDefaults(options.djRestAuth)
    if (input.sendActivationEmail === undefined) options.sendActivationEmail = implied.sendActivationEmail
    if (input.activationUrl === undefined) options.activationUrl = implied.activationUrl
  }
  for (const key of LINK_OPTIONS) {
    const value = options[key]
    expect(typeof value === 'string' && value.includes('{uid}') && value.includes('{token}'),
      `${key} must be a string containing {uid} and {token}`)
  }
  expect(DIALECTS.includes(options.dialect), `dialect must be one of ${DIALECTS.join(', ')}`)
  expect(options.loginField === 'username' || options.loginField === 'email', 'loginField must be "username" or "email"')
  expect(isPositiveInteger(options.passwordResetTimeout), 'passwordResetTimeout must be a positive whole number of seconds')
  expect(isPositiveInteger(options.bodyLimit), 'bodyLimit must be a positive whole number of bytes')
  expect(options.protocol === 'http' || options.protocol === 'https', 'protocol must be "http" or "https"')
  for (const key of ['domain', 'siteName'] as const) {
    expect(typeof options[key] === 'string' && options[key].length > 0, `${key} must be a non-empty string`)
  }

  if (options.secretKey === undefined) {
    expect(symmetric, `secretKey (the HMAC key of activation and reset links) is required with ${jwt.algorithm}`)
    options.secretKey = jwt.signingKey
  }
  expect(typeof options.secretKey === 'string' && options.secretKey.length >= 16, 'secretKey must be a string of at least 16 characters')

  if (options.store !== undefined) {
    expect(isRecord(options.store), 'store must be { users, tokens }')
    expectMethods(options.store.users, 'store.users', 'UserStore', USER_STORE_METHODS)
    expectMethods(options.store.tokens, 'store.tokens', 'TokenStore', TOKEN_STORE_METHODS)
  }
  if (options.mailer !== undefined) expectMethods(options.mailer, 'mailer', 'Mailer', ['send'])
  if (options.passwordHasher !== undefined) expectMethods(options.passwordHasher, 'passwordHasher', 'PasswordHasher', ['hash', 'verify', 'needsRehash'])
  return options
}

/** jwt.signingKid and jwt.verifyingKeys: every old key named, typed and usable for its algorithm. */
function resolveVerifyingKeys (jwt: ResolvedJwtOptions): Array<Required<VerifyingKey>> {
  expect(jwt.signingKid === undefined || (typeof jwt.signingKid === 'string' && jwt.signingKid.length > 0),
    'jwt.signingKid must be a non-empty string (the kid header of new tokens)')
  const input: unknown = jwt.verifyingKeys
  expect(Array.isArray(input), 'jwt.verifyingKeys must be an array of { kid, key, algorithm? }')
  expect(input.length === 0 || jwt.signingKid !== undefined,
    'jwt.verifyingKeys needs jwt.signingKid: new tokens must name their key, or they stop verifying at the next rotation')
  const seen = new Set<string>()
  return input.map((entry: unknown, i): Required<VerifyingKey> => {
    const at = `jwt.verifyingKeys[${i}]`
    expect(isRecord(entry), `${at} must be an object { kid, key, algorithm? }`)
    for (const field of Object.keys(entry)) expect(VERIFYING_KEY_FIELDS.has(field), `unknown option "${at}.${field}"`)
    const { kid, key } = entry
    const algorithm = entry.algorithm ?? jwt.algorithm
    expect(typeof kid === 'string' && kid.length > 0, `${at}.kid must be a non-empty string`)
    expect(kid !== jwt.signingKid, `${at}.kid "${kid}" is jwt.signingKid: list only older keys (the current one is jwt.signingKey)`)
    expect(!seen.has(kid), `${at}.kid "${kid}" is listed twice`)
    seen.add(kid)
    expect(ALGORITHMS.includes(algorithm as JwtAlgorithm), `${at}.algorithm must be one of ${ALGORITHMS.join(', ')}`)
    expect(typeof key === 'string' && key.length > 0, `${at}.key is required`)
    if ((algorithm as string).startsWith('HS')) {
      expect(!key.includes('-----BEGIN'), `${at}.key looks like a PEM key, but ${algorithm as string} wants the old shared secret`)
    } else {
      expect(!key.includes('PRIVATE KEY'), `${at}.key is a private key: give its PEM public key`)
      let type: string | undefined
      try {
        type = createPublicKey(key).asymmetricKeyType
      } catch {
        throw new OptionsError(`${at}.key must be a PEM public key with ${algorithm as string}`)
      }
      const wanted = KEY_TYPES[(algorithm as string).slice(0, 2)]
      expect(type !== undefined && wanted.includes(type), `${at}.key is an ${String(type)} key, which cannot verify ${algorithm as string}`)
    }
    return { kid, key, algorithm: algorithm as JwtAlgorithm }
  })
}

function resolveRateLimit (input: RateLimitOptions | false | undefined): ResolvedRateLimitOptions | false {
  if (input === false) return false
  expect(input === undefined || isRecord(input), 'rateLimit must be false or { perIp, perAccount, redis }')
  const resolved: ResolvedRateLimitOptions = { ...DEFAULTS.rateLimit, ...stripUndefined(input ?? {}) }
  for (const key of ['perIp', 'perAccount'] as const) {
    const limit = resolved[key]
    expect(isRecord(limit) && isPositiveInteger(limit.max) && isPositiveInteger(limit.timeWindow),
      `rateLimit.${key} must be { max, timeWindow } with whole numbers above 0 (timeWindow in seconds)`)
  }
  expect(resolved.redis === undefined || isRecord(resolved.redis), 'rateLimit.redis must be an ioredis client')
  return resolved
}

function stripUndefined<T extends object> (value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}
