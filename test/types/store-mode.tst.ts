// Type tests (tstyche) for the default `authenticate` mode (nothing declared in AccountsAuthentication): the
// option takes only 'store', so an app cannot turn the stateless mode on while its types still say AccountUser.
// A program of its own (test/types/tsconfig.store-mode.json). Also: the `store` option's type.
import Fastify, { type FastifyRequest } from 'fastify'
import { describe, expect, test } from 'tstyche'
import accounts, { requireUser, type AccountUser, type AccountsOptions, type RefreshStandingReader, type ResolvedOptions } from '../../lib/index.js'
import type { Stores } from '../../lib/stores/factory.js'
import type { PostgresStores } from '../../lib/stores/postgres.js'
import type { SqliteStores } from '../../lib/stores/sqlite.js'

const app = Fastify()
declare const request: FastifyRequest

describe('the default mode', () => {
  test('request.user and requireUser stay AccountUser', () => {
    expect(request.user).type.toBe<AccountUser | null>()
    expect(requireUser(request)).type.toBe<AccountUser>()
  })

  test("the option takes 'store' only", () => {
    expect<AccountsOptions['authenticate']>().type.toBe<'store' | undefined>()
    void app.register(accounts, { authenticate: 'store', jwt: { signingKey: 'k'.repeat(32) } })
    // @ts-expect-error Type '"stateless"' is not assignable to type '"store"'
    void app.register(accounts, { authenticate: 'stateless', jwt: { signingKey: 'k'.repeat(32) } })
  })

  test('the resolved options say either mode (the runtime value)', () => {
    expect<ResolvedOptions['authenticate']>().type.toBe<'store' | 'stateless'>()
  })
})

describe('the store option', () => {
  type StoreOption = NonNullable<AccountsOptions['store']>

  test('what the store factories return fits as it is, refreshStanding included', () => {
    expect<Stores>().type.toBeAssignableTo<StoreOption>()
    expect<SqliteStores>().type.toBeAssignableTo<StoreOption>()
    expect<PostgresStores>().type.toBeAssignableTo<StoreOption>()
    expect<StoreOption['refreshStanding']>().type.toBe<RefreshStandingReader | undefined>()
  })

  test('a refreshStanding of custom stores answers { revoked, cutoff }', () => {
    expect<RefreshStandingReader>().type.toBeAssignableFrom(async (_jti: string, _userId: number) => ({ revoked: false, cutoff: null }))
    expect<RefreshStandingReader>().type.not.toBeAssignableFrom(async (_jti: string, _userId: number) => ({ revoked: 'no', cutoff: null }))
    expect<RefreshStandingReader>().type.not.toBeAssignableFrom(async (_jti: string, _userId: number) => true)
  })
})
