import { DuplicateUserError } from '../ports.js'
import type { NewUser, RefreshStandingReader, TokenStore, UserStore } from '../ports.js'
import type { ContractTest } from './contract-test.js'
import { sessionContract } from './session-contract.js'
import { tokenContract } from './token-contract.js'

export type { AssertionMessage, ContractTest } from './contract-test.js'

/** What the contract's factory returns: a fresh, empty pair of stores, and how to dispose of them. */
export interface ContractStores {
  users: UserStore
  tokens: TokenStore
  /** Where the stores have one (one database holding users and tokens): checked against what the two ports read. */
  refreshStanding?: RefreshStandingReader | undefined
  close (): Promise<void>
}

const newUser = (name: string, extra: Partial<NewUser> = {}): NewUser => ({
  username: name, email: `${name}@example.com`, password: `pbkdf2_sha256$1$salt$${name}`, isActive: true, ...extra
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

    t.test('findSessionCutoff (optional): the cut-off findUserById reads, or null for no user', async (t) => {
      const { users } = await open(t)
      if (users.findSessionCutoff === undefined) {
        t.pass(`${name} reads the cut-off with findUserById`)
        return
      }
      const alice = await users.createUser(newUser('alice'))
      t.same(await users.findSessionCutoff(alice.id), { sessionsValidAfter: null, keptSession: null }, 'none at first')
      const sid = '0190f3a2b4c57d6e8f90a1b2c3d4e5f6'
      await users.updateUser(alice.id, { sessionsValidAfter: new Date('2024-02-29T12:34:56.789Z'), keptSession: sid })
      const cutoff = await users.findSessionCutoff(alice.id)
      t.ok(cutoff?.sessionsValidAfter instanceof Date, 'a Date')
      t.equal(cutoff?.sessionsValidAfter?.getTime(), Date.parse('2024-02-29T12:34:56.789Z'), 'to the millisecond')
      t.equal(cutoff?.keptSession, sid, 'with the kept session')
      await users.updateUser(alice.id, { sessionsValidAfter: new Date('2025-01-01T00:00:00.001Z'), keptSession: null })
      t.same(await users.findSessionCutoff(alice.id), { sessionsValidAfter: new Date('2025-01-01T00:00:00.001Z'), keptSession: null }, 'a later one replaces it')
      t.equal(await users.findSessionCutoff(alice.id + 1000), null, 'no such user: null')
      await users.deleteUser(alice.id)
      t.equal(await users.findSessionCutoff(alice.id), null, 'a deleted user: null')
    })

    t.test('refreshStanding (optional): the blacklist findRefreshToken reads and the cut-off findUserById reads, in one', async (t) => {
      const { users, tokens, refreshStanding: standing } = await open(t)
      if (standing === undefined) {
        t.pass(`${name} has no refreshStanding: a refresh asks each store`)
        return
      }
      const alice = await users.createUser(newUser('alice'))
      const expiresAt = new Date(Date.now() + 3_600_000)
      const token = (jti: string) => ({ jti, userId: alice.id, family: 'fam', expiresAt })
      await tokens.saveRefreshToken(token('t1'))
      await tokens.saveRefreshToken(token('t2'))
      const none = { sessionsValidAfter: null, keptSession: null }
      t.same(await standing('t1', alice.id), { revoked: false, cutoff: none }, 'a recorded token, a user with no cut-off')
      t.same(await standing('never-recorded', alice.id), { revoked: false, cutoff: none }, 'a token with no record is not blacklisted')
      t.same(await standing('t1', alice.id + 1000), { revoked: false, cutoff: null }, 'no such user: no cut-off')
      t.same(await standing('never-recorded', alice.id + 1000), { revoked: false, cutoff: null }, 'neither: still one answer')
      await tokens.claimRefreshToken('t2', token('t2'))
      t.equal((await standing('t2', alice.id)).revoked, false, 'used by a rotation is not blacklisted (findRefreshToken: usedAt, no revokedAt)')
      await tokens.revokeRefreshToken('t1', token('t1'))
      t.equal((await standing('t1', alice.id)).revoked, true, 'blacklisted')
      t.equal((await standing('t1', alice.id + 1000)).revoked, true, 'blacklisted, whoever the token names')
      const sid = '0190f3a2b4c57d6e8f90a1b2c3d4e5f6'
      await users.updateUser(alice.id, { sessionsValidAfter: new Date('2024-02-29T12:34:56.789Z'), keptSession: sid })
      const { cutoff } = await standing('t2', alice.id)
      t.equal(cutoff?.sessionsValidAfter?.getTime(), Date.parse('2024-02-29T12:34:56.789Z'), 'the cut-off, to the millisecond')
      t.equal(cutoff?.keptSession, sid, 'with the kept session')
      t.same(cutoff, { sessionsValidAfter: (await users.findUserById(alice.id))?.sessionsValidAfter, keptSession: sid }, 'as findUserById reads it')
      await tokens.revokeRefreshFamily('fam')
      t.equal((await standing('t2', alice.id)).revoked, true, 'a revoked family')
      await users.deleteUser(alice.id)
      t.equal((await standing('t2', alice.id)).cutoff, null, 'a deleted user: no cut-off')
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

    tokenContract(t, open)
    sessionContract(t, open)
  })
}
