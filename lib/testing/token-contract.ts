import type { NewRefreshToken, TokenStore, UserStore } from '../ports.js'
import type { ContractTest } from './contract-test.js'

const HOUR = 3_600_000
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

const refresh = (jti: string, extra: Partial<NewRefreshToken> = {}): NewRefreshToken => ({
  jti, userId: 1, family: jti, expiresAt: new Date(Date.now() + HOUR), ...extra
})

/**
 * The refresh-token and opaque-token part of the TokenStore contract: recording, atomic claims for rotation
 * (with successors), revocation by token, family and user, opaque tokens, and purging. Run by storeContract.
 */
export function tokenContract (t: ContractTest, open: (t: ContractTest) => Promise<{ users: UserStore, tokens: TokenStore }>): void {
  t.test('refresh tokens: save and find', async (t) => {
    const { tokens } = await open(t)
    const record = refresh('jti-1', { userId: 7, family: 'fam-1', expiresAt: new Date('2030-01-02T03:04:05.678Z') })
    await tokens.saveRefreshToken(record)
    const found = await tokens.findRefreshToken('jti-1')
    t.same(found, { ...record, usedAt: null, revokedAt: null })
    t.equal(found?.expiresAt.getTime(), record.expiresAt.getTime(), 'expiresAt keeps milliseconds')
    t.equal(await tokens.findRefreshToken('missing'), null)

    record.expiresAt.setTime(0)
    found?.expiresAt.setTime(0)
    t.equal((await tokens.findRefreshToken('jti-1'))?.expiresAt.getTime(), Date.parse('2030-01-02T03:04:05.678Z'),
      'records are stored and returned as copies')
  })

  t.test('claimRefreshToken: claimed once, then used', async (t) => {
    const { tokens } = await open(t)
    const record = refresh('jti-1', { userId: 3, family: 'fam' })
    await tokens.saveRefreshToken(record)
    const before = Date.now()
    const first = await tokens.claimRefreshToken('jti-1', record)
    const after = Date.now()
    t.equal(first.status, 'claimed')
    t.match(first.record, { jti: 'jti-1', userId: 3, family: 'fam', revokedAt: null })
    const usedAt = first.record.usedAt?.getTime() ?? 0
    t.ok(usedAt >= before && usedAt <= after, 'usedAt is now')

    const second = await tokens.claimRefreshToken('jti-1', record)
    t.equal(second.status, 'used')
    t.equal(second.record.usedAt?.getTime(), usedAt, 'a used token is not changed')
    t.same(await tokens.findRefreshToken('jti-1'), first.record)
  })

  t.test('claimRefreshToken: revoked tokens are refused and unchanged', async (t) => {
    const { tokens } = await open(t)
    const fresh = refresh('fresh')
    await tokens.saveRefreshToken(fresh)
    await tokens.revokeRefreshToken('fresh', fresh)
    const claim = await tokens.claimRefreshToken('fresh', fresh)
    t.equal(claim.status, 'revoked')
    t.equal(claim.record.usedAt, null)
    t.same(await tokens.findRefreshToken('fresh'), claim.record)

    // A token rotated and later revoked (e.g. its family after reuse) answers 'revoked'.
    const rotated = refresh('rotated')
    await tokens.saveRefreshToken(rotated)
    await tokens.claimRefreshToken('rotated', rotated)
    await tokens.revokeRefreshToken('rotated', rotated)
    t.equal((await tokens.claimRefreshToken('rotated', rotated)).status, 'revoked')
  })

  t.test('claimRefreshToken: an unknown jti is recorded from the fallback', async (t) => {
    const { tokens } = await open(t)
    const fallback = refresh('elsewhere', { userId: 9, family: 'fam-x', expiresAt: new Date('2031-05-06T07:08:09.010Z') })
    const claim = await tokens.claimRefreshToken('elsewhere', fallback)
    t.equal(claim.status, 'claimed')
    t.match(claim.record, { jti: 'elsewhere', userId: 9, family: 'fam-x', revokedAt: null })
    t.equal(claim.record.expiresAt.getTime(), fallback.expiresAt.getTime())
    t.ok(claim.record.usedAt instanceof Date, 'recorded as used')
    t.same(await tokens.findRefreshToken('elsewhere'), claim.record)
    t.equal((await tokens.claimRefreshToken('elsewhere', fallback)).status, 'used')
  })

  t.test('claimRefreshToken: 50 concurrent claims, exactly one wins', async (t) => {
    const { tokens } = await open(t)
    const saved = refresh('saved')
    await tokens.saveRefreshToken(saved)
    const unknown = refresh('unknown')
    for (const [jti, record] of [['saved', saved], ['unknown', unknown]] as const) {
      const claims = await Promise.all(Array.from({ length: 50 }, async () => await tokens.claimRefreshToken(jti, record)))
      t.equal(claims.filter((c) => c.status === 'claimed').length, 1, `${jti}: one claimed`)
      t.equal(claims.filter((c) => c.status === 'used').length, 49, `${jti}: the rest see it used`)
      const winner = claims.find((c) => c.status === 'claimed')
      t.ok(claims.every((c) => c.record.usedAt?.getTime() === winner?.record.usedAt?.getTime()),
        `${jti}: every caller sees the winner's usedAt`)
    }
  })

  t.test('claimRefreshToken with a successor: recorded with the claim, from the claimed record', async (t) => {
    const { tokens } = await open(t)
    const record = refresh('old', { userId: 4, family: 'fam-4' })
    await tokens.saveRefreshToken(record)
    const expiresAt = new Date('2032-01-02T03:04:05.678Z')
    const claim = await tokens.claimRefreshToken('old', record, { jti: 'new', expiresAt })
    t.equal(claim.status, 'claimed')
    t.same(await tokens.findRefreshToken('new'), { jti: 'new', userId: 4, family: 'fam-4', expiresAt, usedAt: null, revokedAt: null },
      "the successor carries the claimed token's user and family, unused")

    // Presented again: used, and its second successor is not recorded.
    t.equal((await tokens.claimRefreshToken('old', record, { jti: 'new-2', expiresAt })).status, 'used')
    t.equal(await tokens.findRefreshToken('new-2'), null, 'no successor for a refused claim')

    // The successor rotates in turn, and revoking the family reaches the whole chain.
    t.equal((await tokens.claimRefreshToken('new', refresh('new'), { jti: 'new-3', expiresAt })).status, 'claimed')
    t.match(await tokens.findRefreshToken('new-3'), { userId: 4, family: 'fam-4', usedAt: null })
    t.equal(await tokens.revokeRefreshFamily('fam-4'), 3, 'the family is the three tokens')
    t.equal((await tokens.claimRefreshToken('new-3', refresh('new-3'))).status, 'revoked')
  })

  t.test('claimRefreshToken with a successor: an unknown jti passes the fallback\'s user and family on', async (t) => {
    const { tokens } = await open(t)
    const fallback = refresh('elsewhere', { userId: 8, family: 'fam-8' })
    const expiresAt = new Date(Date.now() + 2 * HOUR)
    t.equal((await tokens.claimRefreshToken('elsewhere', fallback, { jti: 'next', expiresAt })).status, 'claimed')
    t.same(await tokens.findRefreshToken('next'), { jti: 'next', userId: 8, family: 'fam-8', expiresAt, usedAt: null, revokedAt: null })
    t.equal(await tokens.revokeUserRefreshTokens(8), 2, "the user's tokens include the successor")
  })

  t.test('claimRefreshToken with a successor: a revoked token records none', async (t) => {
    const { tokens } = await open(t)
    const record = refresh('gone')
    await tokens.saveRefreshToken(record)
    await tokens.revokeRefreshToken('gone', record)
    t.equal((await tokens.claimRefreshToken('gone', record, { jti: 'heir', expiresAt: new Date(Date.now() + HOUR) })).status, 'revoked')
    t.equal(await tokens.findRefreshToken('heir'), null)
  })

  // Regression: claim and successor were two store calls, so a failure between them left the old token
  // used and no successor, and the client's retry looked like reuse. Here the successor cannot be
  // recorded (its jti is taken): the claim fails and changes nothing.
  t.test('claimRefreshToken with a successor that cannot be recorded leaves the token unclaimed', async (t) => {
    const { tokens } = await open(t)
    const expiresAt = new Date(Date.now() + HOUR)
    const old = refresh('old', { userId: 1, family: 'old' })
    await tokens.saveRefreshToken(old)
    await tokens.saveRefreshToken(refresh('taken', { userId: 2, family: 'taken' }))
    await t.rejects(tokens.claimRefreshToken('old', old, { jti: 'taken', expiresAt }))
    t.equal((await tokens.findRefreshToken('old'))?.usedAt, null, 'the old token is not used')
    t.match(await tokens.findRefreshToken('taken'), { userId: 2, family: 'taken' }, 'the other record is untouched')
    await t.rejects(tokens.claimRefreshToken('unknown', refresh('unknown'), { jti: 'taken', expiresAt }))
    t.equal(await tokens.findRefreshToken('unknown'), null, 'an unknown token is not recorded either')
    t.equal((await tokens.claimRefreshToken('old', old, { jti: 'heir', expiresAt })).status, 'claimed', 'the retry rotates')
    t.match(await tokens.findRefreshToken('heir'), { userId: 1, family: 'old', usedAt: null })
    // A token that cannot be claimed anyway answers why, whatever its successor.
    t.equal((await tokens.claimRefreshToken('old', old, { jti: 'taken', expiresAt })).status, 'used')
  })

  t.test('claimRefreshToken with a successor: 50 concurrent claims record exactly one successor', async (t) => {
    const { tokens } = await open(t)
    const record = refresh('contested', { family: 'fam-c' })
    await tokens.saveRefreshToken(record)
    const expiresAt = new Date(Date.now() + HOUR)
    const claims = await Promise.all(Array.from({ length: 50 }, async (_, i) =>
      await tokens.claimRefreshToken('contested', record, { jti: `heir-${i}`, expiresAt })))
    const winners = claims.flatMap((c, i) => (c.status === 'claimed' ? [i] : []))
    t.equal(winners.length, 1, 'one claimed')
    const recorded = (await Promise.all(claims.map(async (_, i) => await tokens.findRefreshToken(`heir-${i}`))))
      .flatMap((r, i) => (r === null ? [] : [i]))
    t.same(recorded, winners, "only the winner's successor is recorded")
  })

  t.test('revokeRefreshToken is idempotent and creates a missing record', async (t) => {
    const { tokens } = await open(t)
    const record = refresh('jti-1')
    await tokens.saveRefreshToken(record)
    const before = Date.now()
    await tokens.revokeRefreshToken('jti-1', record)
    const revokedAt = (await tokens.findRefreshToken('jti-1'))?.revokedAt?.getTime() ?? 0
    t.ok(revokedAt >= before && revokedAt <= Date.now(), 'revokedAt is now')
    await sleep(5)
    await tokens.revokeRefreshToken('jti-1', record)
    t.same(await tokens.findRefreshToken('jti-1'), { ...record, usedAt: null, revokedAt: new Date(revokedAt) },
      'a second revoke keeps the first revokedAt')

    const fallback = refresh('unknown', { userId: 4, family: 'fam-u' })
    await tokens.revokeRefreshToken('unknown', fallback)
    const created = await tokens.findRefreshToken('unknown')
    t.match(created, { jti: 'unknown', userId: 4, family: 'fam-u', usedAt: null })
    t.equal(created?.expiresAt.getTime(), fallback.expiresAt.getTime())
    t.ok(created?.revokedAt instanceof Date, 'created revoked')
    t.equal((await tokens.claimRefreshToken('unknown', fallback)).status, 'revoked')
  })

  t.test('revokeRefreshFamily counts only newly revoked tokens', async (t) => {
    const { tokens } = await open(t)
    for (const jti of ['a1', 'a2', 'a3']) await tokens.saveRefreshToken(refresh(jti, { family: 'A' }))
    await tokens.saveRefreshToken(refresh('b1', { family: 'B' }))
    await tokens.revokeRefreshToken('a1', refresh('a1', { family: 'A' }))
    await tokens.claimRefreshToken('a2', refresh('a2', { family: 'A' }))
    const a1RevokedAt = (await tokens.findRefreshToken('a1'))?.revokedAt?.getTime()
    await sleep(5)

    t.equal(await tokens.revokeRefreshFamily('A'), 2, 'a2 (used) and a3')
    for (const jti of ['a2', 'a3']) t.ok((await tokens.findRefreshToken(jti))?.revokedAt instanceof Date, `${jti} revoked`)
    t.equal((await tokens.findRefreshToken('a1'))?.revokedAt?.getTime(), a1RevokedAt, 'earlier revocation kept')
    t.equal((await tokens.findRefreshToken('b1'))?.revokedAt, null, 'other families untouched')
    t.equal(await tokens.revokeRefreshFamily('A'), 0, 'nothing left to revoke')
    t.equal(await tokens.revokeRefreshFamily('missing'), 0)
  })

  t.test('revokeUserRefreshTokens counts only newly revoked tokens', async (t) => {
    const { tokens } = await open(t)
    await tokens.saveRefreshToken(refresh('u1-a', { userId: 1, family: 'f1' }))
    await tokens.saveRefreshToken(refresh('u1-b', { userId: 1, family: 'f2' }))
    await tokens.saveRefreshToken(refresh('u1-c', { userId: 1, family: 'f3' }))
    await tokens.saveRefreshToken(refresh('u2-a', { userId: 2, family: 'f4' }))
    await tokens.revokeRefreshToken('u1-c', refresh('u1-c', { userId: 1, family: 'f3' }))

    t.equal(await tokens.revokeUserRefreshTokens(1), 2)
    t.equal((await tokens.claimRefreshToken('u1-a', refresh('u1-a'))).status, 'revoked')
    t.equal((await tokens.findRefreshToken('u2-a'))?.revokedAt, null, 'other users untouched')
    t.equal(await tokens.revokeUserRefreshTokens(1), 0)
    t.equal(await tokens.revokeUserRefreshTokens(99), 0)
  })

  t.test('revokeUserRefreshTokens spares the family it is told to keep (the session that changed the password)', async (t) => {
    const { tokens } = await open(t)
    await tokens.saveRefreshToken(refresh('kept-1', { userId: 1, family: 'kept' }))
    await tokens.claimRefreshToken('kept-1', refresh('kept-1', { userId: 1, family: 'kept' }), { jti: 'kept-2', expiresAt: new Date(Date.now() + HOUR) })
    await tokens.saveRefreshToken(refresh('other-1', { userId: 1, family: 'other' }))
    await tokens.saveRefreshToken(refresh('third-1', { userId: 1, family: 'third' }))
    await tokens.saveRefreshToken(refresh('bob-1', { userId: 2, family: 'kept' }))

    t.equal(await tokens.revokeUserRefreshTokens(1, 'kept'), 2, 'the two other families')
    for (const jti of ['other-1', 'third-1']) t.ok((await tokens.findRefreshToken(jti))?.revokedAt instanceof Date, `${jti} revoked`)
    t.equal((await tokens.findRefreshToken('kept-2'))?.revokedAt, null, 'the kept family\'s live token is not')
    t.equal((await tokens.findRefreshToken('kept-1'))?.revokedAt, null, 'nor its rotated-out one')
    t.equal((await tokens.claimRefreshToken('kept-2', refresh('kept-2'))).status, 'claimed', 'the kept family goes on rotating')
    t.equal((await tokens.findRefreshToken('bob-1'))?.revokedAt, null, 'another user\'s family of that name is untouched')
    t.equal(await tokens.revokeUserRefreshTokens(1, 'kept'), 0, 'nothing left to revoke but the kept family')
    t.equal(await tokens.revokeUserRefreshTokens(1), 2, 'without the exception, the kept family goes too (kept-1 and its successor)')
    t.equal(await tokens.revokeUserRefreshTokens(1, 'missing'), 0)
  })

  t.test('family and user revocations reach records created by claim and revoke fallbacks', async (t) => {
    const { tokens } = await open(t)
    await tokens.saveRefreshToken(refresh('saved', { userId: 5, family: 'F' }))
    await tokens.claimRefreshToken('claimed', refresh('claimed', { userId: 5, family: 'F' }))
    await tokens.revokeRefreshToken('revoked', refresh('revoked', { userId: 5, family: 'F' }))
    await tokens.claimRefreshToken('other', refresh('other', { userId: 5, family: 'G' }))
    t.equal(await tokens.revokeRefreshFamily('F'), 2, 'saved and claimed (revoked already was)')
    t.equal((await tokens.findRefreshToken('other'))?.revokedAt, null, 'family G untouched')
    t.equal(await tokens.revokeUserRefreshTokens(5), 1, 'then the user\'s last one, in family G')
    for (const jti of ['saved', 'claimed', 'revoked', 'other']) {
      t.equal((await tokens.claimRefreshToken(jti, refresh(jti))).status, 'revoked', `${jti} is revoked`)
    }
  })

  t.test('auth tokens: save, find, delete', async (t) => {
    const { tokens } = await open(t)
    const createdAt = new Date('2024-03-04T05:06:07.089Z')
    const a = { hash: 'a'.repeat(64), userId: 1, createdAt }
    await tokens.saveAuthToken(a)
    await tokens.saveAuthToken({ hash: 'b'.repeat(64), userId: 1, createdAt })
    await tokens.saveAuthToken({ hash: 'c'.repeat(64), userId: 2, createdAt })

    const found = await tokens.findAuthToken(a.hash)
    t.same(found, { ...a, lastUsedAt: null }, 'as saved; no session record, so no last use')
    t.equal(found?.createdAt.getTime(), createdAt.getTime(), 'createdAt keeps milliseconds')
    found?.createdAt.setTime(0)
    createdAt.setTime(0)
    t.equal((await tokens.findAuthToken(a.hash))?.createdAt.getTime(), Date.parse('2024-03-04T05:06:07.089Z'),
      'records are stored and returned as copies')
    t.equal(await tokens.findAuthToken('f'.repeat(64)), null)

    t.equal(await tokens.deleteAuthToken(a.hash), true)
    t.equal(await tokens.deleteAuthToken(a.hash), false)
    t.equal(await tokens.findAuthToken(a.hash), null)

    await tokens.saveAuthToken({ hash: 'd'.repeat(64), userId: 1, createdAt: new Date() })
    t.equal(await tokens.deleteUserAuthTokens(1), 2)
    t.equal(await tokens.findAuthToken('b'.repeat(64)), null)
    t.equal(await tokens.deleteUserAuthTokens(1), 0)
    t.equal((await tokens.findAuthToken('c'.repeat(64)))?.userId, 2, 'other users untouched')
  })

  t.test('deleteUserAuthTokens spares the token it is told to keep (the session that changed the password)', async (t) => {
    const { tokens } = await open(t)
    const createdAt = new Date('2024-03-04T05:06:07.089Z')
    for (const hash of ['1', '2', '3'].map((c) => c.repeat(64))) await tokens.saveAuthToken({ hash, userId: 1, createdAt })
    await tokens.saveAuthToken({ hash: '4'.repeat(64), userId: 2, createdAt })
    t.equal(await tokens.deleteUserAuthTokens(1, '2'.repeat(64)), 2, 'the two others')
    t.equal(await tokens.findAuthToken('1'.repeat(64)), null)
    t.equal(await tokens.findAuthToken('3'.repeat(64)), null)
    t.same(await tokens.findAuthToken('2'.repeat(64)), { hash: '2'.repeat(64), userId: 1, createdAt, lastUsedAt: null }, 'the kept one stays')
    t.equal(await tokens.deleteUserAuthTokens(1, '2'.repeat(64)), 0, 'and stays again')
    t.equal(await tokens.deleteUserAuthTokens(1, '4'.repeat(64)), 1, 'another user\'s hash spares nothing of this user')
    t.equal(await tokens.findAuthToken('2'.repeat(64)), null)
    t.equal((await tokens.findAuthToken('4'.repeat(64)))?.userId, 2, 'nor is it deleted')
    await tokens.saveAuthToken({ hash: '5'.repeat(64), userId: 1, createdAt })
    t.equal(await tokens.deleteUserAuthTokens(1), 1, 'tokens saved afterwards are found by the user again')
  })

  t.test('purgeExpired removes only refresh records that expired before now', async (t) => {
    const { tokens } = await open(t)
    const now = new Date('2030-06-01T00:00:00.500Z')
    await tokens.saveRefreshToken(refresh('old', { expiresAt: new Date(now.getTime() - HOUR) }))
    await tokens.saveRefreshToken(refresh('just-expired', { expiresAt: new Date(now.getTime() - 1) }))
    await tokens.revokeRefreshToken('old-revoked', refresh('old-revoked', { expiresAt: new Date(now.getTime() - 2) }))
    await tokens.saveRefreshToken(refresh('at-now', { expiresAt: new Date(now.getTime()) }))
    await tokens.saveRefreshToken(refresh('live', { expiresAt: new Date(now.getTime() + HOUR) }))
    await tokens.saveAuthToken({ hash: 'a'.repeat(64), userId: 1, createdAt: new Date(0) })

    t.equal(await tokens.purgeExpired(now), 3)
    for (const jti of ['old', 'just-expired', 'old-revoked']) t.equal(await tokens.findRefreshToken(jti), null, `${jti} purged`)
    for (const jti of ['at-now', 'live']) t.not(await tokens.findRefreshToken(jti), null, `${jti} kept`)
    t.not(await tokens.findAuthToken('a'.repeat(64)), null, 'auth tokens untouched')
    t.equal(await tokens.purgeExpired(now), 0)
  })
}
