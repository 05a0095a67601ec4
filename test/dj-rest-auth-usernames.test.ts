import t, { type Test } from 'tap'
import type { TokenStore, UserStore } from '../lib/ports.js'
import { createPostgresStores } from '../lib/stores/postgres.js'
import { createSqliteStores } from '../lib/stores/sqlite.js'
import { fastHasher } from './helpers/app.js'
import { buildDjRestAuthApp, dra, json, login, PASSWORD, registered, tokenKey, type DjTestApp } from './helpers/dj-rest-auth.js'
import { buildInstance, PG_URL, serviceTest, testSchema } from './helpers/services.js'
import { assertFieldErrors } from './helpers/users.js'

/**
 * Issue 16: what dj-rest-auth 4 (with allauth) answers about usernames and registration passwords.
 * - allauth looks usernames up ignoring letter case (filter_users_by_username), at registration and login;
 *   djoser (Django's ModelBackend) stays exact, also on the same user table.
 * - RegisterSerializer runs the password validators again with the would-be user in save(): what fails only
 *   then is non_field_errors.
 * - dj-rest-auth's PUT user/ refuses the caller's own unchanged username (its issue 187): ours answers 200.
 */

const TAKEN = 'A user with that username already exists.'
const BAD_CREDENTIALS = 'Unable to log in with provided credentials.'
const token = (key: string): Record<string, string> => ({ authorization: `Token ${key}` })

async function withAlice (dj: Parameters<typeof buildDjRestAuthApp>[0] = {}): Promise<DjTestApp> {
  const a = await buildDjRestAuthApp({ emailVerification: 'none', ...dj })
  await registered(a)
  return a
}

const registration = (username: string, email = `${username.toLowerCase()}-${Math.random().toString(36).slice(2, 8)}@example.com`, password = PASSWORD, password2 = password) =>
  ({ username, email, password1: password, password2 })

let djoserUsers = 0

/** djoser's own registration, under /djoser in these apps (the core's routes on the same stores). */
async function djoserRegister (a: DjTestApp, username: string, password = PASSWORD) {
  return a.app.inject({ method: 'POST', url: '/djoser/users/', payload: { username, email: `djoser-${++djoserUsers}@example.com`, password } })
}

// ---- usernames ignore letter case --------------------------------------------------------------------------

t.test('registration/: a username taken in another letter case is 400 {username}', async t => {
  const a = await withAlice()
  for (const username of ['alice', 'ALICE', 'Alice', 'aLiCe']) {
    const res = await dra(a, 'POST', '/registration/', registration(username))
    assertFieldErrors(t, res, ['username'])
    t.same(json(res), { username: [TAKEN] }, `${username}: Django's unique message, which allauth shows`)
  }
  t.same((await a.users.listUsers()).map((u) => u.username), ['alice'], 'nothing was added')
  t.equal((await dra(a, 'POST', '/registration/', registration('alicia'))).statusCode, 201, 'a different name is free')
})

t.test('login/: the username in any letter case finds the account, stored as typed', async t => {
  const a = await withAlice()
  for (const username of ['alice', 'Alice', 'ALICE']) {
    const res = await login(a, { username, password: PASSWORD })
    t.equal(res.statusCode, 200, `${username} logs in`)
    const me = await dra(a, 'GET', '/user/', undefined, token((json(res) as { key: string }).key))
    t.match(json(me), { pk: 1, username: 'alice' }, `${username}: the account is alice`)
  }
  const wrong = await login(a, { username: 'ALICE', password: 'wrong-password' })
  t.same([wrong.statusCode, json(wrong)], [400, { non_field_errors: [BAD_CREDENTIALS] }], 'a wrong password is still wrong')

  t.test('with authenticationMethod "username" too, and with JWTs (the user as stored)', async t => {
    const b = await withAlice({ authenticationMethod: 'username', useJwt: true, jwtAuthHttpOnly: false })
    const res = await login(b, { username: 'ALICE', password: PASSWORD })
    t.equal(res.statusCode, 200)
    t.match(json(res), { user: { pk: 1, username: 'alice' } })
  })

  t.test('a user whose name is mixed-case is found in lower case', async t => {
    const c = await buildDjRestAuthApp({ emailVerification: 'none' })
    await registered(c, 'MixedCase', 'mixed@example.com')
    t.equal((await login(c, { username: 'mixedcase', password: PASSWORD })).statusCode, 200)
    t.equal((await login(c, { username: 'MIXEDCASE', password: PASSWORD })).statusCode, 200)
  })
})

// ---- user/ ---------------------------------------------------------------------------------------------------

t.test('dj-rest-auth issue 187: PUT user/ with the caller\'s own unchanged username is 200', async t => {
  const a = await withAlice()
  const key = await tokenKey(a)
  const res = await dra(a, 'PUT', '/user/', { username: 'alice', first_name: 'Alice', last_name: 'Liddell' }, token(key))
  t.equal(res.statusCode, 200, 'dj-rest-auth 4 answers 400 {username: ["A user with that username already exists."]} here')
  t.same(json(res), { pk: 1, username: 'alice', email: 'alice@example.com', first_name: 'Alice', last_name: 'Liddell' })
  t.equal((await dra(a, 'PATCH', '/user/', { username: 'alice' }, token(key))).statusCode, 200, 'PATCH too')
  t.equal((await dra(a, 'PUT', '/user/', { username: 'alice' }, token(key))).statusCode, 200, 'and again')
})

t.test('PUT user/: re-casing one\'s own username is allowed; another user\'s name in any case is 400 {username}', async t => {
  const a = await withAlice()
  await registered(a, 'bob')
  const key = await tokenKey(a)
  const recased = await dra(a, 'PUT', '/user/', { username: 'Alice' }, token(key))
  t.equal(recased.statusCode, 200)
  t.match(json(recased), { pk: 1, username: 'Alice' })
  t.equal((await login(a, { username: 'alice', password: PASSWORD })).statusCode, 200, 'and it still logs in as alice')
  for (const username of ['bob', 'BOB', 'Bob']) {
    const res = await dra(a, 'PATCH', '/user/', { username }, token(key))
    t.same([res.statusCode, json(res)], [400, { username: [TAKEN] }], username)
  }
  t.equal((await a.users.findUserById(1))?.username, 'Alice', 'unchanged by the refused ones')
})

// ---- side by side with djoser --------------------------------------------------------------------------------

t.test('beside djoser on one user table: djoser keeps letter case apart, dj-rest-auth refuses an ambiguous login', async t => {
  const a = await withAlice()
  const djoser = await djoserRegister(a, 'Alice', 'another-long-passphrase-42')
  t.equal(djoser.statusCode, 201, 'djoser (Django\'s username field) registers Alice beside alice')
  const upperId = (json(djoser) as { id: number }).id
  const failures: Array<{ login: string, reason: string }> = []
  a.app.accounts.events.on('login.failed', ({ login, reason }) => { failures.push({ login, reason }) })

  const as = async (username: string, password: string): Promise<number | null> => {
    const res = await login(a, { username, password })
    if (res.statusCode !== 200) {
      t.same([res.statusCode, json(res)], [400, { non_field_errors: [BAD_CREDENTIALS] }], `${username}: the usual 400`)
      return null
    }
    const me = await dra(a, 'GET', '/user/', undefined, token((json(res) as { key: string }).key))
    return (json(me) as { pk: number }).pk
  }
  t.equal(await as('alice', PASSWORD), 1, 'the exact name logs into its own account')
  t.equal(await as('Alice', 'another-long-passphrase-42'), upperId, 'so does the other exact name')
  t.equal(await as('alice', 'another-long-passphrase-42'), null, 'an exact name never falls through to the other account')
  t.equal(await as('Alice', PASSWORD), null, 'either way')
  t.equal(await as('ALICE', PASSWORD), null, 'a name matching both in another case is refused, whatever the password')
  t.equal(await as('ALICE', 'another-long-passphrase-42'), null)
  t.same(failures.slice(-2), [{ login: 'ALICE', reason: 'unknown-user' }, { login: 'ALICE', reason: 'unknown-user' }],
    'an ambiguous login names no account')

  t.same(json(await dra(a, 'POST', '/registration/', registration('aLICE'))), { username: [TAKEN] }, 'dj-rest-auth registers neither case again')
  const key = await tokenKey(a)
  t.same(json(await dra(a, 'PATCH', '/user/', { username: 'ALICE' }, token(key))), { username: [TAKEN] },
    'alice cannot re-case herself onto a name Alice holds in another case')
  t.equal((await dra(a, 'PATCH', '/user/', { username: 'alice', first_name: 'A' }, token(key))).statusCode, 200, 'her own exact name stays hers')

  const djoserLogin = await a.app.inject({ method: 'POST', url: '/djoser/jwt/create/', payload: { username: 'ALICE', password: PASSWORD } })
  t.equal(djoserLogin.statusCode, 401, 'djoser logins stay exact')
  t.equal((await a.app.inject({ method: 'POST', url: '/djoser/jwt/create/', payload: { username: 'alice', password: PASSWORD } })).statusCode, 200)
  t.equal((await djoserRegister(a, 'ALICE')).statusCode, 201, 'djoser registration stays exact')
})

// ---- password validators that need the user ------------------------------------------------------------------

t.test('registration/: the password validators', async t => {
  t.test('too similar to the username or email: 400 {non_field_errors}, as RegisterSerializer.save() reports them', async t => {
    const a = await buildDjRestAuthApp({ emailVerification: 'none' })
    const byName = await dra(a, 'POST', '/registration/', registration('alexandria', 'someone@example.com', 'alexandria7'))
    t.same([byName.statusCode, json(byName)], [400, { non_field_errors: ['The password is too close to your username.'] }])
    const byEmail = await dra(a, 'POST', '/registration/', registration('zed', 'quintessential@example.com', 'quintessential9'))
    t.same([byEmail.statusCode, json(byEmail)], [400, { non_field_errors: ['The password is too close to your email address.'] }])
    t.same(await a.users.listUsers(), [], 'nobody was registered')
  })

  t.test('too short, too common or numeric: 400 {password1}, without the similarity (there is no user yet)', async t => {
    const a = await buildDjRestAuthApp({ emailVerification: 'none' })
    const short = await dra(a, 'POST', '/registration/', registration('alice', 'alice@example.com', 'q7#xv'))
    t.same([short.statusCode, json(short)], [400, { password1: ['The password is too short: it must be at least 8 characters long.'] }])
    const common = await dra(a, 'POST', '/registration/', registration('alice', 'alice@example.com', 'password'))
    t.same([common.statusCode, json(common)], [400, { password1: ['The password is one of the most commonly used passwords.'] }])
    const numeric = await dra(a, 'POST', '/registration/', registration('alice', 'alice@example.com', '8301946275'))
    t.same([numeric.statusCode, json(numeric)], [400, { password1: ['The password consists only of digits.'] }])
    t.same(await a.users.listUsers(), [])
  })

  t.test('field errors together, then the retype, then the validators that need the user', async t => {
    const a = await withAlice()
    const fields = await dra(a, 'POST', '/registration/', registration('ALICE', 'nope', 'q7#xv'))
    t.same([fields.statusCode, json(fields)], [400, {
      username: [TAKEN],
      email: ['Enter a valid email address.'],
      password1: ['The password is too short: it must be at least 8 characters long.']
    }], 'username, email and password1 in one answer, as DRF validates fields')
    const mismatch = await dra(a, 'POST', '/registration/', registration('alexandria', 'someone@example.com', 'alexandria7', 'alexandria8'))
    t.same(json(mismatch), { non_field_errors: ["The two password fields didn't match."] }, 'the retype before save()')
    t.equal((await a.users.listUsers()).length, 1)
  })

  t.test('djoser\'s registration beside it is unchanged: the similarity is a {password} error', async t => {
    const a = await buildDjRestAuthApp({ emailVerification: 'none' })
    const res = await a.app.inject({ method: 'POST', url: '/djoser/users/', payload: { username: 'alexandria', email: 'someone@example.com', password: 'alexandria7' } })
    t.same([res.statusCode, json(res)], [400, { password: ['The password is too close to your username.'] }])
  })
})

// ---- on the SQL stores -------------------------------------------------------------------------------------

async function onSqlStore (t: Test, store: { users: UserStore, tokens: TokenStore }): Promise<void> {
  const a = await buildInstance(t, store, { dialect: 'dj-rest-auth', djRestAuth: { emailVerification: 'none' } })
  const register = async (username: string, email: string) =>
    await a.post('/registration/', { username, email, password1: PASSWORD, password2: PASSWORD })
  t.equal((await register('alice', 'alice@example.com')).statusCode, 201)
  t.same(json(await register('ALICE', 'other@example.com')), { username: [TAKEN] })
  const loginAs = async (username: string, password = PASSWORD) => (await a.post('/login/', { username, password })).statusCode
  t.equal(await loginAs('ALICE'), 200, 'found in another case')
  // As djoser would register it, on the same table.
  await store.users.createUser({ username: 'Alice', email: 'upper@example.com', password: await fastHasher.hash('another-long-passphrase-42'), isActive: true })
  t.equal(await loginAs('alice'), 200, 'exact')
  t.equal(await loginAs('Alice', 'another-long-passphrase-42'), 200, 'exact')
  t.equal(await loginAs('ALICE'), 400, 'ambiguous: refused')
}

t.test('on the SQL stores', async t => {
  t.test('sqlite', async t => {
    const stores = await createSqliteStores(':memory:')
    t.teardown(stores.close)
    await onSqlStore(t, stores)
  })
  await serviceTest(t, 'postgres', ['postgres'], async t => {
    const stores = await createPostgresStores(PG_URL, { schema: testSchema(t) })
    t.teardown(stores.close)
    await onSqlStore(t, stores)
  })
})
