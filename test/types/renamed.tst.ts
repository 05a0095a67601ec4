// Type tests (tstyche) for an app that runs beside @fastify/jwt: it renames `request.user` to
// `request.account` and `app.authenticate` to `app.authenticateAccount`, as the README shows. The
// augmentation below is global to its TypeScript program, so this file is checked as a program of its own
// (test/types/tsconfig.renamed.json), never together with default-names.tst.ts.
import '@fastify/jwt'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import { describe, expect, test } from 'tstyche'
import accounts, {
  requireUser,
  type AccountsCore,
  type AccountUser,
  type AuthenticateHook,
  type DecoratorsOption,
  type RequestAuth
} from '../../lib/index.js'

// What a consumer writes as `declare module 'fastify-accounts'`; here the package is its source.
declare module '../../lib/index.js' {
  interface AccountsDecoratorNames { user: 'account', authenticate: 'authenticateAccount' }
}

const app = Fastify()
declare const request: FastifyRequest
declare const reply: FastifyReply

describe('request decorators', () => {
  test('request.account is AccountUser | null', () => {
    expect(request.account).type.toBe<AccountUser | null>()
    if (request.account !== null) expect(request.account).type.toBe<AccountUser>()
  })

  test('request.auth keeps its default name', () => {
    expect(request.auth).type.toBe<RequestAuth | null>()
  })

  test("request.user is @fastify/jwt's", () => {
    expect(request.user).type.toBe<string | object | Buffer>()
    expect(request.user).type.not.toBe<AccountUser | null>()
  })

  test('requireUser(request) still narrows', () => {
    expect(requireUser(request)).type.toBe<AccountUser>()
  })

  test('@fastify/jwt decorators exist because the app imports @fastify/jwt', () => {
    expect(request).type.toHaveProperty('jwtVerify')
    expect(reply).type.toHaveProperty('jwtSign')
    expect(app).type.toHaveProperty('jwt')
  })
})

describe('instance decorators', () => {
  test('app.authenticateAccount replaces app.authenticate', () => {
    expect(app.authenticateAccount).type.toBe<AuthenticateHook>()
    expect(app).type.not.toHaveProperty('authenticate')
    // @ts-expect-error Property 'authenticate' does not exist on type 'FastifyInstance
    app.get('/private', { onRequest: app.authenticate }, async () => null)
    app.get('/private', { onRequest: app.authenticateAccount }, async (req) => {
      expect(req.account).type.toBe<AccountUser | null>()
      return requireUser(req)
    })
  })

  test('app.accounts keeps its default name', () => {
    expect(app.accounts).type.toBe<AccountsCore>()
  })
})

describe('options', () => {
  test('decorators takes the declared names', () => {
    expect<DecoratorsOption>().type.toBe<{ user?: 'account', auth?: 'auth', authenticate?: 'authenticateAccount', accounts?: 'accounts' }>()
    app.register(accounts, { decorators: { user: 'account', authenticate: 'authenticateAccount' }, jwt: { signingKey: 'x' } })
    expect(app.register).type.toBeCallableWith(accounts, { decorators: { user: 'account', authenticate: 'authenticateAccount' }, jwt: { signingKey: 'x' } })
  })

  test('decorators refuses names not declared', () => {
    expect(app.register).type.not.toBeCallableWith(accounts, { decorators: { user: 'other' }, jwt: { signingKey: 'x' } })
    expect(app.register).type.not.toBeCallableWith(accounts, { decorators: { user: 'user' }, jwt: { signingKey: 'x' } })
    // @ts-expect-error Type '"other"' is not assignable to type '"account"'
    app.register(accounts, { decorators: { user: 'other' }, jwt: { signingKey: 'x' } })
  })
})
