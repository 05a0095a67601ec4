import { DuplicateUserError } from '../ports.js'
import type { NewRefreshToken, NewUser, TokenStore, UserStore } from '../ports.js'
import type { ContractTest } from './contract-test.js'
import { sessionContract } from './session-contract.js'

export type { AssertionMessage, ContractTest } from './contract-test.js'

/** What the contract's factory returns: a fresh, empty pair of stores, and how to dispose of them. */
export interface ContractStores {
  users: UserStore
  tokens: TokenStore
  close (): Promise<void>
}

const HOUR = 3_600_000
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

const newUser = (name: string, extra: Partial<NewUser> = {}): NewUser => ({
  username: name, email: `${name}@example.com`, password: `pbkdf2_sha256$1$salt$${name}`, isActive: true, ...extra
})

const refresh = (jti: string, extra: Partial<NewRefreshToken> = {}): NewRefreshToken => ({
  jti, userId: 1, family: jti, expiresAt: new Date(Date.now() + HOUR), ...extra
})

async function rejectsDuplicate (t: ContractTest, promise: Promise<unknown>, field: 'username' | 'email'): Promise<void> {
  const err = await promise.then(() => null, (e: unknown) => e)
  t.ok(err instanceof DuplicateUserError, `rejects with DuplicateUserError (${field})`)
  t.equal(err instanceof DuplicateUserError ? err.field : undefined, field, 'names the field')
}

/**
 * The behaviour every UserStore/TokenStore adapter must share. `factory` must return fresh, empty stores
 * on every call; each subtest opens its own and closes it at teardown.
 */
export function storeContract (t: ContractTest, name: string, factory: () => Promise<ContractStores>): void {
  const open = async (t: ContractTest): Promise<ContractStores> => {
    const stores = await factory()
    t.teardown(async () => { await stores.close() })
    return stores
  }

  t.test(`${name} store contract`, async (t) => {
    t.test('createUser stores every field and numbers ids from 1', async (t) => {
      const { users } = await open(t)
      t.same(await users.listUsers(), [], 'starts empty')
      const before = Date.now()
      const alice = await users.createUser(newUser('alice'))
      const after = Date.now()
      t.match(alice, {
        id: 1,
        username: 'alice',
        email: 'alice@example.com',
        password: 'pbkdf2_sha256$1$salt$alice',
        isActive: true,
        isStaff: false,
        isSuperuser: false,
        lastLogin: null,
        sessionsValidAfter: null,
        keptSession: null
      })
      t.ok(alice.dateJoined instanceof Date, 'dateJoined is a Date')
      t.ok(alice.dateJoined.getTime() >= before && alice.dateJoined.getTime() <= after, 'dateJoined is now')

      const root = await users.createUser(newUser('root', { isActive: false, isStaff: true, isSuperuser: true, password: '' }))
      t.equal(root.id, 2)
      t.match(root, { isActive: false, isStaff: true, isSuperuser: true, password: '' })
      t.same(await users.findUserById(2), root, 'reads back what it returned')
    })

    t.test('names default to empty and round-trip; a patch changes them', async (t) => {
      const { users } = await open(t)
      const plain = await users.createUser(newUser('plain'))
      t.match(plain, { firstName: '', lastName: '' })
      const named = await users.createUser(newUser('named', { firstName: 'Ada', lastName: 'Lovelace' }))
      t.match(await users.findUserById(named.id), { firstName: 'Ada', lastName: 'Lovelace' })
      t.match(await users.updateUser(named.id, { lastName: 'King' }), { firstName: 'Ada', lastName: 'King' })
      t.match(await users.findUserByUsername('named'), { firstName: 'Ada', lastName: 'King' })
    })

    t.test('createUser keeps an explicit id, dates and last login; later ids continue after it', async (t) => {
      const { users } = await open(t)
      const joined = new Date('2019-03-04T05:06:07.891Z')
      const lastLogin = new Date('2024-01-02T03:04:05.678Z')
      const imported = await users.createUser(newUser('imported', { id: 42, dateJoined: joined, lastLogin }))
      t.equal(imported.id, 42)
      t.same(imported.dateJoined, joined)
      t.same(imported.lastLogin, lastLogin)
      t.same(await users.findUserById(42), imported)
      const older = await users.createUser(newUser('older', { id: 7 }))
      t.equal(older.id, 7, 'a smaller explicit id is kept too')
      const next = await users.createUser(newUser('next'))
      t.equal(next.id, 43, 'the next generated id follows the largest')
      t.same((await users.listUsers()).map((u) => u.id), [7, 42, 43], 'listed by id')
      await t.rejects(users.createUser(newUser('clash', { id: 42 })), 'a taken id is refused')
      t.equal((await users.listUsers()).length, 3, 'and nothing was added')
    })

    t.test('ids are not reused after a delete', async (t) => {
      const { users } = await open(t)
      await users.createUser(newUser('a'))
      const b = await users.createUser(newUser('b'))
      t.equal(await users.deleteUser(b.id), true)
      t.equal((await users.createUser(newUser('c'))).id, 3)
    })

    t.test('createUser rejects a taken username (exact) or email (any case)', async (t) => {
      const { users } = await open(t)
      await users.createUser(newUser('alice'))
      await rejectsDuplicate(t, users.createUser(newUser('alice', { email: 'other@example.com' })), 'username')
      await rejectsDuplicate(t, users.createUser(newUser('alice2', { email: 'ALICE@Example.COM' })), 'email')
      const upper = await users.createUser(newUser('Alice', { email: 'upper@example.com' }))
      t.equal(upper.username, 'Alice', 'usernames differing only in case are distinct')
      t.same((await users.listUsers()).map((u) => u.username), ['alice', 'Alice'], 'failed creates left nothing')
    })

    t.test('lookups: email in any case, username exactly', async (t) => {
      const { users } = await open(t)
      const alice = await users.createUser(newUser('alice', { email: 'Alice@Example.com' }))
      t.same(await users.findUserById(alice.id), alice)
      t.equal(await users.findUserById(999), null)
      t.same(await users.findUserByUsername('alice'), alice)
      t.equal(await users.findUserByUsername('ALICE'), null, 'username lookup is case-sensitive')
      t.equal(await users.findUserByUsername('nobody'), null)
      t.same(await users.findUserByEmail('alice@example.com'), alice)
      t.same(await users.findUserByEmail('ALICE@EXAMPLE.COM'), alice)
      t.equal((await users.findUserByEmail('alice@example.com'))?.email, 'Alice@Example.com', 'keeps the email as given')
      t.equal(await users.findUserByEmail('nobody@example.com'), null)
    })

    t.test('findUsersByUsernameIgnoringCase: every user whose username matches in any letter case, by id', async (t) => {
      const { users } = await open(t)
      const alice = await users.createUser(newUser('alice'))
      const bob = await users.createUser(newUser('bob'))
      const upper = await users.createUser(newUser('Alice', { email: 'upper@example.com' }))
      t.same(await users.findUsersByUsernameIgnoringCase('alice'), [alice, upper], 'both, ordered by id, as stored')
      t.same(await users.findUsersByUsernameIgnoringCase('ALICE'), [alice, upper], 'in any letter case')
      t.same(await users.findUsersByUsernameIgnoringCase('aLiCe'), [alice, upper])
      t.same(await users.findUsersByUsernameIgnoringCase('BOB'), [bob], 'one match')
      t.same(await users.findUsersByUsernameIgnoringCase('nobody'), [], 'none')
      t.same(await users.findUsersByUsernameIgnoringCase(''), [], 'an empty name matches nobody')
      for (const pattern of ['alic', 'ALIC', 'al_ce', 'al%', '%', '_____', 'alice ', ' alice']) {
        t.same(await users.findUsersByUsernameIgnoringCase(pattern), [], `no partial or pattern match: ${JSON.stringify(pattern)}`)
      }
      const marks = await users.createUser(newUser('Mr.O_Neil+test@home-1', { email: 'marks@example.com' }))
      t.same(await users.findUsersByUsernameIgnoringCase('mr.o_neil+TEST@HOME-1'), [marks], 'the other username characters compare as themselves')
      t.same(await users.findUsersByUsernameIgnoringCase('mrXo_neil+test@home-1'), [], '. is no wildcard')
      t.equal(await users.findUserByUsername('ALICE'), null, 'the exact lookup stays case-sensitive')
    })

    t.test('findUsersByUsernameIgnoringCase follows renames and deletes', async (t) => {
      const { users } = await open(t)
      const alice = await users.createUser(newUser('alice'))
      const upper = await users.createUser(newUser('Alice', { email: 'upper@example.com' }))
      const renamed = await users.updateUser(upper.id, { username: 'ALICIA' })
      t.same(await users.findUsersByUsernameIgnoringCase('Alice'), [alice], 'the old name no longer matches')
      t.same(await users.findUsersByUsernameIgnoringCase('alicia'), [renamed], 'the new one does')
      const recased = await users.updateUser(alice.id, { username: 'ALICE' })
      t.same(await users.findUsersByUsernameIgnoringCase('alice'), [recased], 're-cased in place')
      t.same(await users.findUserByUsername('ALICE'), recased)
      t.equal(await users.findUserByUsername('alice'), null)
      t.equal(await users.deleteUser(alice.id), true)
      t.same(await users.findUsersByUsernameIgnoringCase('alice'), [], 'a deleted user no longer matches')
      t.same(await users.findUsersByUsernameIgnoringCase('Alicia'), [renamed], 'others stay')
      await rejectsDuplicate(t, users.createUser(newUser('ALICIA', { email: 'again@example.com' })), 'username')
      t.same(await users.findUsersByUsernameIgnoringCase('alicia'), [renamed], 'a refused create adds no match')
    })

    t.test('updateUser applies a patch and keeps lookups in step', async (t) => {
      const { users } = await open(t)
      const alice = await users.createUser(newUser('alice'))
      const bob = await users.createUser(newUser('bob'))
      const updated = await users.updateUser(alice.id, {
        username: 'alicia',
        email: 'Alicia@Example.com',
        password: 'new-hash',
        isActive: false,
        isStaff: true,
        isSuperuser: true
      })
      t.same(updated, {
        ...alice,
        username: 'alicia',
        email: 'Alicia@Example.com',
        password: 'new-hash',
        isActive: false,
        isStaff: true,
        isSuperuser: true
      })
      t.same(await users.findUserById(alice.id), updated, 'persisted')
      t.equal(await users.findUserByUsername('alice'), null, 'old username released')
      t.equal(await users.findUserByEmail('alice@example.com'), null, 'old email released')
      t.equal((await users.findUserByEmail('alicia@example.com'))?.id, alice.id)
      t.same(await users.findUserById(bob.id), bob, 'other users untouched')

      t.equal((await users.updateUser(alice.id, { email: 'ALICIA@example.com' }))?.email, 'ALICIA@example.com',
        'a user may re-case its own email')
      t.same(await users.updateUser(alice.id, { username: 'alicia' }), await users.findUserById(alice.id),
        'a user may keep its own username')
      t.same(await users.updateUser(alice.id, {}), await users.findUserById(alice.id), 'an empty patch returns the user')
      await users.createUser(newUser('alice'))
      t.pass('released username and email can be taken again')
    })

    t.test('updateUser rejects a taken username or email and changes nothing', async (t) => {
      const { users } = await open(t)
      await users.createUser(newUser('alice'))
      const bob = await users.createUser(newUser('bob'))
      await rejectsDuplicate(t, users.updateUser(bob.id, { username: 'alice' }), 'username')
      await rejectsDuplicate(t, users.updateUser(bob.id, { email: 'ALICE@example.com' }), 'email')
      await rejectsDuplicate(t, users.updateUser(bob.id, { email: 'alice@example.com', password: 'x' }), 'email')
      t.same(await users.findUserById(bob.id), bob)
    })

    t.test('updateUser with expectations', async (t) => {
      const { users } = await open(t)
      const alice = await users.createUser(newUser('alice'))
      const failing = [
        { username: 'someone-else' },
        { email: 'other@example.com' },
        { email: 'ALICE@example.com' }, // expectations compare exactly
        { password: 'stale-hash' },
        { isActive: false },
        { username: 'alice', password: 'stale-hash' }
      ]
      for (const expect of failing) {
        t.equal(await users.updateUser(alice.id, { password: 'changed', isActive: false }, expect), null,
          `fails on ${JSON.stringify(expect)}`)
        t.equal(await users.updateUser(alice.id, {}, expect), null, `empty patch fails on ${JSON.stringify(expect)}`)
      }
      t.same(await users.findUserById(alice.id), alice, 'failed expectations changed nothing')

      const updated = await users.updateUser(alice.id, { password: 'changed', isActive: false },
        { username: 'alice', email: 'alice@example.com', password: alice.password, isActive: true })
      t.match(updated, { password: 'changed', isActive: false })
      t.equal(await users.updateUser(alice.id, { password: 'again' }, { password: alice.password }), null,
        'the old value no longer matches')
      t.equal((await users.findUserById(alice.id))?.password, 'changed')
    })

    t.test('update or delete of a missing user', async (t) => {
      const { users } = await open(t)
      const alice = await users.createUser(newUser('alice'))
      t.equal(await users.updateUser(999, { password: 'x' }), null)
      t.equal(await users.updateUser(999, {}), null)
      t.equal(await users.updateUser(999, { username: 'alice' }), null, 'no duplicate error for a missing user')
      t.equal(await users.deleteUser(999), false)
      t.equal(await users.deleteUser(alice.id), true)
      t.equal(await users.deleteUser(alice.id), false, 'second delete finds nothing')
      t.equal(await users.findUserById(alice.id), null)
      t.equal(await users.findUserByUsername('alice'), null)
      t.equal(await users.findUserByEmail('alice@example.com'), null)
      t.equal(await users.updateUser(alice.id, { password: 'x' }), null)
    })

    t.test('listUsers is ordered by id', async (t) => {
      const { users } = await open(t)
      for (const name of ['zed', 'amy', 'mia', 'bob']) await users.createUser(newUser(name))
      await users.updateUser(1, { username: 'aaa' })
      await users.deleteUser(3)
      const list = await users.listUsers()
      t.same(list.map((u) => u.id), [1, 2, 4])
      t.same(list.map((u) => u.username), ['aaa', 'amy', 'bob'])
      t.same(list[0], await users.findUserById(1))
    })

    t.test('dates round-trip with millisecond precision', async (t) => {
      const { users } = await open(t)
      const alice = await users.createUser(newUser('alice'))
      t.equal(alice.lastLogin, null)
      const login = new Date('2024-02-29T12:34:56.789Z')
      const updated = await users.updateUser(alice.id, { lastLogin: login })
      t.ok(updated?.lastLogin instanceof Date, 'lastLogin is a Date')
      t.equal(updated?.lastLogin?.getTime(), login.getTime())
      const found = await users.findUserById(alice.id)
      t.equal(found?.lastLogin?.getTime(), login.getTime())
      t.equal(found?.dateJoined.getTime(), alice.dateJoined.getTime(), 'dateJoined unchanged')
      t.equal((await users.updateUser(alice.id, { password: 'x' }))?.lastLogin?.getTime(), login.getTime(),
        'a patch without lastLogin keeps it')
      t.equal((await users.updateUser(alice.id, { lastLogin: null }))?.lastLogin, null)
      t.equal((await users.findUserById(alice.id))?.lastLogin, null)
    })

    t.test('the sessions cut-off: none at first, set and cleared by a patch, kept by other patches, to the millisecond', async (t) => {
      const { users } = await open(t)
      const alice = await users.createUser(newUser('alice'))
      const bob = await users.createUser(newUser('bob'))
      t.equal(alice.sessionsValidAfter, null, 'a new user has no cut-off')
      t.equal(alice.keptSession, null, 'and spares no session')
      const cutoff = new Date('2024-02-29T12:34:56.789Z')
      const sid = '0190f3a2b4c57d6e8f90a1b2c3d4e5f6'
      const updated = await users.updateUser(alice.id, { password: 'new-hash', sessionsValidAfter: cutoff, keptSession: sid }, { password: alice.password })
      t.ok(updated?.sessionsValidAfter instanceof Date, 'sessionsValidAfter is a Date')
      t.equal(updated?.sessionsValidAfter?.getTime(), cutoff.getTime(), 'with its milliseconds')
      t.equal(updated?.keptSession, sid)
      cutoff.setTime(0)
      updated?.sessionsValidAfter?.setTime(1)
      for (const found of [await users.findUserById(alice.id), await users.findUserByUsername('alice'), await users.findUserByEmail('alice@example.com'),
        (await users.findUsersByUsernameIgnoringCase('alice'))[0], (await users.listUsers())[0]]) {
        t.equal(found?.sessionsValidAfter?.getTime(), Date.parse('2024-02-29T12:34:56.789Z'), 'every lookup reads it, stored and returned as copies')
        t.equal(found?.keptSession, sid, 'and the kept session')
      }
      const renamed = await users.updateUser(alice.id, { username: 'alicia', lastLogin: new Date() })
      t.equal(renamed?.sessionsValidAfter?.getTime(), Date.parse('2024-02-29T12:34:56.789Z'), 'a patch without them keeps them')
      t.equal(renamed?.keptSession, sid)
      const later = await users.updateUser(alice.id, { sessionsValidAfter: new Date('2025-01-01T00:00:00.001Z'), keptSession: null })
      t.equal(later?.sessionsValidAfter?.getTime(), Date.parse('2025-01-01T00:00:00.001Z'), 'a later cut-off replaces it')
      t.equal(later?.keptSession, null, 'sparing no session (a reset)')
      const hash = 'e'.repeat(64)
      t.equal((await users.updateUser(alice.id, { keptSession: hash }))?.keptSession, hash, 'an opaque key\'s hash as the kept session')
      const cleared = await users.updateUser(alice.id, { sessionsValidAfter: null, keptSession: null })
      t.equal(cleared?.sessionsValidAfter, null, 'null clears it')
      t.equal((await users.findUserById(alice.id))?.keptSession, null)
      t.same(await users.findUserById(bob.id), bob, 'other users untouched')
    })

    t.test('users are returned as copies', async (t) => {
      const { users } = await open(t)
      const input = newUser('alice')
      const created = await users.createUser(input)
      const snapshot = structuredClone(created)
      input.username = 'mutated-input'
      created.username = 'mutated'
      created.dateJoined.setTime(0)
      const found = await users.findUserById(created.id)
      t.same(found, snapshot)
      if (found !== null) {
        found.email = 'mutated@example.com'
        found.isStaff = true
      }
      const [listed] = await users.listUsers()
      listed.password = 'mutated'
      const login = new Date('2024-01-01T00:00:00.001Z')
      const updated = await users.updateUser(created.id, { lastLogin: login })
      login.setTime(0)
      updated?.lastLogin?.setTime(1)
      t.same(await users.findUserById(created.id), { ...snapshot, lastLogin: new Date('2024-01-01T00:00:00.001Z') })
      t.equal((await users.findUserById(created.id))?.lastLogin?.getTime(), Date.parse('2024-01-01T00:00:00.001Z'))
      t.equal(await users.findUserByUsername('mutated'), null)
    })

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

    sessionContract(t, open)
  })
}
