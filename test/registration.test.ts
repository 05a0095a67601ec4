import t, { type Test } from 'tap'
import { buildApp, json, linkFrom, PASSWORD, type TestApp } from './helpers/app.js'
import { assertDetail, assertFieldErrors, jwtLogin, register, userCount } from './helpers/users.js'

const URL = '/auth/users/'
const ACTIVATION_LINK = /^http:\/\/localhost:3000\/#\/activate\/MQ\/[0-9a-z]+-[0-9a-f]+$/m

/** After a rejected registration: no row, no mail. */
async function nothingCreated (tt: Test, a: TestApp, users = 0, mails = 0): Promise<void> {
  tt.equal(await userCount(a), users, `still ${users} user(s) stored`)
  tt.equal(a.mailer.outbox.length, mails, `still ${mails} mail(s) sent`)
}

t.test('success', async t => {
  t.test('201 with exactly {id, username, email}', async t => {
    const a = await buildApp()
    const res = await register(a)
    t.equal(res.statusCode, 201)
    t.same(json(res), { id: 1, username: 'alice', email: 'alice@example.com' })
    t.same(Object.keys(json(res) as object).sort(), ['email', 'id', 'username'], 'no other keys')
    t.notMatch(res.body, PASSWORD, 'the password is not echoed')
    t.notMatch(res.body, /argon2|password/i, 'nor its hash')
  })

  t.test('the route answers without its trailing slash', async t => {
    const a = await buildApp()
    const res = await a.app.inject({ method: 'POST', url: '/auth/users', payload: { username: 'alice', email: 'alice@example.com', password: PASSWORD } })
    t.equal(res.statusCode, 201)
    t.same(json(res), { id: 1, username: 'alice', email: 'alice@example.com' })
    t.equal(await userCount(a), 1)
  })

  t.test('ids grow with each user', async t => {
    const a = await buildApp()
    t.same(json(await register(a, 'alice')), { id: 1, username: 'alice', email: 'alice@example.com' })
    t.same(json(await register(a, 'bob')), { id: 2, username: 'bob', email: 'bob@example.com' })
  })

  t.test('the stored user has an argon2id hash and is inactive', async t => {
    const a = await buildApp()
    await register(a)
    const user = await a.users.findUserByUsername('alice')
    if (user === null) throw new Error('no user stored')
    t.match(user.password, /^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/)
    t.not(user.password, PASSWORD)
    t.ok(await a.users.findUserByEmail('alice@example.com'), 'found by email')
    t.equal(user.isActive, false)
    t.equal(user.isStaff, false)
    t.equal(user.isSuperuser, false)
    t.equal(user.email, 'alice@example.com')
  })

  t.test('the inactive user cannot log in yet', async t => {
    const a = await buildApp()
    await register(a)
    assertDetail(t, await jwtLogin(a), 401)
  })

  t.test('an activation mail carries the default link', async t => {
    const a = await buildApp()
    await register(a)
    t.equal(a.mailer.outbox.length, 1)
    const mail = a.mailer.last()
    t.equal(mail?.to, 'alice@example.com')
    t.match(mail?.text, ACTIVATION_LINK)
    t.notMatch(mail?.text, PASSWORD, 'the mail does not carry the password')
    const link = linkFrom(a.mailer, 'alice@example.com')
    t.equal(link.uid, Buffer.from('1').toString('base64url'), 'the uid encodes the id')
    const activated = await a.app.inject({ method: 'POST', url: '/auth/users/activation/', payload: link })
    t.equal(activated.statusCode, 204, 'the mailed link activates')
  })

  t.test('the link is built from activationUrl, domain and protocol', async t => {
    const a = await buildApp({ activationUrl: 'account/activate?u={uid}&t={token}', domain: 'app.example.org', protocol: 'https' })
    await register(a)
    t.match(a.mailer.last('alice@example.com')?.text, /^https:\/\/app\.example\.org\/account\/activate\?u=MQ&t=[0-9a-z]+-[0-9a-f]+$/m)
  })

  t.test('userCreatePasswordRetype: a matching re_password registers, and is not echoed', async t => {
    const a = await buildApp({ userCreatePasswordRetype: true })
    const res = await a.app.inject({ method: 'POST', url: URL, payload: { username: 'alice', email: 'alice@example.com', password: PASSWORD, re_password: PASSWORD } })
    t.equal(res.statusCode, 201)
    t.same(json(res), { id: 1, username: 'alice', email: 'alice@example.com' })
  })

  t.test('sendActivationEmail false: active at once, no mail, can log in', async t => {
    const a = await buildApp({ sendActivationEmail: false })
    const res = await register(a)
    t.equal(res.statusCode, 201)
    t.same(json(res), { id: 1, username: 'alice', email: 'alice@example.com' })
    t.equal((await a.users.findUserById(1))?.isActive, true)
    t.equal(a.mailer.outbox.length, 0)
    t.equal((await jwtLogin(a)).statusCode, 200)
  })

  t.test('sendActivationEmail false + sendConfirmationEmail true: a confirmation mail, no link', async t => {
    const a = await buildApp({ sendActivationEmail: false, sendConfirmationEmail: true })
    t.equal((await register(a)).statusCode, 201)
    t.equal(a.mailer.outbox.length, 1)
    const mail = a.mailer.last()
    t.equal(mail?.to, 'alice@example.com')
    t.notMatch(mail?.text, /activate\//, 'no activation link')
    t.equal((await a.users.findUserById(1))?.isActive, true)
  })

  t.test('sendConfirmationEmail alone does not mail at registration while activation is on', async t => {
    const a = await buildApp({ sendConfirmationEmail: true })
    await register(a)
    t.equal(a.mailer.outbox.length, 1, 'only the activation mail')
    t.match(a.mailer.last()?.text, ACTIVATION_LINK)
  })

  t.test('a form-encoded body works', async t => {
    const a = await buildApp()
    const res = await a.app.inject({
      method: 'POST',
      url: URL,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ username: 'alice', email: 'alice@example.com', password: PASSWORD }).toString()
    })
    t.equal(res.statusCode, 201)
    t.same(json(res), { id: 1, username: 'alice', email: 'alice@example.com' })
    t.equal(a.mailer.outbox.length, 1)
  })

  t.test('the email domain is stored lower-cased (Django\'s normalize_email)', async t => {
    const a = await buildApp()
    const res = await register(a, 'alice', 'Alice@Example.COM')
    t.equal(res.statusCode, 201)
    t.same(json(res), { id: 1, username: 'alice', email: 'Alice@example.com' })
    t.equal((await a.users.findUserById(1))?.email, 'Alice@example.com')
    t.equal(a.mailer.last()?.to, 'Alice@example.com')
  })

  t.test('unknown extra keys are ignored and not stored', async t => {
    const a = await buildApp()
    const res = await a.app.inject({
      method: 'POST',
      url: URL,
      payload: { username: 'alice', email: 'alice@example.com', password: PASSWORD, id: 42, is_staff: true, is_superuser: true, is_active: true, isStaff: true, isActive: true, extra: 'x' }
    })
    t.equal(res.statusCode, 201)
    t.same(json(res), { id: 1, username: 'alice', email: 'alice@example.com' })
    const user = await a.users.findUserById(1)
    t.equal(user?.isActive, false)
    t.equal(user?.isStaff, false)
    t.equal(user?.isSuperuser, false)
    t.equal(await a.users.findUserById(42), null)
    t.notOk(Object.keys(user ?? {}).includes('extra'))
  })
})

t.test('failures', async t => {
  t.test('duplicate username: 400 {username}', async t => {
    const a = await buildApp()
    await register(a, 'alice', 'alice@example.com')
    const res = await register(a, 'alice', 'other@example.com')
    assertFieldErrors(t, res, ['username'])
    await nothingCreated(t, a, 1, 1)
  })

  t.test('duplicate email in another letter case: 400 {email}', async t => {
    const a = await buildApp()
    await register(a, 'alice', 'alice@example.com')
    const res = await register(a, 'bob', 'ALICE@Example.COM')
    assertFieldErrors(t, res, ['email'])
    await nothingCreated(t, a, 1, 1)
  })

  t.test('a bad email: 400 {email}', async t => {
    const a = await buildApp()
    for (const email of ['not-an-email', 'alice@', '@example.com', 'alice example@example.com', 'alice@example']) {
      assertFieldErrors(t, await register(a, 'alice', email), ['email'])
      await nothingCreated(t, a)
    }
  })

  t.test('bad username characters: 400 {username}', async t => {
    const a = await buildApp()
    for (const username of ['alice smith', 'alice!', 'a/b', 'al<i>ce']) {
      assertFieldErrors(t, await register(a, username, 'alice@example.com'), ['username'])
      await nothingCreated(t, a)
    }
  })

  t.test('a username over 150 characters: 400 {username}', async t => {
    const a = await buildApp()
    assertFieldErrors(t, await register(a, 'a'.repeat(151), 'alice@example.com'), ['username'])
    await nothingCreated(t, a)
  })

  t.test('a bad username and a bad email are reported together', async t => {
    const a = await buildApp()
    assertFieldErrors(t, await register(a, 'bad name', 'bad-email'), ['username', 'email'])
    await nothingCreated(t, a)
  })

  t.test('missing fields: all reported together, one message each', async t => {
    const a = await buildApp()
    const body = assertFieldErrors(t, await a.app.inject({ method: 'POST', url: URL, payload: {} }), ['username', 'email', 'password'])
    for (const field of ['username', 'email', 'password']) t.equal(body[field]?.length, 1, `${field}: one message`)
    t.equal(body.username?.[0], body.email?.[0], 'the same "required" message for every field')
    t.equal(body.username?.[0], body.password?.[0])
    await nothingCreated(t, a)
  })

  t.test('one missing field is the only one reported', async t => {
    const a = await buildApp()
    assertFieldErrors(t, await a.app.inject({ method: 'POST', url: URL, payload: { username: 'alice', email: 'alice@example.com' } }), ['password'])
    assertFieldErrors(t, await a.app.inject({ method: 'POST', url: URL, payload: { username: 'alice', password: PASSWORD } }), ['email'])
    await nothingCreated(t, a)
  })

  t.test('no body at all: every field is required', async t => {
    const a = await buildApp()
    assertFieldErrors(t, await a.app.inject({ method: 'POST', url: URL }), ['username', 'email', 'password'])
    await nothingCreated(t, a)
  })

  t.test('blank fields: 400 for each', async t => {
    const a = await buildApp()
    const body = assertFieldErrors(t, await a.app.inject({ method: 'POST', url: URL, payload: { username: '', email: '', password: '' } }), ['username', 'email', 'password'])
    const required = assertFieldErrors(t, await a.app.inject({ method: 'POST', url: URL, payload: {} }), ['username', 'email', 'password'])
    t.not(body.username?.[0], required.username?.[0], 'blank is told apart from missing')
    await nothingCreated(t, a)
  })

  t.test('null or non-text values: 400 for the field', async t => {
    const a = await buildApp()
    assertFieldErrors(t, await a.app.inject({ method: 'POST', url: URL, payload: { username: null, email: 'alice@example.com', password: PASSWORD } }), ['username'])
    assertFieldErrors(t, await a.app.inject({ method: 'POST', url: URL, payload: { username: 'alice', email: ['alice@example.com'], password: PASSWORD } }), ['email'])
    assertFieldErrors(t, await a.app.inject({ method: 'POST', url: URL, payload: { username: 'alice', email: 'alice@example.com', password: { a: 1 } } }), ['password'])
    await nothingCreated(t, a)
  })

  t.test('weak passwords: 400 {password: [...]}', async t => {
    const cases: Array<[string, string, string]> = [
      ['too short', 'Xq7!zp', 'alice'],
      ['common', 'iloveyou', 'alice'],
      ['numeric', '90417263581', 'alice'],
      ['similar to the username', 'quintessa9x', 'quintessa']
    ]
    const a = await buildApp()
    for (const [name, password, username] of cases) {
      const body = assertFieldErrors(t, await register(a, username, 'q@example.com', password), ['password'])
      t.equal(body.password?.length, 1, `${name}: one message`)
      await nothingCreated(t, a)
    }
  })

  t.test('a password failing several rules gets all their messages in one list', async t => {
    const a = await buildApp()
    const body = assertFieldErrors(t, await register(a, 'alice', 'alice@example.com', '1234'), ['password'])
    t.equal(body.password?.length, 3, 'too short, common and numeric')
    t.equal(new Set(body.password).size, 3, 'three different messages')
    await nothingCreated(t, a)
  })

  t.test('the weak-password messages differ per rule', async t => {
    const a = await buildApp()
    const short = assertFieldErrors(t, await register(a, 'alice', 'q@example.com', 'Xq7!zp'), ['password'])
    const common = assertFieldErrors(t, await register(a, 'alice', 'q@example.com', 'iloveyou'), ['password'])
    const numeric = assertFieldErrors(t, await register(a, 'alice', 'q@example.com', '90417263581'), ['password'])
    t.equal(new Set([short.password?.[0], common.password?.[0], numeric.password?.[0]]).size, 3)
    await nothingCreated(t, a)
  })

  t.test('userCreatePasswordRetype: re_password is required', async t => {
    const a = await buildApp({ userCreatePasswordRetype: true })
    assertFieldErrors(t, await register(a), ['re_password'])
    await nothingCreated(t, a)
  })

  t.test('userCreatePasswordRetype: a mismatch is 400 {non_field_errors}', async t => {
    const a = await buildApp({ userCreatePasswordRetype: true })
    const res = await a.app.inject({ method: 'POST', url: URL, payload: { username: 'alice', email: 'alice@example.com', password: PASSWORD, re_password: `${PASSWORD}x` } })
    assertFieldErrors(t, res, ['non_field_errors'])
    await nothingCreated(t, a)
  })

  t.test('malformed JSON: 400 {detail}', async t => {
    const a = await buildApp()
    const res = await a.app.inject({ method: 'POST', url: URL, headers: { 'content-type': 'application/json' }, payload: '{"username": "alice", ' })
    assertDetail(t, res, 400)
    await nothingCreated(t, a)
  })

  t.test('an empty JSON body reads as {}: every field is required', async t => {
    const a = await buildApp()
    const res = await a.app.inject({ method: 'POST', url: URL, headers: { 'content-type': 'application/json' }, payload: '' })
    assertFieldErrors(t, res, ['username', 'email', 'password'])
    await nothingCreated(t, a)
  })

  t.test('an unsupported media type: 415 {detail}, as DRF answers', async t => {
    const a = await buildApp()
    const res = await a.app.inject({ method: 'POST', url: URL, headers: { 'content-type': 'text/plain' }, payload: `username=alice&email=alice@example.com&password=${PASSWORD}` })
    assertDetail(t, res, 415)
    await nothingCreated(t, a)
  })

  t.test('a JSON array body: 400 {non_field_errors}', async t => {
    const a = await buildApp()
    const res = await a.app.inject({ method: 'POST', url: URL, headers: { 'content-type': 'application/json' }, payload: JSON.stringify([{ username: 'alice', email: 'alice@example.com', password: PASSWORD }]) })
    assertFieldErrors(t, res, ['non_field_errors'])
    await nothingCreated(t, a)
  })

  t.test('a JSON string body: 400 {non_field_errors}', async t => {
    const a = await buildApp()
    const res = await a.app.inject({ method: 'POST', url: URL, headers: { 'content-type': 'application/json' }, payload: '"alice"' })
    assertFieldErrors(t, res, ['non_field_errors'])
    await nothingCreated(t, a)
  })

  t.test('a form-encoded body with a bad field: 400 {field}', async t => {
    const a = await buildApp()
    const res = await a.app.inject({
      method: 'POST',
      url: URL,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ username: 'alice', email: 'nope', password: PASSWORD }).toString()
    })
    assertFieldErrors(t, res, ['email'])
    await nothingCreated(t, a)
  })

  t.test('the same username twice at once: one 201, one 400 {username}, one row', async t => {
    const a = await buildApp()
    const [first, second] = await Promise.all([register(a, 'alice', 'alice1@example.com'), register(a, 'alice', 'alice2@example.com')])
    t.same([first.statusCode, second.statusCode].sort(), [201, 400])
    assertFieldErrors(t, first.statusCode === 400 ? first : second, ['username'])
    await nothingCreated(t, a, 1, 1)
  })

  t.test('a failed registration leaves the first user untouched', async t => {
    const a = await buildApp()
    await register(a, 'alice', 'alice@example.com')
    const before = await a.users.findUserById(1)
    assertFieldErrors(t, await register(a, 'alice', 'alice@example.com', 'other-strong-password-77'), ['username', 'email'])
    t.same(await a.users.findUserById(1), before)
    await nothingCreated(t, a, 1, 1)
  })
})

t.test('regression: a password of eight spaces registered (ASVS 2.1.1); now 400 and no user', async t => {
  const app = await buildApp()
  t.teardown(() => app.app.close())
  for (const password of ['        ', 'Zq7      k']) {
    const res = await register(app, 'spacey', 'spacey@example.com', password)
    t.equal(res.statusCode, 400, JSON.stringify(password))
    t.match(json(res), { password: [/only of spaces|too short/] })
  }
  await nothingCreated(t, app)
})
