// Type tests (tstyche) for an app that keeps the default decorator names and does not use @fastify/jwt.
// Run with `npx tstyche` (see test/types/tsconfig.json: each test file is its own TypeScript program).
// `// @ts-expect-error <fragment>` is tstyche 7's way to expect an error: the line below must raise exactly
// one error whose message contains the fragment (an unused directive fails too).
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import Fastify, { type FastifyReply, type FastifyRequest, type RawServerBase, type RouteGenericInterface } from 'fastify'
import { describe, expect, test } from 'tstyche'
import accounts, {
  MemoryTokenStore,
  MemoryUserStore,
  requireUser,
  type AccountService,
  type AccountsCore,
  type AccountsEventEmitter,
  type AccountsOptions,
  type AccountUser,
  type AuthenticateHook,
  type Authenticator,
  type DecoratorNames,
  type DecoratorsOption,
  type RateLimitOptions,
  type RequestAuth,
  type ResolvedOptions,
  type TokenClaims,
  type TokenPair,
  type TokenService,
  type TokenStore,
  type User,
  type UserStore
} from '../../lib/index.js'

const app = Fastify()
declare const request: FastifyRequest
declare const reply: FastifyReply

describe('request decorators', () => {
  test('request.user is AccountUser | null', () => {
    expect(request.user).type.toBe<AccountUser | null>()
    expect(request.user).type.not.toBe<any>() // eslint-disable-line @typescript-eslint/no-explicit-any
    expect<AccountUser>().type.toBe<Omit<User, 'password'>>()
    expect<AccountUser>().type.not.toHaveProperty('password')
    expect<AccountUser['id']>().type.toBe<number>()
    if (request.user !== null) expect(request.user).type.toBe<AccountUser>()
  })

  test('request.auth is RequestAuth | null', () => {
    expect(request.auth).type.toBe<RequestAuth | null>()
    expect<RequestAuth>().type.toBe<{ scheme: 'jwt', claims: TokenClaims } | { scheme: 'token', key: string }>()
    expect<TokenClaims>().type.toBe<Record<string, unknown>>()
  })

  test('the same in a route handler', () => {
    app.get('/me', async (req) => {
      expect(req.user).type.toBe<AccountUser | null>()
      expect(req.auth).type.toBe<RequestAuth | null>()
      return null
    })
  })

  test('requireUser(request) narrows to AccountUser', () => {
    expect(requireUser(request)).type.toBe<AccountUser>()
    expect(requireUser).type.toBeCallableWith(request)
    expect(requireUser).type.not.toBeCallableWith()
    expect(requireUser).type.not.toBeCallableWith({})
  })
})

describe('nothing of @fastify/jwt without @fastify/jwt', () => {
  test('request.jwtVerify, request.jwtDecode, reply.jwtSign and app.jwt do not exist', () => {
    expect(request).type.not.toHaveProperty('jwtVerify')
    expect(request).type.not.toHaveProperty('jwtDecode')
    expect(reply).type.not.toHaveProperty('jwtSign')
    expect(reply).type.not.toHaveProperty('jwtDecode')
    expect(app).type.not.toHaveProperty('jwt')

    // @ts-expect-error Property 'jwtVerify' does not exist on type 'FastifyRequest
    void request.jwtVerify()
    // @ts-expect-error Property 'jwtSign' does not exist on type 'FastifyReply
    void reply.jwtSign({})
    // @ts-expect-error Property 'jwt' does not exist on type 'FastifyInstance
    app.jwt.sign({})
  })
})

describe('instance decorators', () => {
  test('app.authenticate is an AuthenticateHook', () => {
    expect(app.authenticate).type.toBe<AuthenticateHook>()
    expect<AuthenticateHook>().type.toBe<(request: FastifyRequest<RouteGenericInterface, RawServerBase>, reply: FastifyReply<RouteGenericInterface, RawServerBase>) => Promise<void>>()
  })

  test('app.authenticate fits as onRequest', () => {
    app.get('/private', { onRequest: app.authenticate }, async (req) => requireUser(req))
    app.get('/private2', { onRequest: [app.authenticate] }, async (req) => req.user)
    app.get<{ Params: { id: string } }>('/users/:id', { onRequest: app.authenticate }, async (req) => req.params.id)
    app.addHook('onRequest', app.authenticate)
    app.withTypeProvider<TypeBoxTypeProvider>().post('/typed', {
      onRequest: app.authenticate,
      schema: { body: Type.Object({ title: Type.String() }) }
    }, async (req) => {
      expect(req.body.title).type.toBe<string>()
      return requireUser(req)
    })
    app.register(async (scope) => {
      expect(scope.authenticate).type.toBe<AuthenticateHook>()
      expect(scope.accounts).type.toBe<AccountsCore>()
      scope.get('/scoped', { onRequest: scope.authenticate }, async (req) => req.user)
    })
  })

  test('app.authenticate fits as onRequest of an HTTP/2 app', () => {
    const app2 = Fastify({ http2: true })
    expect(app2.get).type.toBeCallableWith('/private', { onRequest: app2.authenticate }, async () => null)
    expect(app2.addHook).type.toBeCallableWith('onRequest', app2.authenticate)
  })

  test('app.accounts members', () => {
    expect(app.accounts).type.toBe<AccountsCore>()
    expect<keyof AccountsCore>().type.toBe<'users' | 'tokens' | 'options' | 'authenticateRequest' | 'jwt' | 'events' | 'limit' | 'stores' | 'names' | 'checkOrigin' | 'social' | 'mfa'>()
    expect(app.accounts.users).type.toBe<AccountService>()
    expect(app.accounts.tokens).type.toBe<TokenService>()
    expect(app.accounts.options).type.toBe<ResolvedOptions>()
    expect(app.accounts.authenticateRequest).type.toBe<Authenticator>()
    expect(app.accounts.events).type.toBe<AccountsEventEmitter>()
    expect(app.accounts.stores).type.toBe<{ users: UserStore, tokens: TokenStore }>()
    expect(app.accounts.names).type.toBe<Readonly<DecoratorNames>>()
    expect(app.accounts.options.jwt.signingKey).type.toBe<string>()
    expect(app.accounts.options.dialect).type.toBe<'djoser' | 'dj-rest-auth' | 'sanic-jwt' | 'drf-jwt'>()
  })

  test('app.accounts.users', () => {
    expect(app.accounts.users.register({ username: 'u', email: 'u@example.com', password: 'p' })).type.toBe<Promise<User>>()
    expect(app.accounts.users.authenticateCredentials('u', 'p')).type.toBe<Promise<User>>()
    expect(app.accounts.users.findUser(1)).type.toBe<Promise<User | null>>()
    expect(app.accounts.users.register).type.not.toBeCallableWith({ username: 'u' })
    expect(app.accounts.users).type.not.toHaveProperty('accounts')
  })

  test('app.accounts.tokens', () => {
    expect(app.accounts.tokens.issuePair(1)).type.toBe<Promise<TokenPair>>()
    expect(app.accounts.tokens.verify('token', 'access')).type.toBe<TokenClaims>()
    expect(app.accounts.tokens.verify).type.not.toBeCallableWith('token', 'id')
    expect(app.accounts.tokens.blacklist('token')).type.toBe<Promise<void>>()
  })

  test('app.accounts.jwt', () => {
    expect(app.accounts.jwt.sign({ sub: '1' })).type.toBe<string>()
    expect(app.accounts.jwt.sign).type.toBeCallableWith({ sub: '1' }, { issuedAt: false })
    expect(app.accounts.jwt.sign).type.not.toBeCallableWith({ sub: '1' }, { expiresIn: 60 })
    expect(app.accounts.jwt.verify('token')).type.toBe<unknown>()
    expect(app.accounts.jwt.verify).type.toBeCallableWith('token', 'all')
    expect(app.accounts.jwt.verify).type.toBeCallableWith('token', 'ignore-expiration')
    expect(app.accounts.jwt.verify).type.toBeCallableWith('token', 'signature-only')
    expect(app.accounts.jwt.verify).type.not.toBeCallableWith('token', 'none')
  })

  test('app.accounts.events is typed by event name', () => {
    app.accounts.events.on('login.failed', (payload) => {
      expect(payload.login).type.toBe<string>()
      expect(payload.reason).type.toBe<'unknown-user' | 'wrong-password' | 'inactive'>()
    })
    expect(app.accounts.events.on).type.not.toBeCallableWith('login.nope', () => {})
  })
})

describe('options', () => {
  test('jwt.signingKey is the one required option', () => {
    expect<AccountsOptions['jwt']['signingKey']>().type.toBe<string>()
    expect<AccountsOptions['jwt']>().type.not.toBe<any>() // eslint-disable-line @typescript-eslint/no-explicit-any
    expect<AccountsOptions>().type.toBeAssignableFrom({ jwt: { signingKey: 'x' } })
    expect<AccountsOptions>().type.not.toBeAssignableFrom({})
    expect<AccountsOptions>().type.not.toBeAssignableFrom({ jwt: {} })
  })

  // RateLimitRedis is a structural interface: deriving it from @fastify/rate-limit's `redis?: any` gave an
  // `any` and every consumer app.createRateLimit/app.rateLimit types that do not exist at runtime.
  test('rateLimit.redis is not any', () => {
    expect<NonNullable<RateLimitOptions['redis']>>().type.not.toBe<any>() // eslint-disable-line @typescript-eslint/no-explicit-any
    expect<RateLimitOptions>().type.not.toBeAssignableFrom({ redis: 'localhost:6379' })
  })

  test('app.register(accounts, …)', () => {
    app.register(accounts, { jwt: { signingKey: 'x' } })
    app.register(accounts, { prefix: '/auth', dialect: 'drf-jwt', jwt: { signingKey: 'x', accessTokenLifetime: 300 } })
    app.register(accounts, { decorators: { user: 'user', authenticate: 'authenticate' }, jwt: { signingKey: 'x' } })
    expect(app.register).type.toBeCallableWith(accounts, { jwt: { signingKey: 'x' } })
  })

  test('jwt missing is an error', () => {
    expect(app.register).type.not.toBeCallableWith(accounts, {})
    expect(app.register).type.not.toBeCallableWith(accounts, { prefix: '/auth' })
    // @ts-expect-error Property 'jwt' is missing
    app.register(accounts, { prefix: '/auth' })
  })

  test('an unknown option is an error', () => {
    expect(app.register).type.not.toBeCallableWith(accounts, { jwt: { signingKey: 'x' }, nope: true })
    expect(app.register).type.not.toBeCallableWith(accounts, { jwt: { signingKey: 'x', nope: true } })
    // @ts-expect-error Object literal may only specify known properties, and 'nope' does not exist
    app.register(accounts, { jwt: { signingKey: 'x' }, nope: true })
  })

  test('dialect only takes the four dialects', () => {
    expect(app.register).type.not.toBeCallableWith(accounts, { dialect: 'nope', jwt: { signingKey: 'x' } })
    // @ts-expect-error Type '"nope"' is not assignable to type 'DialectName
    app.register(accounts, { dialect: 'nope', jwt: { signingKey: 'x' } })
  })

  test('decorators only takes the default names while AccountsDecoratorNames is not augmented', () => {
    expect<DecoratorsOption>().type.toBe<{ user?: 'user', auth?: 'auth', authenticate?: 'authenticate', accounts?: 'accounts' }>()
    expect(app.register).type.not.toBeCallableWith(accounts, { decorators: { user: 'account' }, jwt: { signingKey: 'x' } })
    // @ts-expect-error Type '"account"' is not assignable to type '"user"'
    app.register(accounts, { decorators: { user: 'account' }, jwt: { signingKey: 'x' } })
  })

  test('store has the UserStore and TokenStore shapes', () => {
    const users = new MemoryUserStore()
    const tokens = new MemoryTokenStore()
    expect(users).type.toBeAssignableTo<UserStore>()
    expect(tokens).type.toBeAssignableTo<TokenStore>()
    app.register(accounts, { store: { users, tokens }, jwt: { signingKey: 'x' } })
    app.register(accounts, { store: { users, tokens, close: async () => {} }, jwt: { signingKey: 'x' } })
    expect(app.register).type.not.toBeCallableWith(accounts, { store: { users }, jwt: { signingKey: 'x' } })
    expect(app.register).type.not.toBeCallableWith(accounts, { store: { users: tokens, tokens }, jwt: { signingKey: 'x' } })
    expect(app.register).type.not.toBeCallableWith(accounts, { store: { users, tokens: users }, jwt: { signingKey: 'x' } })
    // A plain-object store without purgeExpired (the plugin calls it hourly) does not type-check.
    const withoutPurge: Omit<TokenStore, 'purgeExpired'> = tokens
    expect(withoutPurge).type.not.toBeAssignableTo<TokenStore>()
    expect(app.register).type.not.toBeCallableWith(accounts, { store: { users, tokens: withoutPurge }, jwt: { signingKey: 'x' } })
  })
})
