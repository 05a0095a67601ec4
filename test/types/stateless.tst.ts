// Type tests (tstyche) for an app that registers the plugin with `authenticate: 'stateless'` and declares it in
// AccountsAuthentication, as the README shows: request.user (and requireUser) become the TokenUser of the
// token's claims. The augmentation is global to its TypeScript program, so this file is a program of its own
// (test/types/tsconfig.stateless.json).
import Fastify, { type FastifyRequest } from 'fastify'
import { describe, expect, test } from 'tstyche'
import accounts, { requireUser, type AccountUser, type AccountsOptions, type RequestAuth, type TokenClaims } from '../../lib/index.js'
import type { TokenUser } from '../../lib/authenticate.js'

// What a consumer writes as `declare module 'fastify-accounts'`; here the interface's own module.
declare module '../../lib/decorator-names.js' {
  interface AccountsAuthentication { authenticate: 'stateless' }
}

const app = Fastify()
declare const request: FastifyRequest

describe('request.user follows the declared mode', () => {
  test('request.user is TokenUser | null', () => {
    expect(request.user).type.toBe<TokenUser | null>()
    expect(request.user).type.not.toBe<AccountUser | null>()
    if (request.user !== null) expect(request.user).type.toBe<TokenUser>()
  })

  test('requireUser(request) narrows to TokenUser', () => {
    expect(requireUser(request)).type.toBe<TokenUser>()
  })

  test("a TokenUser is simplejwt's: id, username, flags, always active, and the claims; nothing the token does not hold", () => {
    expect<TokenUser>().type.toBe<{ id: number, username: string, isStaff: boolean, isSuperuser: boolean, isActive: true, claims: Readonly<TokenClaims> }>()
    expect<TokenUser>().type.not.toHaveProperty('email')
    expect<TokenUser>().type.not.toHaveProperty('password')
    expect<TokenUser>().type.not.toHaveProperty('lastLogin')
  })

  test('the same in a route behind app.authenticate; request.auth is unchanged', () => {
    app.get('/private', { onRequest: app.authenticate }, async (req) => {
      expect(req.user).type.toBe<TokenUser | null>()
      expect(req.auth).type.toBe<RequestAuth | null>()
      const user = requireUser(req)
      expect(user.claims).type.toBe<Readonly<TokenClaims>>()
      // @ts-expect-error Property 'email' does not exist on type 'TokenUser'
      return user.email
    })
  })
})

describe('the option agrees with the declaration', () => {
  test("authenticate: 'stateless' is accepted", () => {
    expect<AccountsOptions['authenticate']>().type.toBe<'stateless' | undefined>()
    void app.register(accounts, { authenticate: 'stateless', jwt: { signingKey: 'k'.repeat(32) } })
  })

  test("authenticate: 'store' is refused once 'stateless' is declared", () => {
    // @ts-expect-error Type '"store"' is not assignable to type '"stateless"'
    void app.register(accounts, { authenticate: 'store', jwt: { signingKey: 'k'.repeat(32) } })
  })
})
