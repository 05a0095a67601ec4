import t, { type Test } from 'tap'
import { linkFrom } from './helpers/app.js'
import { buildDjRestAuthApp, dra, json, keyFrom, login, PASSWORD, registered, tokenKey, type DjTestApp } from './helpers/dj-rest-auth.js'
import { assertDetail, assertFieldErrors } from './helpers/users.js'

/** dj-rest-auth in token mode (USE_JWT False, the default), with mandatory email verification (the default here). */

const ALICE = { pk: 1, username: 'alice', email: 'alice@example.com', first_name: '', last_name: '' }
const token = (key: string): Record<string, string> => ({ authorization: `Token ${key}` })

async function withAlice (dj: Parameters<typeof buildDjRestAuthApp>[0] = {}, build: Parameters<typeof buildDjRestAuthApp>[1] = {}): Promise<DjTestApp> {
  const a = await buildDjRestAuthApp(dj, build)
  await registered(a)
  a.mailer.clear()
  return a
}

function nonFieldErrors (tt: Test, res: Awaited<ReturnType<typeof login>>, message: string): void {
  const body = assertFieldErrors(tt, res, ['non_field_errors'])
  tt.same(body.non_field_errors, [message])
}

// ---- registration ------------------------------------------------------------------------------------------

t.test('registration/ with mandatory verification', async t => {
  t.test('201 {detail: "Verification e-mail sent."}, an inactive user, a mail with the key', async t => {
    const a = await buildDjRestAuthApp()
    const res = await dra(a, 'POST', '/registration/', { username: 'alice', email: 'alice@example.com', password1: PASSWORD, password2: PASSWORD })
    t.equal(res.statusCode, 201)
    t.same(json(res), { detail: 'Verification e-mail sent.' })
    t.equal((await a.users.findUserByUsername('alice'))?.isActive, false)
    t.equal(a.mailer.outbox.length, 1)
    t.match(a.mailer.last('alice@example.com')?.text, /^http:\/\/localhost:3000\/#\/verify-email\/MQ:[0-9a-z]+-[0-9a-f]+$/m)
  })

  t.test('before verification, login is refused like bad credentials', async t => {
    const a = await buildDjRestAuthApp()
    await dra(a, 'POST', '/registration/', { username: 'alice', email: 'alice@example.com', password1: PASSWORD, password2: PASSWORD })
    nonFieldErrors(t, await login(a), 'Unable to log in with provided credentials.')
  })

  t.test('verify-email/ {key} → 200 {detail: "ok"}, then login works', async t => {
    const a = await buildDjRestAuthApp()
    await dra(a, 'POST', '/registration/', { username: 'alice', email: 'alice@example.com', password1: PASSWORD, password2: PASSWORD })
    const key = keyFrom(a.mailer, 'alice@example.com')
    const res = await dra(a, 'POST', '/registration/verify-email/', { key })
    t.equal(res.statusCode, 200)
    t.same(json(res), { detail: 'ok' })
    t.equal((await a.users.findUserByUsername('alice'))?.isActive, true)
    const logged = await login(a)
    t.equal(logged.statusCode, 200)
    t.match(json(logged), { key: /^[0-9a-f]{40}$/ })
  })

  t.test('verify-email/: a used, unknown or malformed key is 404 {detail}', async t => {
    const a = await buildDjRestAuthApp()
    await dra(a, 'POST', '/registration/', { username: 'alice', email: 'alice@example.com', password1: PASSWORD, password2: PASSWORD })
    const key = keyFrom(a.mailer, 'alice@example.com')
    t.equal((await dra(a, 'POST', '/registration/verify-email/', { key })).statusCode, 200)
    assertDetail(t, await dra(a, 'POST', '/registration/verify-email/', { key }), 404)
    for (const bad of ['nonsense', ':abc', 'MQ:', 'OTk:' + key.split(':')[1], 'MQ:0-0000000000000000000000000000000000000000', key.replace(/.$/, (c) => c === '0' ? '1' : '0')]) {
      const res = await dra(a, 'POST', '/registration/verify-email/', { key: bad })
      assertDetail(t, res, 404)
      t.same(json(res), { detail: 'Not found.' })
    }
  })

  t.test('verify-email/ without key is 400 {key}', async t => {
    const a = await buildDjRestAuthApp()
    assertFieldErrors(t, await dra(a, 'POST', '/registration/verify-email/', {}), ['key'])
  })

  t.test('resend-email/ mails a new key to an unverified address; 200 {detail: "ok"} for any address', async t => {
    const a = await buildDjRestAuthApp()
    await dra(a, 'POST', '/registration/', { username: 'alice', email: 'alice@example.com', password1: PASSWORD, password2: PASSWORD })
    a.mailer.clear()
    const res = await dra(a, 'POST', '/registration/resend-email/', { email: 'alice@example.com' })
    t.equal(res.statusCode, 200)
    t.same(json(res), { detail: 'ok' })
    t.equal(a.mailer.outbox.length, 1)
    const key = keyFrom(a.mailer, 'alice@example.com')
    t.equal((await dra(a, 'POST', '/registration/verify-email/', { key })).statusCode, 200)

    a.mailer.clear()
    for (const email of ['alice@example.com', 'nobody@example.com']) {
      const again = await dra(a, 'POST', '/registration/resend-email/', { email })
      t.equal(again.statusCode, 200, `${email}: no enumeration`)
      t.same(json(again), { detail: 'ok' })
    }
    t.equal(a.mailer.outbox.length, 0, 'nothing to resend once verified, nor to an unknown address')
  })

  t.test('resend-email/: a bad or missing email is 400 {email}', async t => {
    const a = await buildDjRestAuthApp()
    assertFieldErrors(t, await dra(a, 'POST', '/registration/resend-email/', { email: 'not-an-email' }), ['email'])
    assertFieldErrors(t, await dra(a, 'POST', '/registration/resend-email/', {}), ['email'])
  })
})

t.test('registration/ without verification', async t => {
  for (const emailVerification of ['none', 'optional'] as const) {
    t.test(`${emailVerification}: 201 {key}, an active user, the key authenticates`, async t => {
      const a = await buildDjRestAuthApp({ emailVerification })
      const res = await dra(a, 'POST', '/registration/', { username: 'alice', email: 'alice@example.com', password1: PASSWORD, password2: PASSWORD })
      t.equal(res.statusCode, 201)
      t.same(Object.keys(json(res) as object), ['key'])
      const key = (json(res) as { key: string }).key
      t.match(key, /^[0-9a-f]{40}$/)
      t.equal((await a.users.findUserByUsername('alice'))?.isActive, true)
      t.equal(a.mailer.outbox.length, 0, 'no verification mail')
      const me = await dra(a, 'GET', '/user/', undefined, token(key))
      t.equal(me.statusCode, 200)
      t.same(json(me), ALICE)
    })
  }
})

t.test('registration/ failures', async t => {
  const body = { username: 'alice', email: 'alice@example.com', password1: PASSWORD, password2: PASSWORD }

  t.test('password1 ≠ password2: 400 {non_field_errors}', async t => {
    const a = await buildDjRestAuthApp()
    const res = await dra(a, 'POST', '/registration/', { ...body, password2: PASSWORD + 'x' })
    assertFieldErrors(t, res, ['non_field_errors'])
    t.same((json(res) as { non_field_errors: string[] }).non_field_errors, ["The two password fields didn't match."])
    t.equal((await a.users.listUsers()).length, 0)
  })

  t.test('a weak password: 400 {password1}', async t => {
    const a = await buildDjRestAuthApp()
    for (const weak of ['short', '12345678901', 'password']) {
      assertFieldErrors(t, await dra(a, 'POST', '/registration/', { ...body, password1: weak, password2: weak }), ['password1'])
    }
    t.equal((await a.users.listUsers()).length, 0)
  })

  t.test('a taken username or email: 400 {username} / {email}', async t => {
    const a = await withAlice()
    assertFieldErrors(t, await dra(a, 'POST', '/registration/', { ...body, email: 'other@example.com' }), ['username'])
    assertFieldErrors(t, await dra(a, 'POST', '/registration/', { ...body, username: 'bob', email: 'ALICE@example.com' }), ['email'])
    t.equal((await a.users.listUsers()).length, 1)
  })

  t.test('missing, blank or invalid fields: every one reported', async t => {
    const a = await buildDjRestAuthApp()
    assertFieldErrors(t, await dra(a, 'POST', '/registration/', {}), ['username', 'email', 'password1', 'password2'])
    assertFieldErrors(t, await dra(a, 'POST', '/registration/', { ...body, username: '', password2: '' }), ['username', 'password2'])
    assertFieldErrors(t, await dra(a, 'POST', '/registration/', { ...body, email: 'nope' }), ['email'])
    assertFieldErrors(t, await dra(a, 'POST', '/registration/', { ...body, username: 'has space' }), ['username'])
  })

  t.test('read-only or unknown keys are ignored', async t => {
    const a = await buildDjRestAuthApp({ emailVerification: 'none' })
    const res = await dra(a, 'POST', '/registration/', { ...body, is_staff: true, pk: 42 })
    t.equal(res.statusCode, 201)
    const stored = await a.users.findUserByUsername('alice')
    t.equal(stored?.id, 1)
    t.equal(stored?.isStaff, false)
  })

  t.test('malformed JSON is 400 {detail}', async t => {
    const a = await buildDjRestAuthApp()
    const res = await a.app.inject({ method: 'POST', url: '/dj-rest-auth/registration/', headers: { 'content-type': 'application/json' }, payload: '{"username":' })
    assertDetail(t, res, 400)
  })
})

// ---- login / logout ----------------------------------------------------------------------------------------

t.test('login/ (token mode)', async t => {
  t.test('with username: 200 {key} and nothing else', async t => {
    const a = await withAlice()
    const res = await login(a)
    t.equal(res.statusCode, 200)
    t.same(Object.keys(json(res) as object), ['key'])
    t.match(json(res), { key: /^[0-9a-f]{40}$/ })
    t.equal(res.headers['set-cookie'], undefined, 'no cookies without JWT')
    t.ok((await a.users.findUserById(1))?.lastLogin, 'the last login is recorded (SESSION_LOGIN)')
  })

  t.test('with email (any letter case), or with an email in the username field', async t => {
    const a = await withAlice()
    for (const body of [{ email: 'alice@example.com', password: PASSWORD }, { email: 'Alice@Example.com', password: PASSWORD }, { username: 'alice@example.com', password: PASSWORD }, { username: '', email: 'alice@example.com', password: PASSWORD }]) {
      const res = await login(a, body)
      t.equal(res.statusCode, 200, JSON.stringify(body))
      t.match(json(res), { key: /^[0-9a-f]{40}$/ })
    }
  })

  t.test('form-encoded bodies work too', async t => {
    const a = await withAlice()
    const res = await a.app.inject({ method: 'POST', url: '/dj-rest-auth/login/', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `username=alice&password=${PASSWORD}` })
    t.equal(res.statusCode, 200)
  })

  t.test('bad credentials: 400 {non_field_errors: ["Unable to log in with provided credentials."]}', async t => {
    const a = await withAlice()
    for (const body of [{ username: 'alice', password: 'wrong-password' }, { username: 'nobody', password: PASSWORD }, { email: 'nobody@example.com', password: PASSWORD }]) {
      nonFieldErrors(t, await login(a, body), 'Unable to log in with provided credentials.')
    }
  })

  t.test('an inactive user: the same 400', async t => {
    const a = await withAlice()
    await a.users.updateUser(1, { isActive: false })
    nonFieldErrors(t, await login(a), 'Unable to log in with provided credentials.')
  })

  t.test('neither username nor email: 400 {non_field_errors}', async t => {
    const a = await withAlice()
    nonFieldErrors(t, await login(a, { password: PASSWORD }), 'Must include either "username" or "email" and "password".')
    nonFieldErrors(t, await login(a, { username: '', email: '', password: PASSWORD }), 'Must include either "username" or "email" and "password".')
  })

  t.test('missing or blank password: 400 {password}; an invalid email: 400 {email}', async t => {
    const a = await withAlice()
    assertFieldErrors(t, await login(a, { username: 'alice' }), ['password'])
    assertFieldErrors(t, await login(a, { username: 'alice', password: '' }), ['password'])
    assertFieldErrors(t, await login(a, { email: 'not-an-email', password: PASSWORD }), ['email'])
  })

  t.test('authenticationMethod "email": only email logs in', async t => {
    const a = await withAlice({ authenticationMethod: 'email' })
    t.equal((await login(a, { email: 'alice@example.com', password: PASSWORD })).statusCode, 200)
    nonFieldErrors(t, await login(a, { username: 'alice', password: PASSWORD }), 'Must include "email" and "password".')
  })

  t.test('authenticationMethod "username": only username logs in', async t => {
    const a = await withAlice({ authenticationMethod: 'username' })
    t.equal((await login(a)).statusCode, 200)
    nonFieldErrors(t, await login(a, { email: 'alice@example.com', password: PASSWORD }), 'Must include "username" and "password".')
  })

  t.test('sessionLogin: false does not record the last login', async t => {
    const a = await withAlice({ sessionLogin: false })
    const before = (await a.users.findUserById(1))?.lastLogin ?? null
    t.equal((await login(a)).statusCode, 200)
    t.same((await a.users.findUserById(1))?.lastLogin ?? null, before)
  })
})

t.test('logout/ (token mode)', async t => {
  t.test('POST with the key: 200 {detail}, the key stops working', async t => {
    const a = await withAlice()
    const key = await tokenKey(a)
    const res = await dra(a, 'POST', '/logout/', undefined, token(key))
    t.equal(res.statusCode, 200)
    t.same(json(res), { detail: 'Successfully logged out.' })
    const after = await dra(a, 'GET', '/user/', undefined, token(key))
    assertDetail(t, after, 401)
    t.equal(after.headers['www-authenticate'], 'Token')
  })

  t.test('anonymous: 200 with SESSION_LOGIN (the default), 400 without', async t => {
    const a = await withAlice()
    const res = await dra(a, 'POST', '/logout/')
    t.equal(res.statusCode, 200)
    t.same(json(res), { detail: 'Successfully logged out.' })
    const b = await withAlice({ sessionLogin: false })
    const refused = await dra(b, 'POST', '/logout/')
    assertDetail(t, refused, 400)
    t.same(json(refused), { detail: 'You should be logged in to logout. Check whether the token is passed.' })
  })

  t.test('an invalid key: 401 {detail}', async t => {
    const a = await withAlice()
    const res = await dra(a, 'POST', '/logout/', undefined, token('0'.repeat(40)))
    assertDetail(t, res, 401)
    t.same(json(res), { detail: 'Invalid token.' })
  })

  t.test('GET: 405 unless logoutOnGet', async t => {
    const a = await withAlice()
    const key = await tokenKey(a)
    const res = await dra(a, 'GET', '/logout/', undefined, token(key))
    assertDetail(t, res, 405)
    t.same(json(res), { detail: 'Method "GET" not allowed.' })
    t.equal((await dra(a, 'GET', '/user/', undefined, token(key))).statusCode, 200, 'still logged in')

    const b = await withAlice({ logoutOnGet: true })
    const keyB = await tokenKey(b)
    const out = await dra(b, 'GET', '/logout/', undefined, token(keyB))
    t.equal(out.statusCode, 200)
    t.same(json(out), { detail: 'Successfully logged out.' })
    t.equal((await dra(b, 'GET', '/user/', undefined, token(keyB))).statusCode, 401)
  })

  t.test('without the trailing slash', async t => {
    const a = await withAlice()
    const key = await tokenKey(a)
    t.equal((await a.app.inject({ method: 'POST', url: '/dj-rest-auth/logout', headers: token(key) })).statusCode, 200)
  })
})

// ---- user/ ---------------------------------------------------------------------------------------------------

t.test('user/', async t => {
  t.test('GET: {pk, username, email, first_name, last_name}', async t => {
    const a = await withAlice()
    const res = await dra(a, 'GET', '/user/', undefined, token(await tokenKey(a)))
    t.equal(res.statusCode, 200)
    t.same(json(res), ALICE)
    t.same(Object.keys(json(res) as object), ['pk', 'username', 'email', 'first_name', 'last_name'])
  })

  t.test('anonymous: 401 {detail} with a Token challenge', async t => {
    const a = await withAlice()
    const res = await dra(a, 'GET', '/user/')
    assertDetail(t, res, 401)
    t.same(json(res), { detail: 'Authentication credentials were not provided.' })
    t.equal(res.headers['www-authenticate'], 'Token')
  })

  t.test('PUT: username, first_name, last_name change; pk and email are read-only', async t => {
    const a = await withAlice()
    const key = await tokenKey(a)
    const res = await dra(a, 'PUT', '/user/', { pk: 9, email: 'mallory@example.com', username: 'alice2', first_name: 'Alice', last_name: 'Liddell' }, token(key))
    t.equal(res.statusCode, 200)
    t.same(json(res), { pk: 1, username: 'alice2', email: 'alice@example.com', first_name: 'Alice', last_name: 'Liddell' })
    const stored = await a.users.findUserById(1)
    t.equal(stored?.email, 'alice@example.com')
    t.equal(stored?.firstName, 'Alice')
    t.equal(await a.users.findUserById(9), null)
    t.same(json(await dra(a, 'GET', '/user/', undefined, token(key))), { pk: 1, username: 'alice2', email: 'alice@example.com', first_name: 'Alice', last_name: 'Liddell' })
  })

  t.test('PUT without username: 400 {username}', async t => {
    const a = await withAlice()
    assertFieldErrors(t, await dra(a, 'PUT', '/user/', { first_name: 'Alice' }, token(await tokenKey(a))), ['username'])
  })

  t.test('PATCH: only what is sent; blank names are allowed', async t => {
    const a = await withAlice()
    const key = await tokenKey(a)
    t.same(json(await dra(a, 'PATCH', '/user/', { first_name: 'Alice' }, token(key))), { ...ALICE, first_name: 'Alice' })
    t.same(json(await dra(a, 'PATCH', '/user/', { last_name: 'Liddell', email: 'x@example.com' }, token(key))), { ...ALICE, first_name: 'Alice', last_name: 'Liddell' })
    t.same(json(await dra(a, 'PATCH', '/user/', { first_name: '' }, token(key))), { ...ALICE, last_name: 'Liddell' })
    t.same(json(await dra(a, 'PATCH', '/user/', {}, token(key))), { ...ALICE, last_name: 'Liddell' })
  })

  for (const method of ['PUT', 'PATCH'] as const) {
    t.test(`${method}: a taken, blank or invalid username, a name over 150 characters: 400 per field`, async t => {
      const a = await withAlice()
      await registered(a, 'bob')
      const key = await tokenKey(a)
      assertFieldErrors(t, await dra(a, method, '/user/', { username: 'bob' }, token(key)), ['username'])
      assertFieldErrors(t, await dra(a, method, '/user/', { username: '' }, token(key)), ['username'])
      assertFieldErrors(t, await dra(a, method, '/user/', { username: 'bad name!' }, token(key)), ['username'])
      assertFieldErrors(t, await dra(a, method, '/user/', { username: 'alice', first_name: 'x'.repeat(151), last_name: null }, token(key)), ['first_name', 'last_name'])
      t.equal((await a.users.findUserById(1))?.username, 'alice')
    })
  }
})

// ---- passwords -----------------------------------------------------------------------------------------------

t.test('password/change/', async t => {
  const NEW = 'a-brand-new-passphrase'

  t.test('200 {detail}; the new password logs in, the old does not', async t => {
    const a = await withAlice()
    const res = await dra(a, 'POST', '/password/change/', { new_password1: NEW, new_password2: NEW }, token(await tokenKey(a)))
    t.equal(res.statusCode, 200)
    t.same(json(res), { detail: 'New password has been saved.' })
    t.equal((await login(a, { username: 'alice', password: NEW })).statusCode, 200)
    t.equal((await login(a)).statusCode, 400)
  })

  t.test('mismatch: 400 {new_password2}; a weak password: 400 {new_password2}', async t => {
    const a = await withAlice()
    const key = await tokenKey(a)
    const mismatch = await dra(a, 'POST', '/password/change/', { new_password1: NEW, new_password2: NEW + 'x' }, token(key))
    assertFieldErrors(t, mismatch, ['new_password2'])
    t.same((json(mismatch) as Record<string, string[]>).new_password2, ['The two password fields didn’t match.'])
    assertFieldErrors(t, await dra(a, 'POST', '/password/change/', { new_password1: 'short', new_password2: 'short' }, token(key)), ['new_password2'])
    const both = await dra(a, 'POST', '/password/change/', { new_password1: 'short', new_password2: 'other' }, token(key))
    t.same(json(both), { new_password2: ['The two password fields didn’t match.'] }, 'the mismatch is reported before the validators')
    t.equal((await login(a)).statusCode, 200, 'unchanged')
  })

  t.test('missing fields: 400 for each; old_password is not asked by default', async t => {
    const a = await withAlice()
    assertFieldErrors(t, await dra(a, 'POST', '/password/change/', { old_password: 'whatever' }, token(await tokenKey(a))), ['new_password1', 'new_password2'])
  })

  t.test('oldPasswordFieldEnabled: old_password is required and checked', async t => {
    const a = await withAlice({ oldPasswordFieldEnabled: true })
    const key = await tokenKey(a)
    assertFieldErrors(t, await dra(a, 'POST', '/password/change/', { new_password1: NEW, new_password2: NEW }, token(key)), ['old_password'])
    const wrong = await dra(a, 'POST', '/password/change/', { old_password: 'wrong-one', new_password1: NEW, new_password2: NEW + 'x' }, token(key))
    t.same(json(wrong), { old_password: ['Your old password was entered incorrectly. Please enter it again.'] })
    t.equal(wrong.statusCode, 400)
    const ok = await dra(a, 'POST', '/password/change/', { old_password: PASSWORD, new_password1: NEW, new_password2: NEW }, token(key))
    t.equal(ok.statusCode, 200)
    t.equal((await login(a, { username: 'alice', password: NEW })).statusCode, 200)
  })

  t.test('anonymous: 401', async t => {
    const a = await withAlice()
    assertDetail(t, await dra(a, 'POST', '/password/change/', { new_password1: NEW, new_password2: NEW }), 401)
  })

  t.test('the key survives the change when the core keeps tokens (dj-rest-auth\'s behaviour)', async t => {
    const a = await withAlice({}, { core: { revokeTokensOnPasswordChange: false } })
    const key = await tokenKey(a)
    t.equal((await dra(a, 'POST', '/password/change/', { new_password1: NEW, new_password2: NEW }, token(key))).statusCode, 200)
    t.equal((await dra(a, 'GET', '/user/', undefined, token(key))).statusCode, 200)
  })

  t.test('logoutOnPasswordChange: the user\'s keys stop working', async t => {
    const a = await withAlice({ logoutOnPasswordChange: true }, { core: { revokeTokensOnPasswordChange: false } })
    const key = await tokenKey(a)
    t.equal((await dra(a, 'POST', '/password/change/', { new_password1: NEW, new_password2: NEW }, token(key))).statusCode, 200)
    t.equal((await dra(a, 'GET', '/user/', undefined, token(key))).statusCode, 401)
  })
})

t.test('password/reset/ and password/reset/confirm/', async t => {
  const NEW = 'a-brand-new-passphrase'

  t.test('reset: 200 {detail} and a mail with uid and token; confirm: 200 {detail}; the new password logs in', async t => {
    const a = await withAlice()
    const res = await dra(a, 'POST', '/password/reset/', { email: 'alice@example.com' })
    t.equal(res.statusCode, 200)
    t.same(json(res), { detail: 'Password reset e-mail has been sent.' })
    t.equal(a.mailer.outbox.length, 1)
    const { uid, token: tk } = linkFrom(a.mailer, 'alice@example.com')
    const done = await dra(a, 'POST', '/password/reset/confirm/', { uid, token: tk, new_password1: NEW, new_password2: NEW })
    t.equal(done.statusCode, 200)
    t.same(json(done), { detail: 'Password has been reset with the new password.' })
    t.equal((await login(a, { username: 'alice', password: NEW })).statusCode, 200)
    t.equal((await login(a)).statusCode, 400)

    const reused = await dra(a, 'POST', '/password/reset/confirm/', { uid, token: tk, new_password1: NEW + '2', new_password2: NEW + '2' })
    t.same(json(reused), { token: ['Invalid value'] }, 'a used link is refused')
  })

  t.test('reset: an unknown email is answered alike and mails nothing; a bad email is 400 {email}', async t => {
    const a = await withAlice()
    const res = await dra(a, 'POST', '/password/reset/', { email: 'nobody@example.com' })
    t.equal(res.statusCode, 200)
    t.same(json(res), { detail: 'Password reset e-mail has been sent.' })
    t.equal(a.mailer.outbox.length, 0)
    assertFieldErrors(t, await dra(a, 'POST', '/password/reset/', { email: 'nope' }), ['email'])
    assertFieldErrors(t, await dra(a, 'POST', '/password/reset/', {}), ['email'])
  })

  t.test('confirm: a bad uid is 400 {uid}, a bad token 400 {token}', async t => {
    const a = await withAlice()
    await dra(a, 'POST', '/password/reset/', { email: 'alice@example.com' })
    const { uid, token: tk } = linkFrom(a.mailer, 'alice@example.com')
    t.same(json(await dra(a, 'POST', '/password/reset/confirm/', { uid: 'OTk', token: tk, new_password1: NEW, new_password2: NEW })), { uid: ['Invalid value'] })
    t.same(json(await dra(a, 'POST', '/password/reset/confirm/', { uid, token: 'abc-123', new_password1: NEW, new_password2: NEW })), { token: ['Invalid value'] })
    t.equal((await login(a)).statusCode, 200, 'unchanged')
  })

  t.test('confirm: mismatch or weak: 400 {new_password2}; missing: every field', async t => {
    const a = await withAlice()
    await dra(a, 'POST', '/password/reset/', { email: 'alice@example.com' })
    const { uid, token: tk } = linkFrom(a.mailer, 'alice@example.com')
    t.same(json(await dra(a, 'POST', '/password/reset/confirm/', { uid, token: tk, new_password1: NEW, new_password2: NEW + 'x' })), { new_password2: ['The two password fields didn’t match.'] })
    assertFieldErrors(t, await dra(a, 'POST', '/password/reset/confirm/', { uid, token: tk, new_password1: 'alice', new_password2: 'alice' }), ['new_password2'])
    assertFieldErrors(t, await dra(a, 'POST', '/password/reset/confirm/', {}), ['uid', 'token', 'new_password1', 'new_password2'])
    assertFieldErrors(t, await dra(a, 'POST', '/password/reset/confirm/', { uid, token: tk, new_password1: 'x'.repeat(129), new_password2: 'x'.repeat(129) }), ['new_password1', 'new_password2'])
    const done = await dra(a, 'POST', '/password/reset/confirm/', { uid, token: tk, new_password1: NEW, new_password2: NEW })
    t.equal(done.statusCode, 200, 'the link still works after refused attempts')
  })
})

// ---- app.authenticate ------------------------------------------------------------------------------------------

t.test('an app route behind djRestAuthAuthenticator', async t => {
  t.test('Token <key>: request.user is filled', async t => {
    const a = await withAlice()
    const res = await a.app.inject({ method: 'GET', url: '/private', headers: token(await tokenKey(a)) })
    t.equal(res.statusCode, 200)
    t.match(json(res), { user: { id: 1, username: 'alice' }, scheme: 'token' })
    t.notMatch(res.body, /argon2/)
  })

  t.test('anonymous or a bad key: 401 {detail} with the Token challenge', async t => {
    const a = await withAlice()
    for (const headers of [{}, token('f'.repeat(40)), { authorization: 'Token' }]) {
      const res = await a.app.inject({ method: 'GET', url: '/private', headers })
      assertDetail(t, res, 401)
      t.equal(res.headers['www-authenticate'], 'Token')
    }
  })
})

// ---- bad input -------------------------------------------------------------------------------------------------

t.test('bad input of any kind is a 4xx JSON answer and changes nothing', async t => {
  for (const useJwt of [false, true]) {
    const a = await withAlice({ useJwt, ...(useJwt ? { jwtAuthCookie: 'auth', jwtAuthRefreshCookie: 'refresh' } : {}) })
    const key = useJwt ? undefined : await tokenKey(a)
    const auth = key === undefined ? {} : token(key)
    const routes: Array<['POST' | 'PUT' | 'PATCH', string]> = [
      ['POST', '/login/'], ['POST', '/password/reset/'], ['POST', '/password/reset/confirm/'], ['POST', '/password/change/'],
      ['PUT', '/user/'], ['PATCH', '/user/'], ['POST', '/registration/'], ['POST', '/registration/verify-email/'], ['POST', '/registration/resend-email/'],
      ...(useJwt ? [['POST', '/token/verify/'], ['POST', '/token/refresh/']] as Array<['POST', string]> : []),
      ['POST', '/logout/']
    ]
    const bodies: unknown[] = [[], [1, 2], 'text', 42, null, true,
      { username: true, email: ['a'], password: { x: 1 }, password1: null, password2: 1e400, key: [], uid: {}, token: false, refresh: 7, new_password1: [], new_password2: {}, first_name: true },
      { username: 'x'.repeat(10_000), email: 'y'.repeat(10_000), password: 'z'.repeat(5000), key: ':'.repeat(600), refresh: 'r'.repeat(9000) }]
    for (const [method, path] of routes) {
      for (const body of bodies) {
        const res = await a.app.inject({ method, url: `/dj-rest-auth${path}`, headers: { 'content-type': 'application/json', ...auth }, payload: JSON.stringify(body) })
        // In token mode logout/ reads no body: an object with unknown keys is a plain logout (last in the
        // list), and once the key is gone the next one is a 401.
        const plainLogout = path === '/logout/' && !useJwt && typeof body === 'object' && body !== null && !Array.isArray(body)
        t.ok(plainLogout ? [200, 401].includes(res.statusCode) : res.statusCode >= 400 && res.statusCode < 500, `${method} ${path} ${JSON.stringify(body).slice(0, 40)}: ${res.statusCode}`)
        t.equal(String(res.headers['content-type']).split(';')[0], 'application/json')
      }
    }
    t.equal((await a.users.listUsers()).length, 1, 'no user created')
    t.equal((await login(a)).statusCode, 200, 'the password is unchanged')
  }
})
