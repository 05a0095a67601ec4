import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { requestContext } from './request-context.js'
import { createAuthenticator } from './authenticate.js'
import { kAccounts, type AccountsCore } from './core.js'
import { DEFAULT_DECORATOR_NAMES, type DecoratorNames, type DecoratorsOption } from './decorator-names.js'
import { DIALECTS } from './dialects/registry.js'
import { OptionsError } from './errors.js'
import { AccountsEventEmitter } from './events.js'
import { createOriginCheck } from './http/csrf.js'
import { registerRateLimits, type Limit } from './http/rate-limit.js'
import { ConsoleMailer } from './mail/console.js'
import { OneTimeLinks } from './one-time-links.js'
import { resolveOptions, type AccountsOptions } from './options.js'
import { setUpSocialLogin } from './social/setup.js'
import { accountService, setUpMfa } from './mfa/setup.js'
import { DjangoPasswordHasher } from './passwords/django.js'
import { createPasswordValidator, withCustomValidators } from './passwords/validators.js'
import { MemoryTokenStore, MemoryUserStore } from './stores/memory.js'
import { JwtKeyRing } from './jwt.js'
import { TokenService } from './tokens.js'

const PURGE_INTERVAL_MS = 60 * 60 * 1000

/**
 * The decorator names in use (their syntax is checked with the options); a name another plugin already
 * took fails here, naming the option to set.
 */
function decoratorNames (app: FastifyInstance, given: DecoratorsOption | undefined): DecoratorNames {
  const names: DecoratorNames = { ...DEFAULT_DECORATOR_NAMES }
  for (const [key, value] of Object.entries(given ?? {})) {
    if (typeof value === 'string') names[key as keyof DecoratorNames] = value
  }
  const taken = (where: 'request' | 'instance', key: keyof DecoratorNames): void => {
    const name = names[key]
    const exists = where === 'request' ? app.hasRequestDecorator(name) : app.hasDecorator(name)
    if (!exists) return
    const place = where === 'request' ? `request.${name}` : `app.${name}`
    throw new OptionsError(`${place} is already decorated by another plugin (@fastify/jwt and @fastify/passport use request.user; ` +
      `many apps add app.authenticate): set the option decorators.${key} to another name, e.g. { decorators: { ${key}: '${key === 'user' ? 'account' : `${key}Account`}' } }`)
  }
  taken('request', 'user')
  taken('request', 'auth')
  taken('instance', 'authenticate')
  taken('instance', 'accounts')
  if (new Set([names.user, names.auth]).size !== 2 || new Set([names.authenticate, names.accounts]).size !== 2) {
    throw new OptionsError('decorators: each name must differ from the others')
  }
  return names
}

async function accountsPlugin (app: FastifyInstance, input: AccountsOptions): Promise<void> {
  const options = resolveOptions(input)
  const names = decoratorNames(app, input.decorators)
  const o = options.jwt
  const production = process.env.NODE_ENV === 'production'
  if (options.store === undefined && production) {
    app.log.warn('fastify-accounts: no store given, so users and tokens live in memory and are lost on restart (pass `store`)')
  }
  if (options.mailer === undefined && production) {
    app.log.warn('fastify-accounts: no mailer given, so mails (with live activation and reset links) are written to the log (pass `mailer`)')
  }
  const stores = options.store ?? { users: new MemoryUserStore(), tokens: new MemoryTokenStore() }
  // Expired refresh records serve nothing once past the leeway: drop them hourly, off the request path.
  const purge = setInterval(() => {
    stores.tokens.purgeExpired(new Date(Date.now() - options.jwt.leeway * 1000)).catch((error: unknown) => {
      app.log.warn({ err: error }, 'fastify-accounts: purging expired refresh tokens failed')
    })
  }, PURGE_INTERVAL_MS)
  purge.unref()

  // Signers and verifiers are built here, once per key; the host's own `app.jwt` (@fastify/jwt) is untouched.
  const keys = new JwtKeyRing(o)

  const events = new AccountsEventEmitter((error, event) => app.log.error({ err: error, event }, 'fastify-accounts: an event listener failed'))
  const tokens = new TokenService({
    keys, store: stores.tokens, users: stores.users, refreshStanding: options.store?.refreshStanding, events, options, log: app.log
  })
  const mfa = setUpMfa(app, { options, users: stores.users, events })
  const users = accountService({
    users: stores.users,
    tokens,
    // argon2id for new hashes; Django's stored formats still verify (and are rehashed on login).
    hasher: options.passwordHasher ?? new DjangoPasswordHasher(options.argon2),
    validatePassword: withCustomValidators(createPasswordValidator(options.passwordValidation), options.passwordValidation?.validators),
    links: new OneTimeLinks(options.secretKey, options.passwordResetTimeout),
    mailer: options.mailer ?? new ConsoleMailer(app.log),
    events,
    log: app.log,
    options
  }, mfa)
  const authenticateRequest = createAuthenticator({ accounts: users, tokens, jwt: o })

  // Lifecycle: mails still on their way are sent before the app closes; what the host passed in (stores,
  // mailer) stays the host's to close, unless `closeResources` hands it over (closed after the mails).
  app.addHook('onClose', async () => {
    clearInterval(purge)
    await users.mailsSent()
    if (options.closeResources) await closeResources(stores, options.mailer)
  })

  // One set of rate-limit counters for every dialect mounted, so a second dialect is no second budget.
  let limit: Limit = () => []
  await app.register(async function rateLimitScope (scope) { limit = await registerRateLimits(scope, options.rateLimit, events) })

  app.decorateRequest(names.user, null)
  app.decorateRequest(names.auth, null)
  const checkOrigin = createOriginCheck({ protocol: options.protocol, domain: options.domain, trustedOrigins: options.trustedOrigins },
    (request) => { events.emit('permission.denied', { userId: null, reason: 'cross-site' }, requestContext(request)) })
  const social = setUpSocialLogin({ options, store: options.store?.social, users: stores.users, accounts: users, tokens, events, log: app.log })
  const core: AccountsCore = { users, tokens, options, authenticateRequest, jwt: keys, events, limit, stores, names, checkOrigin, social, mfa }
  app.decorate(kAccounts, core)
  app.decorate(names.accounts, core)
  const dialect = DIALECTS[options.dialect]
  const routeOptions = dialect.routeOptions(options)
  app.decorate(names.authenticate, dialect.authenticator(core, routeOptions))

  await app.register(dialect.routes, { ...routeOptions, prefix: input.prefix ?? '' })
}

/** Closes the stores (once each, or through the `close` of a createStores() result) and the mailer. */
async function closeResources (stores: NonNullable<AccountsOptions['store']>, mailer: AccountsOptions['mailer']): Promise<void> {
  const closers = typeof stores.close === 'function'
    ? [stores.close.bind(stores)]
    : [...new Set([stores.users, stores.tokens])].flatMap((store) => typeof store.close === 'function' ? [store.close.bind(store)] : [])
  if (typeof mailer?.close === 'function') closers.push(mailer.close.bind(mailer))
  const results = await Promise.allSettled(closers.map(async (close) => { await close() }))
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected')
  if (failed !== undefined) throw failed.reason
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
