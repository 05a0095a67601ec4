import fastifyJwt, { type FastifyJWTOptions, type JWT } from '@fastify/jwt'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { AccountService, type AccountUser } from './accounts.js'
import { createAuthenticator, type Authenticator, type RequestAuth } from './authenticate.js'
import { AccountsEventEmitter } from './events.js'
import { ConsoleMailer } from './mail/console.js'
import { OneTimeLinks } from './one-time-links.js'
import { resolveOptions, type AccountsOptions, type DialectName, type ResolvedOptions } from './options.js'
import { DjangoPasswordHasher } from './passwords/django.js'
import { createPasswordValidator } from './passwords/validators.js'
import { djoserRoutes } from './routes/djoser.js'
import { djoserErrorFormatter } from './routes/djoser-errors.js'
import { djRestAuthAuthenticateRequest, djRestAuthErrorFormatter, djRestAuthRoutes } from './routes/dj-rest-auth.js'
import { drfJwtAuthenticateRequest, drfJwtErrorFormatter, drfJwtRoutes } from './routes/drf-jwt.js'
import { registerRateLimits, type Limit } from './routes/rate-limit.js'
import { sanicJwtAuthenticator, sanicJwtErrorFormatter, sanicJwtRoutes } from './routes/sanic-jwt.js'
import type { TokenStore, UserStore } from './ports.js'
import { authenticateHook, type ErrorFormatter } from './routes/scope.js'
import { MemoryTokenStore, MemoryUserStore } from './stores/memory.js'
import { JwtKeyRing, TokenService } from './tokens.js'

const PURGE_INTERVAL_MS = 60 * 60 * 1000

/** What `app.accounts` exposes: the services, for custom routes and the dialects' route plugins. */
export interface AccountsDecorator {
  accounts: AccountService
  tokens: TokenService
  options: ResolvedOptions
  /** Resolves the request's credentials to a user, or throws the error to format. */
  authenticateRequest: Authenticator
  /**
   * The signer (current key, its `kid` in the header) and verifier (every configured key, chosen by `kid`;
   * RFC 8725 `typ` check) of the dialects whose tokens are not simplejwt's.
   */
  jwt: JWT
  /** Audit events: `app.accounts.events.on('login.failed', …)`. */
  events: AccountsEventEmitter
  /** Rate-limit preHandlers shared by every dialect: `limit('login', (body) => body.username)`. */
  limit: Limit
  /** The stores in use (the in-memory defaults when none was given), for dialects with records of their own. */
  store: { users: UserStore, tokens: TokenStore }
}

interface DialectModule {
  // Each route plugin takes its own options object; the core passes the resolved one.
  routes: FastifyPluginAsync<any> // eslint-disable-line @typescript-eslint/no-explicit-any
  routeOptions: object
  formatError: ErrorFormatter
  /** How this dialect reads credentials, when it is not simplejwt's and DRF's way. */
  authenticateRequest?: (core: AccountsDecorator) => Authenticator
  /** A dialect's own app.authenticate, when even its answers are not made from formatError. */
  authenticate?: (core: AccountsDecorator) => (request: FastifyRequest, reply: FastifyReply) => Promise<void>
}

/** The route set, error shape and credentials of each dialect; `dialect` picks one, the others can be registered beside it. */
function dialectModule (name: DialectName, o: ResolvedOptions): DialectModule {
  switch (name) {
    case 'djoser': return { routes: djoserRoutes, routeOptions: {}, formatError: djoserErrorFormatter(o.jwt.authHeaderTypes[0]) }
    case 'dj-rest-auth': return {
      routes: djRestAuthRoutes,
      routeOptions: o.djRestAuth,
      formatError: djRestAuthErrorFormatter(o.djRestAuth, o.jwt.authHeaderTypes[0]),
      authenticateRequest: (core) => djRestAuthAuthenticateRequest(core, o.djRestAuth)
    }
    case 'drf-jwt': return {
      routes: drfJwtRoutes,
      routeOptions: o.drfJwt,
      formatError: drfJwtErrorFormatter(o.drfJwt.authHeaderPrefix),
      authenticateRequest: (core) => drfJwtAuthenticateRequest(core, o.drfJwt)
    }
    case 'sanic-jwt': return {
      routes: sanicJwtRoutes,
      routeOptions: o.sanicJwt,
      formatError: sanicJwtErrorFormatter(),
      authenticate: (core) => sanicJwtAuthenticator(core, o.sanicJwt)
    }
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    accounts: AccountsDecorator
    /** onRequest hook: fills request.user and request.auth, or answers 401 in the dialect's shape. */
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  }
  interface FastifyRequest {
    /** How the request authenticated (DRF's request.auth); null until app.authenticate ran. */
    auth: RequestAuth | null
  }
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    /** The authenticated user (no password hash); null until app.authenticate ran. */
    user: AccountUser | null
  }
}

/** A @fastify/jwt instance in a scope of its own: `app.jwt` stays the host's, and each key gets its own verifier. */
async function jwtInstance (app: FastifyInstance, options: FastifyJWTOptions): Promise<JWT> {
  let jwt: JWT | undefined
  await app.register(async function jwtScope (scope) {
    await scope.register(fastifyJwt, options)
    jwt = scope.jwt
  })
  if (jwt === undefined) throw new Error('fastify-accounts: @fastify/jwt did not load')
  return jwt
}

async function accountsPlugin (app: FastifyInstance, input: AccountsOptions): Promise<void> {
  const options = resolveOptions(input)
  const o = options.jwt
  const store = options.store ?? { users: new MemoryUserStore(), tokens: new MemoryTokenStore() }
  // Expired refresh records serve nothing once past the leeway: drop them hourly, off the request path.
  const purge = setInterval(() => {
    store.tokens.purgeExpired(new Date(Date.now() - options.jwt.leeway * 1000)).catch((error: unknown) => {
      app.log.warn({ err: error }, 'fastify-accounts: purging expired refresh tokens failed')
    })
  }, PURGE_INTERVAL_MS)
  purge.unref()
  app.addHook('onClose', async () => { clearInterval(purge) })
  // @fastify/jwt stays inside scopes of its own (one per key), so the host app keeps `app.jwt` for its own use.
  const verify = {
    allowedAud: o.audience,
    allowedIss: o.issuer,
    clockTolerance: o.leeway * 1000,
    // fast-jwt skips aud/iss checks when the claim is absent; PyJWT (simplejwt) requires them.
    requiredClaims: ['exp', ...(o.audience === undefined ? [] : ['aud']), ...(o.issuer === undefined ? [] : ['iss'])]
  }
  const current = await jwtInstance(app, {
    secret: o.algorithm.startsWith('HS') ? o.signingKey : { private: o.signingKey, public: o.verifyingKey as string },
    sign: { algorithm: o.algorithm, ...(o.signingKid === undefined ? {} : { kid: o.signingKid }) },
    // RFC 8725: one allowed algorithm, the configured key's; `none` and HS/RS confusion fail here.
    verify: { ...verify, algorithms: [o.algorithm] }
  })
  // Older keys (key rotation): verify only, each with its own algorithm, chosen by the token's kid.
  const previous = new Map<string, JWT>()
  for (const { kid, key, algorithm } of o.verifyingKeys) {
    previous.set(kid, await jwtInstance(app, {
      secret: algorithm.startsWith('HS') ? key : { public: key },
      verify: { ...verify, algorithms: [algorithm] }
    }))
  }
  const keys = new JwtKeyRing(current, o.signingKid, previous)
  const jwt = keys.jwt

  const events = new AccountsEventEmitter((error, event) => app.log.error({ err: error, event }, 'fastify-accounts: an event listener failed'))
  const tokens = new TokenService({ keys, store: store.tokens, users: store.users, events, options })
  const accounts = new AccountService({
    users: store.users,
    tokens,
    // argon2id for new hashes; Django's stored formats still verify (and are rehashed on login).
    hasher: options.passwordHasher ?? new DjangoPasswordHasher(options.argon2),
    validatePassword: createPasswordValidator(options.passwordValidation),
    links: new OneTimeLinks(options.secretKey, options.passwordResetTimeout),
    mailer: options.mailer ?? new ConsoleMailer(app.log),
    events,
    log: app.log,
    options
  })
  const authenticateRequest = createAuthenticator({ accounts, tokens, jwt: o })

  // One set of rate-limit counters for every dialect mounted, so a second dialect is no second budget.
  let limit: Limit = () => []
  await app.register(async function rateLimitScope (scope) { limit = await registerRateLimits(scope, options.rateLimit) })

  app.decorateRequest('user', null)
  app.decorateRequest('auth', null)
  const dialect = dialectModule(options.dialect, options)
  const core: AccountsDecorator = { accounts, tokens, options, authenticateRequest, jwt, events, limit, store }
  app.decorate('accounts', core)
  app.decorate('authenticate', dialect.authenticate?.(core) ?? authenticateHook(dialect.authenticateRequest?.(core) ?? authenticateRequest, dialect.formatError))

  await app.register(dialect.routes, { ...dialect.routeOptions, prefix: input.prefix ?? '' })
}

/**
 * fastify-accounts: djoser + simplejwt's account and token API for Fastify.
 *
 * ```ts
 * await app.register(accounts, { prefix: '/auth', jwt: { signingKey: process.env.JWT_SECRET } })
 * app.get('/private', { onRequest: app.authenticate }, async (req) => req.user)
 * ```
 */
export const accounts = fp(accountsPlugin, { fastify: '5.x', name: 'fastify-accounts' })
export default accounts
