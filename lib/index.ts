import './decorators.js'

export { accounts, accounts as default } from './plugin.js'
export { requireUser, type AccountsCore } from './core.js'
export type { AccountsDecoratorNames, DecoratorNames, DecoratorsOption } from './decorator-names.js'
export type { AccountsInstanceDecorators, AccountsRequestDecorators } from './decorators.js'
export { AccountsOptionsSchema, DEFAULTS, type AccountsOptions, type DialectName, type JwtOptions, type JwtAlgorithm, type LoginField, type RateLimitOptions, type ResolvedOptions, type ResolvedJwtOptions, type VerifyingKey } from './options.js'
export { AccountService, type ProfileChanges, type RegistrationRules, type UsernameMatching } from './accounts.js'
export { TokenService, type TokenClaims, type TokenPair, type RefreshResult, type TokenType } from './tokens.js'
export type { Authenticator, RequestAuth } from './authenticate.js'
export type { AuthenticateHook } from './http/authenticate-hook.js'
export type { AnyReply, AnyRequest } from './http/any-request.js'
export { countingFailures, type Limit, type LimitedAction, type LimitHook } from './http/rate-limit.js'
export { JwtKeyRing, type SignOptions, type VerifyMode } from './jwt.js'
export { AccountsEventEmitter, type AccountsEvents, type AccountsEventName } from './events.js'
export * from './ports.js'
export * from './errors.js'
export { securitySchemes, swaggerOptions, type AccountsSwaggerOptions } from './http/openapi.js'
export type { ErrorFormatter, WireError } from './http/wire.js'
export type { Dialect } from './dialects/types.js'
export { djoserRoutes, djoserAuthenticator, djoserErrorFormatter } from './dialects/djoser/index.js'
export { djRestAuthRoutes, djRestAuthAuthenticator, djRestAuthErrorFormatter, djRestAuthCoreDefaults, resolveDjRestAuthOptions, DJ_REST_AUTH_DEFAULTS, type DjRestAuthOptions, type ResolvedDjRestAuthOptions } from './dialects/dj-rest-auth/index.js'
export { drfJwtRoutes, drfJwtAuthenticator, drfJwtErrorFormatter, DrfJwtTokens, resolveDrfJwtOptions, DRF_JWT_DEFAULTS, type DrfJwtOptions, type ResolvedDrfJwtOptions, type DrfJwtPayload } from './dialects/drf-jwt/index.js'
export { sanicJwtRoutes, sanicJwtAuthenticator, sanicJwtErrorFormatter, sanicJwtRefreshKey, SanicJwtException, resolveSanicJwtOptions, SANIC_JWT_DEFAULTS, type SanicJwtOptions, type ResolvedSanicJwtOptions, type SanicJwtExceptionName } from './dialects/sanic-jwt/index.js'
export { MemoryTokenStore, MemoryUserStore, type MemoryTokenStoreOptions } from './stores/memory.js'
// The SQL (Kysely), SQLite, PostgreSQL and Redis stores, the SMTP mailer and the Django importer load
// packages an app may not use, so they have subpaths of their own (fastify-accounts/stores/sqlite, …);
// createStores loads the one a URL names.
export {
  createStores, type CreateStoresOptions, type Stores, type StoreLogger, type SqliteStoreOptions, type PostgresStoreOptions,
  type RedisTokenStoreOptions, type RedisClientOptions
} from './stores/factory.js'
export { MissingPackageError } from './optional-package.js'
export { ConsoleMailer } from './mail/console.js'
export { MemoryMailer } from './mail/memory.js'
export { renderEmail, type EmailKind, type EmailContext } from './mail/templates.js'
export { Argon2Hasher, ARGON2_DEFAULTS, type Argon2Options } from './passwords/argon2.js'
export { createPasswordValidator, MAX_PASSWORD_LENGTH, type PasswordValidationOptions } from './passwords/validators.js'
export { DjangoPasswordHasher, DJANGO_HASH_ALGORITHMS } from './passwords/django.js'
