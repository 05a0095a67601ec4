import { Type, type Static } from '@sinclair/typebox'
import type { AuthenticateMode, DeclaredAuthenticateMode, DecoratorsOption } from './decorator-names.js'
import { DjRestAuthOptionsSchema, djRestAuthCoreDefaults, resolveDjRestAuthOptions, type ResolvedDjRestAuthOptions } from './dialects/dj-rest-auth/options.js'
import { DrfJwtOptionsSchema, resolveDrfJwtOptions, type ResolvedDrfJwtOptions } from './dialects/drf-jwt/options.js'
import { resolveSanicJwtOptions, SanicJwtOptionsSchema, type ResolvedSanicJwtOptions } from './dialects/sanic-jwt/options.js'
import {
  checkOptions, defaultsOf, expect, Flag, FromCode, isRecord, Matching, OneOf, Seconds, withDefaults, type DeepReadonly
} from './option-checks.js'
import { expectKeyLength, JwtOptionsSchema, resolveJwtKeys, type ResolvedJwtOptions } from './jwt-options.js'
import type { Mailer, PasswordHasher, RefreshStandingReader, TokenStore, UserStore } from './ports.js'
import type { CustomPasswordValidator, PasswordValidationOptions } from './passwords/validators.js'
import { resolveSocialOptions, SocialOptionsSchema, type ResolvedSocialOptions } from './social/options.js'
import type { SocialAccountStore } from './social/store.js'
import { MfaOptionSchema } from './mfa/options.js'
import type { MfaStore } from './mfa/store.js'

/*
 * The plugin's options as TypeBox schemas: the core's here, each dialect's in its folder, composed into
 * AccountsOptionsSchema. The types, DEFAULTS, the checks, the JSON Schema file (bin/options-schema.ts) and
 * the README's options table (bin/options-table.ts) all come from them; what no schema can say (a PEM
 * key's type, one option implied by another) is checked by resolveOptions below. The `jwt` group, its
 * schema and its key checks, is lib/jwt-options.ts.
 */

/** The wire format the routes speak (and `app.authenticate` answers in). */
export type DialectName = 'djoser' | 'dj-rest-auth' | 'sanic-jwt' | 'drf-jwt'
export type LoginField = 'username' | 'email'

// The values of those types, each once: `satisfies` keeps every one listed (the types keep their names in messages).
export const DIALECTS = Object.keys({ djoser: 1, 'dj-rest-auth': 1, 'sanic-jwt': 1, 'drf-jwt': 1 } satisfies Record<DialectName, 1>) as readonly DialectName[]
const LOGIN_FIELDS: readonly LoginField[] = ['username', 'email']

/** The `store` option: what createStores, createSqliteStores and createPostgresStores return fits as it is. */
export interface AccountStores {
  users: UserStore
  tokens: TokenStore
  social?: SocialAccountStore
  mfa?: MfaStore
  /** Only where one database holds both the users and the refresh tokens (lib/ports.ts). */
  refreshStanding?: RefreshStandingReader | undefined
  close?: () => Promise<void>
}

/** A mailed link's path: both placeholders, anywhere. */
const LINK = /^(?=[\s\S]*\{uid\})(?=[\s\S]*\{token\})/
const Link = (defaultValue: string, description: string) =>
  Matching(LINK, { errorMessage: 'must be a string containing {uid} and {token}', default: defaultValue, description })

const RateLimitWindowSchema = (defaults: { max: number, timeWindow: number }, description: string, counted = 'Requests') => Type.Object({
  max: Type.Integer({ minimum: 1, description: `${counted} allowed per window.` }),
  timeWindow: Type.Integer({ minimum: 1, description: 'The window, seconds.' })
}, {
  additionalProperties: false,
  default: defaults,
  errorMessage: 'must be { max, timeWindow } with whole numbers above 0 (timeWindow in seconds)',
  description
})

/** An ioredis client (or cluster): what @fastify/rate-limit's Redis store calls, without importing its types (and their augmentation). */
export interface RateLimitRedis {
  defineCommand: (name: string, definition: { lua: string, numberOfKeys?: number }) => unknown
}

export const RateLimitOptionsSchema = Type.Object({
  perIp: Type.Optional(RateLimitWindowSchema({ max: 30, timeWindow: 60 },
    'Every attempt per client address, failed or not: logins and `current_password` checks together (it bounds the password hashing one ' +
    "client can cause), password/username resets, activation. `request.ip`: set Fastify's `trustProxy` behind a proxy.", 'Attempts')),
  perAccountFailures: Type.Optional(RateLimitWindowSchema({ max: 10, timeWindow: 900 },
    'Failed password checks per account, whatever the address: a login with a wrong password, an unknown or an inactive account (per name ' +
    'given), a wrong `current_password` (set password, set username, delete account). Successes are not counted. Once spent, even the right ' +
    'password gets 429 with `Retry-After` until the window, which starts at the first failure, ends.', 'Failures')),
  perAccount: Type.Optional(RateLimitWindowSchema({ max: 10, timeWindow: 60 },
    'Reset and activation requests per account named in the body (email, activation uid), every request counted: each can send a mail. ' +
    '(Logins moved to `perAccountFailures`.)')),
  registration: Type.Optional(RateLimitWindowSchema({ max: 10, timeWindow: 3600 },
    'Registrations per client address, failed ones too (they would enumerate taken usernames and emails).', 'Registrations')),
  redis: Type.Optional(FromCode<RateLimitRedis>('Redis', 'An ioredis client: the counters live in Redis, shared by every instance. Default: in memory. ' +
    'A Redis that fails lets requests through (logged as a warning): give a client that fails fast, such as `createRedisClient(url)` of `fastify-accounts/stores/redis`.',
  Type.Object({}, { errorMessage: 'must be an ioredis client' }))),
  redisNamespace: Type.Optional(Type.String({ default: 'accounts-rate-limit:', description: 'Prefix of the counters\' Redis keys.' }))
}, { additionalProperties: false })

// The defaults of the default hasher (ARGON2_DEFAULTS, lib/passwords/argon2.ts: test/options-schema.test.ts keeps
// them equal) and of the password validators (lib/passwords/validators.ts), shown and applied here.
const ARGON2 = { memoryCost: 19456, timeCost: 2, parallelism: 1 }
const SIMILARITY = { attributes: ['username', 'email'], maxSimilarity: 0.7 }
const UserAttributeSimilaritySchema = Type.Object({
  attributes: Type.Optional(Type.Array(OneOf(['username', 'email']), { default: SIMILARITY.attributes, description: 'The user attributes compared.' })),
  maxSimilarity: Type.Optional(Type.Number({ minimum: 0.1, maximum: 1, default: SIMILARITY.maxSimilarity, description: 'A quick_ratio at or above it fails.' }))
}, { additionalProperties: false })

const DecoratorName = (decorated: string) => Type.Optional(Matching(/^[A-Za-z_$][\w$]*$/, {
  errorMessage: 'must be a JavaScript identifier', description: `Another name for ${decorated} (default \`${decorated.split('.')[1]}\`).`
}))
/** Typed by DecoratorsOption: the names declared in AccountsDecoratorNames. */
const DecoratorsSchema = Type.Unsafe<DecoratorsOption>(Type.Object({
  user: DecoratorName('request.user'),
  auth: DecoratorName('request.auth'),
  authenticate: DecoratorName('app.authenticate'),
  accounts: DecoratorName('app.accounts')
}, {
  additionalProperties: false,
  description: 'Other names for `request.user`, `request.auth`, `app.authenticate`, `app.accounts`, to run beside plugins that take them ' +
    '(declare the same names in AccountsDecoratorNames).'
}))

/** The core's options (djoser's DJOSER settings, camelCased, and what the plugin needs to run), without the dialects' blocks. */
export const CoreOptionsSchema = Type.Object({
  prefix: Type.Optional(Type.String({ description: "Where the routes mount, e.g. '/auth' (Fastify's own register option; default '')." })),
  dialect: Type.Optional(OneOf<DialectName>(DIALECTS, { default: 'djoser', description: "The wire format of the routes and of `app.authenticate`'s errors." })),
  openApiSecurity: Type.Optional(Flag(false, 'Routes declare `security` (schemes `jwt` and `token`) in the OpenAPI document. Turn on only when your ' +
    '@fastify/swagger config defines those schemes (`components: { securitySchemes }`, exported as `securitySchemes`): ' +
    '@fastify/swagger fails on a route naming a scheme it does not know.')),
  rateLimit: Type.Optional(Type.Union([Type.Literal(false), RateLimitOptionsSchema], {
    default: defaultsOf(RateLimitOptionsSchema),
    description: 'Limits on logins, `current_password` checks, registration, resets and activation (see "Rate limits"); `false` turns them off.'
  })),
  store: Type.Optional(FromCode<AccountStores>('{ users: UserStore, tokens: TokenStore, social?: SocialAccountStore, mfa?: MfaStore, refreshStanding?: RefreshStandingReader }',
    'Stores for users and tokens (and social accounts), e.g. `await createSqliteStores(path)`; a `createStores()` result fits as it is (its `close` closes both, ' +
    'its `refreshStanding` reads a refresh\'s blacklist and session checks in one statement). ' +
    'Default: in-memory stores (lost on restart: for tests and trying out).')),
  closeResources: Type.Optional(Flag(false, 'On `app.close()`, after the mails on their way are sent, close `store` and `mailer` too. ' +
    "Off: what you pass in stays yours to close (as with @fastify/redis's `closeClient`).")),
  decorators: Type.Optional(DecoratorsSchema),
  authenticate: Type.Optional(Type.Unsafe<DeclaredAuthenticateMode>(OneOf<AuthenticateMode>(['store', 'stateless'], {
    default: 'store',
    description: "How `app.authenticate` (djoser dialect) finds the user. `store`: loads it on every request (simplejwt's JWTAuthentication): a " +
      "deactivated or deleted user, or a session a password change ended, is refused at once. `stateless`: `request.user` is a `TokenUser` " +
      "built from the verified access token's claims, no store lookup (JWTStatelessUserAuthentication): a deactivated or deleted user keeps " +
      'access until the token expires and the session cut-off of a password change is not checked (declare the mode in AccountsAuthentication). ' +
      'The routes of the dialect always load the user.'
  }))),
  mailer: Type.Optional(FromCode<Mailer>('Mailer', 'Where mail goes: `SmtpMailer`, `ConsoleMailer`, `MemoryMailer` (tests). Default: a console mailer writing each message to the Fastify log.')),
  passwordHasher: Type.Optional(FromCode<PasswordHasher>('PasswordHasher',
    "Hashes and verifies passwords. Default `DjangoPasswordHasher`: writes argon2id with `argon2`'s parameters and verifies Django's stored formats.")),
  argon2: Type.Optional(Type.Object({
    memoryCost: Type.Optional(Type.Integer({ minimum: 8, default: ARGON2.memoryCost, description: 'KiB of memory per hash.' })),
    timeCost: Type.Optional(Type.Integer({ minimum: 1, default: ARGON2.timeCost, description: 'Passes over the memory.' })),
    parallelism: Type.Optional(Type.Integer({ minimum: 1, default: ARGON2.parallelism, description: 'Lanes per hash.' }))
  }, { additionalProperties: false, description: "argon2id parameters of the default hasher (OWASP's minimum; lower them only in tests)." })),
  passwordValidation: Type.Optional(Type.Unsafe<PasswordValidationOptions>(Type.Object({
    minLength: Type.Optional(Type.Integer({ minimum: 0, default: 8, description: 'Minimum length in characters; 0 disables.' })),
    common: Type.Optional(Flag(true, 'Refuse the ~49k most common passwords.')),
    numeric: Type.Optional(Flag(true, 'Refuse passwords made only of digits.')),
    userAttributeSimilarity: Type.Optional(Type.Union([Type.Literal(false), UserAttributeSimilaritySchema], {
      default: SIMILARITY,
      description: 'Refuse passwords too close to the username or email (or parts of them); `false` disables.'
    })),
    validators: Type.Optional(FromCode<CustomPasswordValidator[]>('CustomPasswordValidator[]',
      'Validators of your own, `(password, user) => string[] | Promise<string[]>` (a breached-password lookup, say), run after these at registration, change and reset; their messages go under the password field; one that throws makes the request a 503.'))
  }, { additionalProperties: false, description: "Django's default password validators. Passwords over 4096 characters are always refused." }))),
  rehashOnLogin: Type.Optional(Flag(true, 'A login with a hash in an older format or with weaker parameters stores a fresh argon2id hash.')),
  secretKey: Type.Optional(Type.String({
    minLength: 1,
    description: "HMAC key of mailed links (Django's SECRET_KEY), at least 32 bytes. Default `jwt.signingKey` when it is an HMAC secret; required with asymmetric JWT keys."
  })),
  passwordResetTimeout: Type.Optional(Seconds(1, { default: 259200, description: "Lifetime of activation and reset links, seconds (3 days; Django's PASSWORD_RESET_TIMEOUT)." })),
  domain: Type.Optional(Type.String({ minLength: 1, default: 'localhost:3000', description: 'Used in mails and links; never taken from the Host header.' })),
  siteName: Type.Optional(Type.String({ minLength: 1, default: 'fastify-accounts', description: 'Used in mails.' })),
  protocol: Type.Optional(OneOf(['http', 'https'], { default: 'http', description: 'Used in mailed links.' })),
  trustedOrigins: Type.Optional(Type.Array(Matching(/^https?:\/\/[^\s/]+$/, { errorMessage: 'must be an origin such as "https://app.example.com"' }), {
    default: [],
    description: "Origins besides `protocol://domain` (and the host a request was sent to) allowed to send requests carrying credentials in cookies (Django's CSRF_TRUSTED_ORIGINS): a cookie-authenticated request that may change something from any other origin is refused with 403."
  })),
  bodyLimit: Type.Optional(Type.Integer({ minimum: 1, default: 16384, errorMessage: 'must be a positive whole number of bytes', description: 'Largest accepted request body, bytes (413 above).' })),
  sendActivationEmail: Type.Optional(Flag(true, 'New users are inactive until they follow the mailed link (djoser: False).')),
  sendConfirmationEmail: Type.Optional(Flag(false, 'Mail after registration (activation off) or activation.')),
  userCreatePasswordRetype: Type.Optional(Flag(false, 'Registration requires `re_password`.')),
  setPasswordRetype: Type.Optional(Flag(false, '`set_password` requires `re_new_password`.')),
  passwordResetConfirmRetype: Type.Optional(Flag(false, '`reset_password_confirm` requires `re_new_password`.')),
  setUsernameRetype: Type.Optional(Flag(false, '`set_username` requires `re_new_username`.')),
  usernameResetConfirmRetype: Type.Optional(Flag(false, '`reset_username_confirm` requires `re_new_username`.')),
  passwordResetShowEmailNotFound: Type.Optional(Flag(false, 'An unknown email on `reset_password` is a 400 instead of a silent 204.')),
  usernameResetShowEmailNotFound: Type.Optional(Flag(false, 'The same for `reset_username`.')),
  passwordChangedEmailConfirmation: Type.Optional(Flag(false, 'Mail after a password change or reset.')),
  usernameChangedEmailConfirmation: Type.Optional(Flag(false, 'Mail after a username change or reset.')),
  emailChangedEmailConfirmation: Type.Optional(Flag(true, "When a user's email changes (`users/me/`, or `set_email` and `reset_email_confirm` when loginField is email), " +
    'mail the old address, with the new one partly masked (beyond djoser).')),
  emailChangeRequiresPassword: Type.Optional(Flag(false, 'djoser `PUT/PATCH users/me/` with a new email requires `current_password` (400 when missing or wrong; ' +
    "a wrong one spends the account's failure budget). Off: djoser's behaviour, an access token alone moves the account to another address.")),
  logoutOnPasswordChange: Type.Optional(Flag(false, "A password change deletes the user's opaque tokens.")),
  authTokenLifetime: Type.Optional(Type.Union([Seconds(1, {}), Type.Null()], {
    default: null,
    errorMessage: 'must be a positive whole number of seconds, or null',
    description: 'Lifetime of an opaque token (`Token <key>`), seconds from its creation, on every store: an older one is refused as an invalid ' +
      "token and deleted. null: they never expire, as DRF's authtoken (they end at logout, a password change or reset, or from the sessions routes)."
  })),
  revokeTokensOnPasswordChange: Type.Optional(Flag(true, 'A password change ends every other session of the user in every dialect: refresh families, opaque tokens, ' +
    'and access tokens (a cut-off on the user row every authenticator checks); the session that made the change goes on; a reset ends them all (beyond djoser). ' +
    'false: tokens outlive a password change, as in djoser and simplejwt.')),
  revokeAccessOnPasswordChange: Type.Optional(Flag(false, 'Deprecated, no effect (logs a warning when true): revokeTokensOnPasswordChange now ends the access tokens of the other sessions.')),
  hideUsers: Type.Optional(Flag(true, 'Non-staff users see only themselves in `/users/`.')),
  activationUrl: Type.Optional(Link('#/activate/{uid}/{token}', 'Frontend path of the activation link.')),
  passwordResetConfirmUrl: Type.Optional(Link('#/password/reset/confirm/{uid}/{token}', 'Frontend path of the password reset link.')),
  usernameResetConfirmUrl: Type.Optional(Link('#/username/reset/confirm/{uid}/{token}', 'Frontend path of the username reset link.')),
  loginField: Type.Optional(OneOf<LoginField>(LOGIN_FIELDS, { default: 'username', description: 'What logs in, and what `set_username` changes.' })),
  mfa: Type.Optional(MfaOptionSchema),
  jwt: JwtOptionsSchema
}, { additionalProperties: false })

/** Every option: the core's and each dialect's block. Its JSON Schema is bin/options-schema.ts's file. */
export const AccountsOptionsSchema = Type.Object({
  ...CoreOptionsSchema.properties,
  djRestAuth: Type.Optional(DjRestAuthOptionsSchema),
  drfJwt: Type.Optional(DrfJwtOptionsSchema),
  sanicJwt: Type.Optional(SanicJwtOptionsSchema),
  social: Type.Optional(SocialOptionsSchema)
}, { additionalProperties: false, title: 'fastify-accounts options' })

export { JwtOptionsSchema }
export type { JwtAlgorithm, JwtOptions, ResolvedJwtOptions, VerifyingKey } from './jwt-options.js'
/** A budget: at most `max` requests per `timeWindow` seconds. */
export type RateLimitWindow = Static<ReturnType<typeof RateLimitWindowSchema>>
export type RateLimitOptions = Static<typeof RateLimitOptionsSchema>
/** djoser's DJOSER settings, camelCased, plus what the plugin needs to run, and the dialects' settings. */
export type AccountsOptions = Static<typeof AccountsOptionsSchema>

export type ResolvedRateLimitOptions = Required<Omit<RateLimitOptions, 'redis'>> & Pick<RateLimitOptions, 'redis'>

export type ResolvedOptions =
  Required<Omit<AccountsOptions, 'jwt' | 'store' | 'mailer' | 'passwordHasher' | 'prefix' | 'decorators' | 'authenticate' | 'argon2' | 'passwordValidation' | 'rateLimit' | 'djRestAuth' | 'drfJwt' | 'sanicJwt' | 'social'>> &
  { authenticate: AuthenticateMode } &
  { rateLimit: ResolvedRateLimitOptions | false, djRestAuth: ResolvedDjRestAuthOptions, drfJwt: ResolvedDrfJwtOptions, sanicJwt: ResolvedSanicJwtOptions, social: ResolvedSocialOptions } &
  Pick<AccountsOptions, 'store' | 'mailer' | 'passwordHasher' | 'argon2' | 'passwordValidation'> &
  { jwt: ResolvedJwtOptions }

/** The core options that have a default (each schema's `default`), as DEFAULTS holds them. */
export type OptionsDefaults = Omit<ResolvedOptions, 'jwt' | 'secretKey' | 'rateLimit' | 'store' | 'mailer' | 'passwordHasher' | 'argon2' | 'passwordValidation' | 'djRestAuth' | 'drfJwt' | 'sanicJwt' | 'social'> & {
  rateLimit: Omit<ResolvedRateLimitOptions, 'redis'>
  argon2: Required<NonNullable<AccountsOptions['argon2']>>
  passwordValidation: Required<Omit<PasswordValidationOptions, 'userAttributeSimilarity' | 'validators'>> & { userAttributeSimilarity: typeof SIMILARITY }
  jwt: Omit<ResolvedJwtOptions, 'signingKey' | 'verifyingKey' | 'signingKid' | 'audience' | 'issuer'>
}

/** Every default of the core's options, read from CoreOptionsSchema. The README's table lists them beside djoser's and simplejwt's. */
export const DEFAULTS = defaultsOf(CoreOptionsSchema) as DeepReadonly<OptionsDefaults>

/** Every method the plugin calls on each store, so a store missing one fails at registration, not at its first call. */
const USER_STORE_METHODS = ['createUser', 'findUserById', 'findUserByUsername', 'findUsersByUsernameIgnoringCase', 'findUserByEmail', 'updateUser', 'deleteUser', 'listUsers'] as const
const TOKEN_STORE_METHODS = [
  'saveRefreshToken', 'findRefreshToken', 'claimRefreshToken', 'revokeRefreshToken', 'revokeRefreshFamily', 'revokeUserRefreshTokens',
  'saveAuthToken', 'findAuthToken', 'deleteAuthToken', 'deleteUserAuthTokens', 'purgeExpired', 'saveSession', 'touchSession', 'listSessions'
] as const

function expectMethods (value: unknown, name: string, port: string, methods: readonly string[]): void {
  expect(isRecord(value), `${name} must be a ${port}`)
  const missing = methods.filter((m) => typeof value[m] !== 'function')
  expect(missing.length === 0, `${name} must implement ${port}: missing ${missing.join(', ')}`)
}

/** Merges the defaults under the given options, after checking them against the schemas and what no schema can say. */
export function resolveOptions (input: AccountsOptions): ResolvedOptions {
  expect(isRecord(input), 'options must be an object')
  const sanicJwtBlock: unknown = input.sanicJwt
  expect(!isRecord(sanicJwtBlock) || sanicJwtBlock.prefix === undefined, "sanicJwt.prefix: the routes mount at the plugin's prefix")
  // Each dialect checks its own block (its resolver also serves its route plugin); the core checks the rest.
  const { djRestAuth, drfJwt, sanicJwt, social, ...core } = input
  checkOptions(CoreOptionsSchema, core)
  const options = withDefaults<ResolvedOptions>(DEFAULTS, core)
  const jwt = options.jwt

  resolveJwtKeys(jwt)
  // The other dialects' app.authenticate loads the user: accepting the mode there would leave request.user's type wrong.
  expect(options.authenticate === 'store' || options.dialect === 'djoser', "authenticate: 'stateless' is for the djoser dialect's app.authenticate")

  options.drfJwt = resolveDrfJwtOptions(drfJwt)
  options.djRestAuth = resolveDjRestAuthOptions(djRestAuth)
  options.sanicJwt = resolveSanicJwtOptions(sanicJwt)
  options.social = resolveSocialOptions(social ?? {})
  if (options.dialect === 'dj-rest-auth') {
    // allauth's email verification is the core's activation: its setting decides unless both are given.
    const implied = djRestAuthCoreDefaults(options.djRestAuth)
    if (input.sendActivationEmail === undefined) options.sendActivationEmail = implied.sendActivationEmail
    if (input.activationUrl === undefined) options.activationUrl = implied.activationUrl
  }

  if (options.secretKey === undefined) {
    expect(jwt.algorithm.startsWith('HS'), `secretKey (the HMAC key of activation and reset links) is required with ${jwt.algorithm}`)
    options.secretKey = jwt.signingKey
  } else {
    expectKeyLength('secretKey', options.secretKey, LINK_KEY_BYTES, 'the links\' HMAC-SHA256')
  }
  if (options.store !== undefined) {
    expect(isRecord(options.store), 'store must be { users, tokens }')
    expectMethods(options.store.users, 'store.users', 'UserStore', USER_STORE_METHODS)
    expectMethods(options.store.tokens, 'store.tokens', 'TokenStore', TOKEN_STORE_METHODS)
  }
  const validators: unknown = options.passwordValidation?.validators
  expect(validators === undefined || (Array.isArray(validators) && validators.every((v) => typeof v === 'function')),
    'passwordValidation.validators must be an array of functions (password, user) => string[] | Promise<string[]>')
  if (options.mailer !== undefined) expectMethods(options.mailer, 'mailer', 'Mailer', ['send'])
  if (options.passwordHasher !== undefined) expectMethods(options.passwordHasher, 'passwordHasher', 'PasswordHasher', ['hash', 'verify', 'needsRehash'])
  return options
}

/** The links are HMAC-SHA256. */
const LINK_KEY_BYTES = 32
