import type { SessionRecord, TokenStore, UserStore } from '../ports.js'
import type { ContractTest } from './contract-test.js'

const HOUR = 3_600_000
const H = (c: string): string => c.repeat(64)

/** A session record of `userId`, from `overrides`; dates to the millisecond, in the past hour. */
function session (id: string, userId: number, overrides: Partial<SessionRecord> = {}): SessionRecord {
  const base = Date.now() - HOUR
  return {
    id,
    userId,
    kind: 'jwt',
    createdAt: new Date(base + 1),
    lastUsedAt: new Date(base + 2),
    expiresAt: new Date(base + 30 * 24 * HOUR),
    ip: '203.0.113.7',
    userAgent: 'Mozilla/5.0 (contract)',
    ...overrides
  }
}

/**
 * The sessions part of the TokenStore contract (ASVS 3.3.4: list and end one's sessions). Session rows
 * reference their user in SQL stores, so each test creates its users first.
 */
export function sessionContract (t: ContractTest, open: (t: ContractTest) => Promise<{ users: UserStore, tokens: TokenStore }>): void {
  const withUsers = async (t: ContractTest): Promise<{ tokens: TokenStore, alice: number, bob: number }> => {
    const { users, tokens } = await open(t)
    const alice = (await users.createUser({ username: 'alice', email: 'alice@example.com', password: 'x', isActive: true })).id
    const bob = (await users.createUser({ username: 'bob', email: 'bob@example.com', password: 'x', isActive: true })).id
    return { tokens, alice, bob }
  }
  /** A family `id` with one live refresh token (its first, jti = id), and its session. */
  const jwtSession = async (tokens: TokenStore, record: SessionRecord): Promise<SessionRecord> => {
    await tokens.saveRefreshToken({ jti: record.id, userId: record.userId, family: record.id, expiresAt: new Date(Date.now() + HOUR) })
    await tokens.saveSession(record)
    return record
  }
  const tokenSession = async (tokens: TokenStore, record: SessionRecord): Promise<SessionRecord> => {
    await tokens.saveAuthToken({ hash: record.id, userId: record.userId, createdAt: record.createdAt })
    await tokens.saveSession(record)
    return record
  }
  const ids = async (tokens: TokenStore, userId: number): Promise<string[]> => (await tokens.listSessions(userId, new Date())).map((s) => s.id)

  t.test('sessions: saved and listed per user, oldest first, every field to the millisecond', async (t) => {
    const { tokens, alice, bob } = await withUsers(t)
    t.same(await tokens.listSessions(alice, new Date()), [], 'none at first')
    const base = Date.now() - HOUR
    const second = await tokenSession(tokens, session(H('a'), alice, { kind: 'token', createdAt: new Date(base + 20), expiresAt: null, ip: null, userAgent: null }))
    const first = await jwtSession(tokens, session('family-1', alice, { createdAt: new Date(base + 10) }))
    const third = await jwtSession(tokens, session('family-2', alice, { createdAt: new Date(base + 30), ip: '2001:db8::1', userAgent: 'curl/8.5.0' }))
    await jwtSession(tokens, session('family-3', bob))
    t.same(await tokens.listSessions(alice, new Date()), [first, second, third], 'alice\'s three, oldest first, as saved')
    t.same(await ids(tokens, bob), ['family-3'], 'bob\'s one')
    const listed = await tokens.listSessions(alice, new Date())
    listed[0].createdAt.setTime(0)
    t.equal((await tokens.listSessions(alice, new Date()))[0].createdAt.getTime(), base + 10, 'records are returned as copies')
    await tokens.saveSession({ ...first, userAgent: 'replaced' })
    t.equal((await tokens.listSessions(alice, new Date()))[0].userAgent, 'replaced', 'saving an id again replaces its record')
  })

  t.test('listSessions: only sessions not expired and still holding a credential', async (t) => {
    const { tokens, alice } = await withUsers(t)
    const now = Date.now()
    await jwtSession(tokens, session('expired', alice, { expiresAt: new Date(now - 1) }))
    await jwtSession(tokens, session('rotated-out', alice))
    t.equal((await tokens.claimRefreshToken('rotated-out', { jti: 'rotated-out', userId: alice, family: 'rotated-out', expiresAt: new Date(now + HOUR) })).status, 'claimed')
    await jwtSession(tokens, session('rotated', alice))
    await tokens.claimRefreshToken('rotated', { jti: 'rotated', userId: alice, family: 'rotated', expiresAt: new Date(now + HOUR) }, { jti: 'rotated-2', expiresAt: new Date(now + HOUR) })
    await jwtSession(tokens, session('blacklisted', alice))
    await tokens.revokeRefreshToken('blacklisted', { jti: 'blacklisted', userId: alice, family: 'blacklisted', expiresAt: new Date(now + HOUR) })
    await tokens.saveRefreshToken({ jti: 'lapsed', userId: alice, family: 'lapsed', expiresAt: new Date(now - 1000) })
    await tokens.saveSession(session('lapsed', alice))
    await tokens.saveSession(session('no-tokens', alice))
    await tokens.saveSession(session(H('b'), alice, { kind: 'token' }))
    await tokenSession(tokens, session(H('c'), alice, { kind: 'token', expiresAt: null }))
    t.same((await ids(tokens, alice)).sort(), [H('c'), 'rotated'].sort(),
      'the rotated family (its successor is live) and the opaque token; not the expired, the rotated-out, the blacklisted, the lapsed, nor those without credentials')
    t.same(await ids(tokens, alice + 100), [], 'an unknown user has none')
  })

  t.test('what ends a session removes its record (a credential saved again under its id is not listed)', async (t) => {
    const { tokens, alice, bob } = await withUsers(t)
    for (const id of ['f1', 'f2', 'f3']) await jwtSession(tokens, session(id, alice))
    await jwtSession(tokens, session('fb', bob))
    for (const c of ['1', '2', '3']) await tokenSession(tokens, session(H(c), alice, { kind: 'token' }))
    await tokenSession(tokens, session(H('4'), bob, { kind: 'token' }))
    const relive = async (): Promise<void> => {
      for (const id of ['f1', 'f2', 'f3', 'fb']) await tokens.saveRefreshToken({ jti: `${id}-again-${Math.random()}`, userId: id === 'fb' ? bob : alice, family: id, expiresAt: new Date(Date.now() + HOUR) })
      for (const c of ['1', '2', '3']) await tokens.saveAuthToken({ hash: H(c), userId: alice, createdAt: new Date() }).catch(() => {})
    }

    t.equal(await tokens.revokeRefreshFamily('f1'), 1)
    await relive()
    t.same((await ids(tokens, alice)).sort(), ['f2', 'f3', H('1'), H('2'), H('3')].sort(), 'revokeRefreshFamily: its session is gone')

    t.equal(await tokens.revokeUserRefreshTokens(alice, 'f2'), 1 + 2, 'f3 and its re-saved token, plus f1\'s re-saved one')
    await relive()
    t.same((await ids(tokens, alice)).sort(), ['f2', H('1'), H('2'), H('3')].sort(), 'revokeUserRefreshTokens: all but the kept family\'s; opaque ones stay')
    t.same((await ids(tokens, bob)).sort(), ['fb', H('4')].sort(), 'another user\'s untouched')

    t.equal(await tokens.deleteAuthToken(H('1')), true)
    await relive()
    t.same((await ids(tokens, alice)).sort(), ['f2', H('2'), H('3')].sort(), 'deleteAuthToken: its session is gone')

    t.equal(await tokens.deleteUserAuthTokens(alice, H('2')), 2)
    await relive()
    t.same((await ids(tokens, alice)).sort(), ['f2', H('2')].sort(), 'deleteUserAuthTokens: all but the kept one\'s; jwt ones stay')

    await tokens.revokeUserRefreshTokens(alice)
    await tokens.deleteUserAuthTokens(alice)
    await relive()
    t.same(await ids(tokens, alice), [], 'without an exception: every one')
    t.same((await ids(tokens, bob)).sort(), ['fb', H('4')].sort(), 'bob\'s still untouched')
  })

  t.test('touchSession: the last use, at most once per interval; a session without a record is recorded whole', async (t) => {
    const { tokens, alice } = await withUsers(t)
    const saved = await tokenSession(tokens, session(H('a'), alice, { kind: 'token' }))
    const lastUsed = saved.lastUsedAt.getTime()
    t.same((await tokens.findAuthToken(H('a')))?.lastUsedAt, saved.lastUsedAt, 'findAuthToken returns its session\'s last use')

    const later = new Date(lastUsed + 30_000)
    await tokens.touchSession({ ...saved, lastUsedAt: later, ip: '198.51.100.1' }, new Date(later.getTime() - 60_000))
    t.equal((await tokens.findAuthToken(H('a')))?.lastUsedAt?.getTime(), lastUsed, 'within the interval: unchanged')

    const muchLater = new Date(lastUsed + 90_000)
    await tokens.touchSession({ ...saved, lastUsedAt: muchLater, ip: '198.51.100.1', userAgent: 'other' }, new Date(muchLater.getTime() - 60_000))
    const [touched] = await tokens.listSessions(alice, new Date())
    t.same(touched, { ...saved, lastUsedAt: muchLater }, 'past it: the last use changes, nothing else')

    await tokens.saveAuthToken({ hash: H('b'), userId: alice, createdAt: new Date(lastUsed) })
    t.equal((await tokens.findAuthToken(H('b')))?.lastUsedAt, null, 'a token without a session record: null')
    const fresh = session(H('b'), alice, { kind: 'token', expiresAt: null, ip: '192.0.2.9', userAgent: null })
    await tokens.touchSession(fresh, new Date(fresh.lastUsedAt.getTime() - 60_000))
    t.same((await tokens.listSessions(alice, new Date())).find((s) => s.id === H('b')), fresh, 'touching it records it whole')
  })

  t.test('purgeExpired drops expired session records', async (t) => {
    const { tokens, alice } = await withUsers(t)
    const now = Date.now()
    const old = session('family', alice, { expiresAt: new Date(now - 1000), ip: 'old' })
    await jwtSession(tokens, old)
    await tokens.purgeExpired(new Date(now))
    // A touch keeps a record's fields: the ip shows whether the old record was still there.
    const renewed = { ...old, expiresAt: new Date(now + HOUR), ip: 'new' }
    await tokens.touchSession(renewed, new Date(now - 60_000))
    t.equal((await tokens.listSessions(alice, new Date()))[0]?.ip, 'new', 'the expired record was gone')
  })
}
