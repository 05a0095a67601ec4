import fastifyJwt, { type JWT } from '@fastify/jwt'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { AccountService, type AccountUser } from './accounts.js'
import { createAuthenticator, type Authenticator, type RequestAuth } from './authenticate.js'
import { AccountsEventEmitter } from './events.js'
import { ConsoleMailer } from './mail/console.js'
import { OneTimeLinks } from './one-time-links.js'
import { OptionsError, resolveOptions, type AccountsOptions, type DialectName, type ResolvedOptions } from './options.js'
import { DjangoPasswordHasher } from './passwords/django.js'
import { createPasswordValidator } from './passwords/validators.js'
import { djoserRoutes } from './routes/djoser.js'
import { djoserErrorFormatter } from './routes/djoser-errors.js'
import { authenticateHook, type ErrorFormatter } from './routes/scope.js'
import { MemoryTokenStore, MemoryUserStore } from './stores/memory.js'
import { TokenService } from './tokens.js'

/** What `app.accounts` exposes: the services, for custom routes and the dialects' route plugins. */
export interface AccountsDecorator {
  accounts: AccountService
  tokens: TokenService
  options: ResolvedOptions
  /** Resolves the request's credentials to a user, or throws the error to format. */
  authenticateRequest: Authenticator
  /** The configured key's signer and verifier, for dialects whose tokens are not simplejwt's. */
  jwt: JWT
  /** Audit events: `app.accounts.events.on('login.failed', …)`. */
  events: AccountsEventEmitter
}

interface DialectModule {
  routes: FastifyPluginAsync
  formatError: ErrorFormatter
}

/** The route set and error shape of each dialect; `dialect` picks one, the others can be registered beside it. */
function dialectModule (name: DialectName, o: ResolvedOptions): DialectModule {
  switch (name) {
    case 'djoser': return { routes: djoserRoutes, formatError: djoserErrorFormatter(o.jwt.authHeaderTypes[0]) }
    default: throw new OptionsError(`dialect "${name}" is not available yet`)
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

async function accountsPlugin (app: FastifyInstance, input: AccountsOptions): Promise<void> {
  const options = resolveOptions(input)
  const o = options.jwt
  const store = options.store ?? { users: new MemoryUserStore(), tokens: new MemoryTokenStore() }
  const symmetric = o.algorithm.startsWith('HS')

  // @fastify/jwt stays inside its own scope, so the host app keeps `app.jwt` for its own use.
  let jwt: JWT | undefined
  await app.register(async function jwtScope (scope) {
    await scope.register(fastifyJwt, {
      secret: symmetric ? o.signingKey : { private: o.signingKey, public: o.verifyingKey as string },
      sign: { algorithm: o.algorithm },
      verify: {
        // RFC 8725: one allowed algorithm, the configured key's; `none` and HS/RS confusion fail here.
        algorithms: [o.algorithm],
        allowedAud: o.audience,
        allowedIss: o.issuer,
        clockTolerance: o.leeway * 1000,
        // fast-jwt skips aud/iss checks when the claim is absent; PyJWT (simplejwt) requires them.
        requiredClaims: ['exp', ...(o.audience === undefined ? [] : ['aud']), ...(o.issuer === undefined ? [] : ['iss'])]
      }
    })
    jwt = scope.jwt
  })
  if (jwt === undefined) throw new Error('fastify-accounts: @fastify/jwt did not load')

  const events = new AccountsEventEmitter((error, event) => app.log.error({ err: error, event }, 'fastify-accounts: an event listener failed'))
  const tokens = new TokenService(jwt, store.tokens, o)
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

  app.decorateRequest('user', null)
  app.decorateRequest('auth', null)
  const dialect = dialectModule(options.dialect, options)
  app.decorate('accounts', { accounts, tokens, options, authenticateRequest, jwt, events })
  app.decorate('authenticate', authenticateHook(authenticateRequest, dialect.formatError))

  await app.register(dialect.routes, { prefix: input.prefix ?? '' })
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
