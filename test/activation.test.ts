import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { buildApp, json, linkFrom, type TestApp } from './helpers/app.js'
import { assertDetail, assertFieldErrors, jwtLogin, register } from './helpers/users.js'

const ACTIVATE = '/auth/users/activation/'
const RESEND = '/auth/users/resend_activation/'
const uidOf = (id: number): string => Buffer.from(String(id)).toString('base64url')

async function activate (a: TestApp, payload: unknown, url = ACTIVATE) {
  return a.app.inject({ method: 'POST', url, payload: payload as Record<string, unknown> })
}

async function isActive (a: TestApp, id = 1): Promise<boolean | undefined> {
  return (await a.users.findUserById(id))?.isActive
}

/** A fresh app with alice registered (inactive) and her activation link. */
async function registered (options: Parameters<typeof buildApp>[0] = {}) {
  const a = await buildApp(options)
  const res = await register(a)
  if (res.statusCode !== 201) throw new Error(res.body)
  return { a, link: linkFrom(a.mailer, 'alice@example.com') }
}

t.test('activation', async t => {
  t.test('the mailed link activates: 204, user active, login works', async t => {
    const { a, link } = await registered()
    assertDetail(t, await jwtLogin(a), 401)
    const res = await activate(a, link)
    t.equal(res.statusCode, 204)
    t.equal(res.body, '', 'no body')
    t.equal(await isActive(a), true)
    const login = await jwtLogin(a)
    t.equal(login.statusCode, 200)
    t.same(Object.keys(json(login) as object).sort(), ['access', 'refresh'])
  })

  t.test('without the trailing slash', async t => {
    const { a, link } = await registered()
    t.equal((await activate(a, link, '/auth/users/activation')).statusCode, 204)
    t.equal(await isActive(a), true)
  })

  t.test('a form-encoded body works', async t => {
    const { a, link } = await registered()
    const res = await a.app.inject({
      method: 'POST',
      url: ACTIVATE,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams(link).toString()
    })
    t.equal(res.statusCode, 204)
    t.equal(await isActive(a), true)
  })

  t.test('activation changes nothing but the active flag', async t => {
    const { a, link } = await registered()
    const before = await a.users.findUserById(1)
    await activate(a, link)
    const after = await a.users.findUserById(1)
    t.same({ ...after, isActive: false }, before)
  })

  t.test('no confirmation mail by default', async t => {
    const { a, link } = await registered()
    await activate(a, link)
    t.equal(a.mailer.outbox.length, 1, 'only the activation mail')
  })

  t.test('sendConfirmationEmail: a confirmation mail after activation', async t => {
    const { a, link } = await registered({ sendConfirmationEmail: true })
    t.equal(a.mailer.outbox.length, 1)
    t.equal((await activate(a, link)).statusCode, 204)
    t.equal(a.mailer.outbox.length, 2)
    const mail = a.mailer.last()
    t.equal(mail?.to, 'alice@example.com')
    t.notMatch(mail?.text, /activate\//, 'no activation link in the confirmation')
    t.not(mail?.subject, a.mailer.outbox[0].subject)
  })

  t.test('an unknown uid: 400 {uid}', async t => {
    const { a, link } = await registered()
    assertFieldErrors(t, await activate(a, { uid: uidOf(999), token: link.token }), ['uid'])
    t.equal(await isActive(a), false)
  })

  t.test('a garbage uid: 400 {uid}', async t => {
    const { a, link } = await registered()
    for (const uid of ['!!!', 'not-base64-of-a-number', 'MA', '%00', 'x'.repeat(64), uidOf(-1)]) {
      assertFieldErrors(t, await activate(a, { uid, token: link.token }), ['uid'])
    }
    t.equal(await isActive(a), false)
    t.equal((await activate(a, link)).statusCode, 204, 'the real link still works')
  })

  t.test('a bad token: 400 {token}', async t => {
    const { a, link } = await registered()
    for (const token of ['abc', 'abc-123', `${link.token}0`, link.token.slice(0, -1) + (link.token.endsWith('0') ? '1' : '0'), 'x'.repeat(128)]) {
      assertFieldErrors(t, await activate(a, { uid: link.uid, token }), ['token'])
    }
    t.equal(await isActive(a), false)
    t.equal((await activate(a, link)).statusCode, 204, 'the real link still works')
  })

  t.test('another user\'s token: 400 {token}', async t => {
    const { a, link } = await registered()
    await register(a, 'bob')
    const bob = linkFrom(a.mailer, 'bob@example.com')
    assertFieldErrors(t, await activate(a, { uid: link.uid, token: bob.token }), ['token'])
    t.equal(await isActive(a, 1), false)
    t.equal(await isActive(a, 2), false)
  })

  t.test('reusing the link after activation: 403 {detail} (stale)', async t => {
    const { a, link } = await registered()
    t.equal((await activate(a, link)).statusCode, 204)
    assertDetail(t, await activate(a, link), 403)
    t.equal(await isActive(a), true, 'still active')
  })

  t.test('missing fields: 400 for each', async t => {
    const { a, link } = await registered()
    assertFieldErrors(t, await activate(a, {}), ['uid', 'token'])
    assertFieldErrors(t, await a.app.inject({ method: 'POST', url: ACTIVATE }), ['uid', 'token'])
    assertFieldErrors(t, await activate(a, { uid: link.uid }), ['token'])
    assertFieldErrors(t, await activate(a, { token: link.token }), ['uid'])
    assertFieldErrors(t, await activate(a, { uid: '', token: '' }), ['uid', 'token'])
    t.equal(await isActive(a), false)
  })

  t.test('malformed JSON: 400 {detail}', async t => {
    const { a } = await registered()
    assertDetail(t, await a.app.inject({ method: 'POST', url: ACTIVATE, headers: { 'content-type': 'application/json' }, payload: '{"uid":' }), 400)
    t.equal(await isActive(a), false)
  })

  t.test('an expired link: 400 {token}', async t => {
    const { a, link } = await registered({ passwordResetTimeout: 1 })
    await sleep(2100)
    assertFieldErrors(t, await activate(a, link), ['token'])
    t.equal(await isActive(a), false)
  })

  t.test('a link made before the account changed: 400 {token}', async t => {
    const { a, link } = await registered()
    await a.users.updateUser(1, { email: 'alice.new@example.com' })
    assertFieldErrors(t, await activate(a, link), ['token'])
    t.equal(await isActive(a), false)
  })

  t.test('a link of a deleted user: 400 {uid}', async t => {
    const { a, link } = await registered()
    await a.users.deleteUser(1)
    assertFieldErrors(t, await activate(a, link), ['uid'])
  })
})

t.test('resend_activation', async t => {
  t.test('204 and a new working link for an inactive user, email in any letter case', async t => {
    const { a } = await registered()
    const res = await a.app.inject({ method: 'POST', url: RESEND, payload: { email: 'ALICE@Example.com' } })
    t.equal(res.statusCode, 204)
    t.equal(res.body, '')
    t.equal(a.mailer.outbox.length, 2, 'a second mail')
    const mail = a.mailer.last()
    t.equal(mail?.to, 'alice@example.com', 'sent to the stored address')
    t.match(mail?.text, /^http:\/\/localhost:3000\/#\/activate\/MQ\/[0-9a-z]+-[0-9a-f]+$/m)
    t.equal((await activate(a, linkFrom(a.mailer, 'alice@example.com'))).statusCode, 204)
    t.equal(await isActive(a), true)
  })

  t.test('without the trailing slash', async t => {
    const { a } = await registered()
    t.equal((await a.app.inject({ method: 'POST', url: '/auth/users/resend_activation', payload: { email: 'alice@example.com' } })).statusCode, 204)
    t.equal(a.mailer.outbox.length, 2)
  })

  // Beyond djoser (its 400 here tells which addresses have inactive accounts): the same 204 as for an
  // inactive account, and no mail.
  t.test('an unknown email: the same 204 as a known one, no mail', async t => {
    const { a } = await registered()
    const known = await a.app.inject({ method: 'POST', url: RESEND, payload: { email: 'alice@example.com' } })
    const res = await a.app.inject({ method: 'POST', url: RESEND, payload: { email: 'nobody@example.com' } })
    t.equal(res.statusCode, 204)
    t.equal(res.body, known.body)
    t.equal(a.mailer.outbox.length, 2, 'only the known inactive account got a mail')
  })

  t.test('an already active user: 204, no mail, still active', async t => {
    const { a, link } = await registered()
    await activate(a, link)
    const res = await a.app.inject({ method: 'POST', url: RESEND, payload: { email: 'alice@example.com' } })
    t.equal(res.statusCode, 204)
    t.equal(a.mailer.outbox.length, 1)
    t.equal(await isActive(a), true)
  })

  t.test('sendActivationEmail false: 400 even for an inactive user, no mail', async t => {
    const a = await buildApp({ sendActivationEmail: false })
    await a.users.createUser({ username: 'carol', email: 'carol@example.com', password: '', isActive: false })
    const res = await a.app.inject({ method: 'POST', url: RESEND, payload: { email: 'carol@example.com' } })
    t.equal(res.statusCode, 400)
    t.equal(a.mailer.outbox.length, 0)
    t.equal(await isActive(a), false)
  })

  t.test('a missing or blank email: 400 {email}', async t => {
    const { a } = await registered()
    assertFieldErrors(t, await a.app.inject({ method: 'POST', url: RESEND, payload: {} }), ['email'])
    assertFieldErrors(t, await a.app.inject({ method: 'POST', url: RESEND, payload: { email: '' } }), ['email'])
    t.equal(a.mailer.outbox.length, 1)
  })

  t.test('a malformed email: 400, no mail', async t => {
    const { a } = await registered()
    const res = await a.app.inject({ method: 'POST', url: RESEND, payload: { email: 'not-an-email' } })
    t.equal(res.statusCode, 400)
    t.equal(a.mailer.outbox.length, 1)
  })
})
