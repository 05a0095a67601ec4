import t from 'tap'
import { activeUser, buildApp, json, linkFrom, PASSWORD, type TestApp } from './helpers/app.js'
import { assertDetail, assertFieldErrors, assertTokenError, bearer, jwtLogin, opaqueToken, send, tokenAuth } from './helpers/users.js'

const ME = '/auth/users/me/'
const ALICE = { id: 1, username: 'alice', email: 'alice@example.com' }

async function withAlice (options: Parameters<typeof buildApp>[0] = {}): Promise<{ a: TestApp, access: string, refresh: string }> {
  const a = await buildApp(options)
  const { access, refresh } = await activeUser(a)
  a.mailer.clear()
  return { a, access, refresh }
}

t.test('GET /users/me/', async t => {
  t.test('200 with exactly {id, username, email}', async t => {
    const { a, access } = await withAlice()
    const res = await send(a, 'GET', ME, undefined, bearer(access))
    t.equal(res.statusCode, 200)
    t.same(json(res), ALICE)
    t.same(Object.keys(json(res) as object).sort(), ['email', 'id', 'username'])
  })

  t.test('without the trailing slash', async t => {
    const { a, access } = await withAlice()
    const res = await send(a, 'GET', '/auth/users/me', undefined, bearer(access))
    t.equal(res.statusCode, 200)
    t.same(json(res), ALICE)
  })

  t.test('with an opaque token', async t => {
    const { a } = await withAlice()
    const key = await opaqueToken(a)
    const res = await send(a, 'GET', ME, undefined, tokenAuth(key))
    t.equal(res.statusCode, 200)
    t.same(json(res), ALICE)
  })

  t.test('anonymous: 401 {detail} with a Bearer challenge', async t => {
    const { a } = await withAlice()
    const res = await send(a, 'GET', ME)
    assertDetail(t, res, 401)
    t.match(res.headers['www-authenticate'], /^Bearer realm="api"$/)
  })

  t.test('a garbage or refresh token as Bearer: 401 token_not_valid', async t => {
    const { a, refresh } = await withAlice()
    assertTokenError(t, await send(a, 'GET', ME, undefined, bearer('not.a.jwt')), 'token_not_valid')
    assertTokenError(t, await send(a, 'GET', ME, undefined, bearer(refresh)), 'token_not_valid')
  })
})

t.test('PUT and PATCH /users/me/', async t => {
  for (const method of ['PUT', 'PATCH'] as const) {
    t.test(`${method}: a new email is returned, the account waits for activation at the new address`, async t => {
      const { a, access } = await withAlice()
      const res = await send(a, method, ME, { email: 'alice.new@example.com' }, bearer(access))
      t.equal(res.statusCode, 200)
      t.same(json(res), { id: 1, username: 'alice', email: 'alice.new@example.com' })

      const stored = await a.users.findUserById(1)
      t.equal(stored?.email, 'alice.new@example.com')
      t.equal(stored?.isActive, false, 'inactive until the new address is confirmed')

      await a.app.accounts.users.mailsSent()
      t.equal(a.mailer.outbox.length, 2, 'the activation link and the notice to the old address (emailChangedEmailConfirmation)')
      t.equal(a.mailer.outbox.filter((mail) => mail.to === 'alice.new@example.com').length, 1, 'one mail to the new address')
      t.match(a.mailer.last('alice@example.com')?.subject, /email address has been changed/, 'only the notice to the old address')
      t.match(a.mailer.last('alice.new@example.com')?.text, /^http:\/\/localhost:3000\/#\/activate\/MQ\/[0-9a-z]+-[0-9a-f]+$/m)

      assertTokenError(t, await send(a, 'GET', ME, undefined, bearer(access)), 'user_inactive')
      assertDetail(t, await jwtLogin(a), 401)

      const link = linkFrom(a.mailer, 'alice.new@example.com')
      t.equal((await send(a, 'POST', '/auth/users/activation/', link)).statusCode, 204, 'the new link activates')
      const login = await jwtLogin(a)
      t.equal(login.statusCode, 200)
      const me = await send(a, 'GET', ME, undefined, bearer((json(login) as { access: string }).access))
      t.same(json(me), { id: 1, username: 'alice', email: 'alice.new@example.com' })
    })

    t.test(`${method}: read-only id and username in the body are ignored`, async t => {
      const { a, access } = await withAlice()
      const res = await send(a, method, ME, { id: 99, username: 'mallory', email: 'alice.new@example.com', is_staff: true }, bearer(access))
      t.equal(res.statusCode, 200)
      t.same(json(res), { id: 1, username: 'alice', email: 'alice.new@example.com' })
      const stored = await a.users.findUserById(1)
      t.equal(stored?.username, 'alice')
      t.equal(stored?.isStaff, false)
      t.equal(await a.users.findUserById(99), null)
      t.equal(await a.users.findUserByUsername('mallory'), null)
    })

    t.test(`${method}: the same email again changes nothing`, async t => {
      const { a, access } = await withAlice()
      const res = await send(a, method, ME, { email: 'alice@example.com' }, bearer(access))
      t.equal(res.statusCode, 200)
      t.same(json(res), ALICE)
      t.equal((await a.users.findUserById(1))?.isActive, true)
      t.equal(a.mailer.outbox.length, 0)
      t.equal((await send(a, 'GET', ME, undefined, bearer(access))).statusCode, 200)
    })

    t.test(`${method}: a taken email is 400 {email}`, async t => {
      const { a, access } = await withAlice()
      await activeUser(a, 'bob')
      a.mailer.clear()
      for (const email of ['bob@example.com', 'BOB@Example.com']) {
        assertFieldErrors(t, await send(a, method, ME, { email }, bearer(access)), ['email'])
      }
      const stored = await a.users.findUserById(1)
      t.equal(stored?.email, 'alice@example.com')
      t.equal(stored?.isActive, true)
      t.equal(a.mailer.outbox.length, 0)
    })

    t.test(`${method}: an invalid email is 400 {email}`, async t => {
      const { a, access } = await withAlice()
      for (const email of ['not-an-email', 'alice@', '', 'a b@example.com']) {
        assertFieldErrors(t, await send(a, method, ME, { email }, bearer(access)), ['email'])
      }
      const stored = await a.users.findUserById(1)
      t.equal(stored?.email, 'alice@example.com')
      t.equal(stored?.isActive, true)
      t.equal(a.mailer.outbox.length, 0)
    })

    t.test(`${method}: sendActivationEmail false keeps the account active`, async t => {
      const { a, access } = await withAlice({ sendActivationEmail: false })
      const res = await send(a, method, ME, { email: 'alice.new@example.com' }, bearer(access))
      t.equal(res.statusCode, 200)
      t.same(json(res), { id: 1, username: 'alice', email: 'alice.new@example.com' })
      t.equal((await a.users.findUserById(1))?.isActive, true)
      await a.app.accounts.users.mailsSent()
      t.same(a.mailer.outbox.map((mail) => mail.to), ['alice@example.com'], 'only the notice to the old address (emailChangedEmailConfirmation)')
      const me = await send(a, 'GET', ME, undefined, bearer(access))
      t.equal(me.statusCode, 200, 'the token still works')
      t.same(json(me), { id: 1, username: 'alice', email: 'alice.new@example.com' })
    })

    t.test(`${method}: anonymous is 401 {detail} and changes nothing`, async t => {
      const { a } = await withAlice()
      assertDetail(t, await send(a, method, ME, { email: 'alice.new@example.com' }), 401)
      t.equal((await a.users.findUserById(1))?.email, 'alice@example.com')
    })
  }

  t.test('PUT without email: 400 {email}', async t => {
    const { a, access } = await withAlice()
    assertFieldErrors(t, await send(a, 'PUT', ME, {}, bearer(access)), ['email'])
    assertFieldErrors(t, await send(a, 'PUT', ME, { username: 'mallory' }, bearer(access)), ['email'])
    assertFieldErrors(t, await send(a, 'PUT', ME, undefined, bearer(access)), ['email'])
    const stored = await a.users.findUserById(1)
    t.equal(stored?.email, 'alice@example.com')
    t.equal(stored?.username, 'alice')
  })

  t.test('PATCH without email: 200, nothing changes', async t => {
    const { a, access } = await withAlice()
    const res = await send(a, 'PATCH', ME, { username: 'mallory' }, bearer(access))
    t.equal(res.statusCode, 200)
    t.same(json(res), ALICE)
    t.equal((await a.users.findUserById(1))?.isActive, true)
    t.equal(a.mailer.outbox.length, 0)
  })

  t.test('a form-encoded PATCH works', async t => {
    const { a, access } = await withAlice({ sendActivationEmail: false })
    const res = await a.app.inject({
      method: 'PATCH',
      url: ME,
      headers: { ...bearer(access), 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'email=alice.new%40example.com'
    })
    t.equal(res.statusCode, 200)
    t.same(json(res), { id: 1, username: 'alice', email: 'alice.new@example.com' })
  })

  t.test('malformed JSON: 400 {detail}', async t => {
    const { a, access } = await withAlice()
    const res = await a.app.inject({ method: 'PATCH', url: ME, headers: { ...bearer(access), 'content-type': 'application/json' }, payload: '{"email":' })
    assertDetail(t, res, 400)
    t.equal((await a.users.findUserById(1))?.email, 'alice@example.com')
  })
})

t.test('DELETE /users/me/', async t => {
  t.test('204 with the current password; the user and its tokens are gone', async t => {
    const { a, access, refresh } = await withAlice()
    const key = await opaqueToken(a)
    const res = await send(a, 'DELETE', ME, { current_password: PASSWORD }, bearer(access))
    t.equal(res.statusCode, 204)
    t.equal(res.body, '')
    t.equal(await a.users.findUserById(1), null)
    t.equal(await a.users.findUserByUsername('alice'), null)

    assertTokenError(t, await send(a, 'GET', ME, undefined, bearer(access)), 'user_not_found')
    assertTokenError(t, await send(a, 'POST', '/auth/jwt/refresh/', { refresh }), 'token_not_valid')
    assertDetail(t, await send(a, 'GET', ME, undefined, tokenAuth(key)), 401)
    assertDetail(t, await jwtLogin(a), 401)
  })

  t.test('the other users stay', async t => {
    const { a, access } = await withAlice()
    const bob = await activeUser(a, 'bob')
    t.equal((await send(a, 'DELETE', ME, { current_password: PASSWORD }, bearer(access))).statusCode, 204)
    t.ok(await a.users.findUserById(bob.id))
    t.equal((await send(a, 'GET', ME, undefined, bearer(bob.access))).statusCode, 200)
  })

  t.test('the username and email are free again', async t => {
    const { a, access } = await withAlice()
    await send(a, 'DELETE', ME, { current_password: PASSWORD }, bearer(access))
    const again = await send(a, 'POST', '/auth/users/', { username: 'alice', email: 'alice@example.com', password: PASSWORD })
    t.equal(again.statusCode, 201)
  })

  t.test('a wrong current_password: 400 {current_password}, the user stays', async t => {
    const { a, access } = await withAlice()
    assertFieldErrors(t, await send(a, 'DELETE', ME, { current_password: `${PASSWORD}x` }, bearer(access)), ['current_password'])
    t.ok(await a.users.findUserById(1))
    t.equal((await send(a, 'GET', ME, undefined, bearer(access))).statusCode, 200, 'the token still works')
  })

  t.test('a missing or blank current_password: 400 {current_password}, the user stays', async t => {
    const { a, access } = await withAlice()
    assertFieldErrors(t, await send(a, 'DELETE', ME, {}, bearer(access)), ['current_password'])
    assertFieldErrors(t, await send(a, 'DELETE', ME, undefined, bearer(access)), ['current_password'])
    assertFieldErrors(t, await send(a, 'DELETE', ME, { current_password: '' }, bearer(access)), ['current_password'])
    assertFieldErrors(t, await send(a, 'DELETE', ME, { password: PASSWORD }, bearer(access)), ['current_password'])
    t.ok(await a.users.findUserById(1))
  })

  t.test('another user\'s password does not delete', async t => {
    const { a, access } = await withAlice()
    await activeUser(a, 'bob', 'bob@example.com', 'bobs-own-strong-password-42')
    assertFieldErrors(t, await send(a, 'DELETE', ME, { current_password: 'bobs-own-strong-password-42' }, bearer(access)), ['current_password'])
    t.ok(await a.users.findUserById(1))
  })

  t.test('anonymous: 401 {detail}, nobody deleted', async t => {
    const { a } = await withAlice()
    assertDetail(t, await send(a, 'DELETE', ME, { current_password: PASSWORD }), 401)
    t.ok(await a.users.findUserById(1))
  })

  t.test('with an opaque token', async t => {
    const { a } = await withAlice()
    const key = await opaqueToken(a)
    t.equal((await send(a, 'DELETE', ME, { current_password: PASSWORD }, tokenAuth(key))).statusCode, 204)
    t.equal(await a.users.findUserById(1), null)
    assertDetail(t, await send(a, 'GET', ME, undefined, tokenAuth(key)), 401)
  })
})
