import t, { type Test } from 'tap'
import { encodeUid } from '../lib/one-time-links.js'
import { linkFrom, PASSWORD } from './helpers/app.js'
import {
  authToken, bearer, body, isMessageList, jwtCreate, mailsTo, me, post, refresh, registerActive, sleep, startOfNextSecond,
  tokenAuth, tokenLogin, userSetups, type UserSetup
} from './helpers/credentials.js'

const RESET = '/auth/users/reset_password/'
const CONFIRM = '/auth/users/reset_password_confirm/'
const NEW_PASSWORD = 'a-brand-new-passphrase-42'
const { setup, uniqueName } = userSetups(t)

/** Asks for a reset mail for the user and returns its link; fails the test when none comes. */
async function requestLink (t: Test, a: UserSetup, email = a.email): Promise<{ uid: string, token: string }> {
  const before = a.mailer.outbox.length
  const res = await post(a, RESET, { email })
  t.equal(res.statusCode, 204, res.body)
  t.equal(a.mailer.outbox.length, before + 1, 'one reset mail')
  return linkFrom(a.mailer, a.email)
}

async function confirm (a: UserSetup, link: { uid: string, token: string }, extra: Record<string, unknown> = { new_password: NEW_PASSWORD }) {
  return post(a, CONFIRM, { ...link, ...extra })
}

/** The body is exactly {field: [messages]}. */
function onlyField (t: Test, res: { statusCode: number, body: string }, field: string): void {
  t.equal(res.statusCode, 400, res.body)
  const b = body(res as Parameters<typeof body>[0])
  t.same(Object.keys(b), [field], res.body)
  t.ok(isMessageList(b[field]), res.body)
}

t.test('reset_password', async t => {
  t.test('a known email: 204 and a mail with the default link', async t => {
    const a = await setup(t)
    const res = await post(a, RESET, { email: a.email })
    t.equal(res.statusCode, 204, res.body)
    t.equal(res.body, '')
    const mail = a.mailer.last()
    t.equal(mail?.to, a.email)
    const uid = encodeUid(a.user.id)
    t.match(mail?.text, new RegExp(`http://localhost:3000/#/password/reset/confirm/${uid}/[0-9a-z]+-[0-9a-f]+`))
    t.match(mail?.html, `#/password/reset/confirm/${uid}/`)
    t.equal(linkFrom(a.mailer, a.email).uid, uid)
  })

  t.test('the email matches in any letter case; the mail goes to the stored address', async t => {
    const a = await setup(t)
    const mixed = a.email[0].toUpperCase() + a.email.slice(1, -4) + a.email.slice(-4).toUpperCase()
    for (const email of [a.email.toUpperCase(), mixed]) {
      const before = a.mailer.outbox.length
      const res = await post(a, RESET, { email })
      t.equal(res.statusCode, 204, res.body)
      t.equal(a.mailer.outbox.length, before + 1, email)
      t.equal(a.mailer.last()?.to, a.email, 'sent to the stored address, not the typed spelling')
      t.equal(linkFrom(a.mailer, a.email).uid, encodeUid(a.user.id))
    }
  })

  t.test('passwordResetConfirmUrl, domain and protocol shape the link', async t => {
    const a = await setup(t, { passwordResetConfirmUrl: 'reset/{uid}/{token}', domain: 'app.example.org', protocol: 'https' })
    await requestLink(t, a)
    t.match(a.mailer.last()?.text, new RegExp(`https://app\\.example\\.org/reset/${encodeUid(a.user.id)}/[0-9a-z]+-[0-9a-f]+`))
  })

  t.test('an unknown email: 204 and no mail', async t => {
    const a = await setup(t)
    const before = a.mailer.outbox.length
    const res = await post(a, RESET, { email: 'nobody@example.com' })
    t.equal(res.statusCode, 204, res.body)
    t.equal(a.mailer.outbox.length, before)
  })

  t.test('an inactive account: 204 and no mail (djoser looks up active users only)', async t => {
    const a = await setup(t)
    const carol = uniqueName('carol')
    t.equal((await post(a, '/auth/users/', { username: carol, email: `${carol}@example.com`, password: PASSWORD })).statusCode, 201)
    const before = a.mailer.outbox.length
    const res = await post(a, RESET, { email: `${carol}@example.com` })
    t.equal(res.statusCode, 204, res.body)
    t.equal(a.mailer.outbox.length, before)
  })

  t.test('passwordResetShowEmailNotFound: an unknown email is 400 {email}', async t => {
    const a = await setup(t, { passwordResetShowEmailNotFound: true })
    const before = a.mailer.outbox.length
    onlyField(t, await post(a, RESET, { email: 'nobody@example.com' }), 'email')
    t.equal(a.mailer.outbox.length, before)
    await requestLink(t, a)
  })

  t.test('passwordResetShowEmailNotFound: an inactive account is 400 {email} too', async t => {
    const a = await setup(t, { passwordResetShowEmailNotFound: true })
    const carol = uniqueName('carol')
    t.equal((await post(a, '/auth/users/', { username: carol, email: `${carol}@example.com`, password: PASSWORD })).statusCode, 201)
    const before = a.mailer.outbox.length
    onlyField(t, await post(a, RESET, { email: `${carol}@example.com` }), 'email')
    t.equal(a.mailer.outbox.length, before)
  })

  t.test('a malformed email is 400 {email} (djoser uses an EmailField)', async t => {
    const a = await setup(t)
    const before = a.mailer.outbox.length
    for (const email of ['not-an-email', 'nobody@', '@example.com', 'two@@example.com']) {
      onlyField(t, await post(a, RESET, { email }), 'email')
    }
    t.equal(a.mailer.outbox.length, before, 'no mail')
  })

  t.test('a missing, blank, too long or non-string email is 400 {email}', async t => {
    const a = await setup(t)
    const before = a.mailer.outbox.length
    for (const payload of [{ email: '' }, {}, { email: 'a'.repeat(300) + '@example.com' }, { email: [a.email] }, { email: null }]) {
      const res = await post(a, RESET, payload)
      t.equal(res.statusCode, 400, JSON.stringify(payload))
      t.ok(isMessageList(body(res).email), res.body)
    }
    t.equal(a.mailer.outbox.length, before, 'no mail')
  })
})

t.test('reset_password_confirm', async t => {
  t.test('204: the new password works, the old one fails', async t => {
    const a = await setup(t)
    const link = await requestLink(t, a)
    const res = await confirm(a, link)
    t.equal(res.statusCode, 204, res.body)
    t.equal(res.body, '')
    const old = await jwtCreate(a, a.name, PASSWORD)
    t.equal(old.statusCode, 401)
    t.type(body(old).detail, 'string')
    t.equal((await jwtCreate(a, a.name, NEW_PASSWORD)).statusCode, 200)
    t.equal((await tokenLogin(a, a.name, NEW_PASSWORD)).statusCode, 200)
  })

  t.test('the same link used twice: 400 {token}', async t => {
    const a = await setup(t)
    const link = await requestLink(t, a)
    t.equal((await confirm(a, link)).statusCode, 204)
    onlyField(t, await confirm(a, link, { new_password: 'yet-another-passphrase-7' }), 'token')
    t.equal((await jwtCreate(a, a.name, NEW_PASSWORD)).statusCode, 200, 'the first reset holds')
    t.equal((await jwtCreate(a, a.name, 'yet-another-passphrase-7')).statusCode, 401)
  })

  t.test('an older link dies when a newer one is used', async t => {
    const a = await setup(t)
    const first = await requestLink(t, a)
    const second = await requestLink(t, a)
    t.equal((await confirm(a, second)).statusCode, 204)
    onlyField(t, await confirm(a, first, { new_password: 'yet-another-passphrase-7' }), 'token')
  })

  t.test('a link dies when the password is changed by set_password', async t => {
    const a = await setup(t)
    const link = await requestLink(t, a)
    const changed = await post(a, '/auth/users/set_password/', { new_password: 'changed-by-set-password-1', current_password: PASSWORD }, bearer(a.user.access))
    t.equal(changed.statusCode, 204, changed.body)
    onlyField(t, await confirm(a, link), 'token')
    t.equal((await jwtCreate(a, a.name, 'changed-by-set-password-1')).statusCode, 200, 'password unchanged by the dead link')
  })

  t.test('a link dies when the user logs in with a token (last login changes)', async t => {
    const a = await setup(t)
    const link = await requestLink(t, a)
    const before = (await a.users.findUserById(a.user.id))?.lastLogin
    await sleep(5)
    await authToken(a, a.name)
    t.not((await a.users.findUserById(a.user.id))?.lastLogin?.getTime(), before?.getTime(), 'token login recorded the last login')
    onlyField(t, await confirm(a, link), 'token')
    t.equal((await jwtCreate(a, a.name, PASSWORD)).statusCode, 200, 'password unchanged')
  })

  t.test('a link dies when the user logs in with JWT and jwt.updateLastLogin is on', async t => {
    const a = await setup(t, { jwt: { updateLastLogin: true } })
    const link = await requestLink(t, a)
    await sleep(5)
    t.equal((await jwtCreate(a, a.name, PASSWORD)).statusCode, 200)
    onlyField(t, await confirm(a, link), 'token')
    t.equal((await jwtCreate(a, a.name, PASSWORD)).statusCode, 200, 'password unchanged')
  })

  t.test('a JWT login without jwt.updateLastLogin leaves the link valid', async t => {
    const a = await setup(t)
    const link = await requestLink(t, a)
    t.equal((await jwtCreate(a, a.name, PASSWORD)).statusCode, 200)
    t.equal((await a.users.findUserById(a.user.id))?.lastLogin, null, 'no last login recorded')
    t.equal((await confirm(a, link)).statusCode, 204)
    t.equal((await jwtCreate(a, a.name, NEW_PASSWORD)).statusCode, 200)
  })

  t.test('a failed login leaves the link valid', async t => {
    const a = await setup(t)
    const link = await requestLink(t, a)
    t.equal((await tokenLogin(a, a.name, 'wrong-password!')).statusCode, 400)
    t.equal((await confirm(a, link)).statusCode, 204)
  })

  t.test('a link dies when the email changes', async t => {
    const a = await setup(t, { sendActivationEmail: false })
    const link = await requestLink(t, a)
    const patched = await a.app.inject({ method: 'PATCH', url: '/auth/users/me/', headers: bearer(a.user.access), payload: { email: 'alice.new@example.com' } })
    t.equal(patched.statusCode, 200, patched.body)
    t.equal(body(patched).email, 'alice.new@example.com')
    onlyField(t, await confirm(a, link), 'token')
    t.equal((await jwtCreate(a, a.name, PASSWORD)).statusCode, 200, 'password unchanged')
  })

  t.test('a link dies after passwordResetTimeout seconds', async t => {
    const a = await setup(t, { passwordResetTimeout: 1 })
    // Control, at the start of a second: a fresh link with the same timeout works.
    await startOfNextSecond()
    const fresh = await requestLink(t, a)
    t.equal((await confirm(a, fresh, { new_password: 'fresh-link-passphrase-1' })).statusCode, 204, 'a fresh link works')

    const link = await requestLink(t, a)
    await sleep(2100)
    onlyField(t, await confirm(a, link), 'token')
    t.equal((await jwtCreate(a, a.name, 'fresh-link-passphrase-1')).statusCode, 200, 'password unchanged by the expired link')
  })

  t.test('a bad uid is 400 {uid}', async t => {
    const a = await setup(t)
    const link = await requestLink(t, a)
    for (const uid of ['!!!', 'not base64', encodeUid(999), 'MA', 'LTE', 'MQ==', 'x'.repeat(64)]) {
      onlyField(t, await confirm(a, { uid, token: link.token }), 'uid')
    }
    t.equal((await confirm(a, link)).statusCode, 204, 'the real link still works afterwards')
  })

  t.test('a link for a deleted account is 400 {uid}', async t => {
    const a = await setup(t)
    const link = await requestLink(t, a)
    const deleted = await a.app.inject({ method: 'DELETE', url: '/auth/users/me/', headers: bearer(a.user.access), payload: { current_password: PASSWORD } })
    t.equal(deleted.statusCode, 204, deleted.body)
    onlyField(t, await confirm(a, link), 'uid')
    t.equal(await a.users.findUserById(a.user.id), null, 'nothing was recreated')
  })

  t.test('the same link sent twice at once: one 204, one 400 {token}', async t => {
    const a = await setup(t)
    const link = await requestLink(t, a)
    const results = await Promise.all([
      confirm(a, link, { new_password: 'first-racing-passphrase-1' }),
      confirm(a, link, { new_password: 'second-racing-passphrase-2' })
    ])
    t.same(results.map((r) => r.statusCode).sort(), [204, 400], results.map((r) => r.body).join(' '))
    const loser = results.find((r) => r.statusCode === 400)
    if (loser !== undefined) onlyField(t, loser, 'token')
    const winner = results[0].statusCode === 204 ? 'first-racing-passphrase-1' : 'second-racing-passphrase-2'
    t.equal((await jwtCreate(a, a.name, winner)).statusCode, 200, 'the winner\'s password is stored')
  })

  t.test('a bad token is 400 {token}', async t => {
    const a = await setup(t)
    const link = await requestLink(t, a)
    const [ts, mac] = link.token.split('-')
    const flipped = mac.slice(0, -1) + (mac.endsWith('0') ? '1' : '0')
    for (const token of ['abc', 'abc-123', `${ts}-${flipped}`, `${ts}-${mac.toUpperCase()}`, `${(parseInt(ts, 36) - 1).toString(36)}-${mac}`, `${link.token}0`]) {
      onlyField(t, await confirm(a, { uid: link.uid, token }), 'token')
    }
    t.equal((await confirm(a, link)).statusCode, 204, 'the real link still works afterwards')
  })

  t.test("one user's link does not reset another user's password", async t => {
    const a = await setup(t)
    const bobName = uniqueName('bob')
    const bob = await registerActive(a, { username: bobName })
    const link = await requestLink(t, a)
    onlyField(t, await confirm(a, { uid: encodeUid(bob.id), token: link.token }), 'token')
    t.equal((await jwtCreate(a, bobName, PASSWORD)).statusCode, 200, "bob's password unchanged")
  })

  t.test('missing fields are 400, each named', async t => {
    const a = await setup(t)
    const res = await post(a, CONFIRM, {})
    t.equal(res.statusCode, 400)
    const b = body(res)
    for (const field of ['uid', 'token', 'new_password']) t.ok(isMessageList(b[field]), `${field}: ${res.body}`)
    const link = await requestLink(t, a)
    onlyField(t, await post(a, CONFIRM, link), 'new_password')
  })

  t.test('a weak new_password is 400 {new_password} and the link stays usable', async t => {
    const a = await setup(t)
    const link = await requestLink(t, a)
    const res = await confirm(a, link, { new_password: '1234' })
    onlyField(t, res, 'new_password')
    t.equal((body(res).new_password as string[]).length, 3, `every failed rule: ${res.body}`)
    t.equal((await jwtCreate(a, a.name, PASSWORD)).statusCode, 200, 'password unchanged')
    t.equal((await confirm(a, link)).statusCode, 204, 'the link still works')
  })

  t.test('passwordResetConfirmRetype', async t => {
    t.test('a mismatch is 400 {non_field_errors} and changes nothing', async t => {
      const a = await setup(t, { passwordResetConfirmRetype: true })
      const link = await requestLink(t, a)
      onlyField(t, await confirm(a, link, { new_password: NEW_PASSWORD, re_new_password: `${NEW_PASSWORD}!` }), 'non_field_errors')
      t.equal((await jwtCreate(a, a.name, PASSWORD)).statusCode, 200, 'password unchanged')
      t.equal((await confirm(a, link, { new_password: NEW_PASSWORD, re_new_password: NEW_PASSWORD })).statusCode, 204, 'the link still works')
      t.equal((await jwtCreate(a, a.name, NEW_PASSWORD)).statusCode, 200)
    })

    t.test('re_new_password is required', async t => {
      const a = await setup(t, { passwordResetConfirmRetype: true })
      const link = await requestLink(t, a)
      onlyField(t, await confirm(a, link), 're_new_password')
      t.equal((await jwtCreate(a, a.name, PASSWORD)).statusCode, 200, 'password unchanged')
    })
  })

  t.test('an activation link is not a reset link', async t => {
    const a = await setup(t)
    const carol = uniqueName('carol')
    t.equal((await post(a, '/auth/users/', { username: carol, email: `${carol}@example.com`, password: PASSWORD })).statusCode, 201)
    const activation = linkFrom(a.mailer, `${carol}@example.com`)
    onlyField(t, await confirm(a, activation), 'token')
    t.equal((await a.users.findUserByUsername(carol))?.isActive, false, 'still inactive')
    t.equal((await post(a, '/auth/users/activation/', activation)).statusCode, 204, 'the activation link itself still works')
    t.equal((await jwtCreate(a, carol, PASSWORD)).statusCode, 200, "carol's password unchanged")
  })

  t.test('a reset link is not an activation link nor a username reset link', async t => {
    const a = await setup(t)
    const link = await requestLink(t, a)
    onlyField(t, await post(a, '/auth/users/activation/', link), 'token')
    const usernameReset = await post(a, '/auth/users/reset_username_confirm/', { ...link, new_username: 'mallory' })
    onlyField(t, usernameReset, 'token')
    t.not(await a.users.findUserByUsername(a.name), null, 'username unchanged')
  })

  t.test('by default a reset revokes the refresh and opaque tokens', async t => {
    const a = await setup(t)
    const key = await authToken(a, a.name)
    const link = await requestLink(t, a)
    t.equal((await refresh(a, a.user.refresh)).statusCode, 200, 'the refresh token works before')
    t.equal((await confirm(a, link)).statusCode, 204)
    const r = await refresh(a, a.user.refresh)
    t.equal(r.statusCode, 401, r.body)
    t.equal(body(r).code, 'token_not_valid')
    t.equal((await me(a, tokenAuth(key))).statusCode, 401)
  })

  t.test('with revokeTokensOnPasswordChange false and logoutOnPasswordChange false the tokens survive a reset', async t => {
    const a = await setup(t, { revokeTokensOnPasswordChange: false })
    const key = await authToken(a, a.name)
    const link = await requestLink(t, a)
    t.equal((await confirm(a, link)).statusCode, 204)
    t.equal((await refresh(a, a.user.refresh)).statusCode, 200)
    t.equal((await me(a, tokenAuth(key))).statusCode, 200)
  })

  t.test('passwordChangedEmailConfirmation: a reset sends the confirmation too', async t => {
    const a = await setup(t, { passwordChangedEmailConfirmation: true })
    const link = await requestLink(t, a)
    const before = mailsTo(a, a.email).length
    t.equal((await confirm(a, link)).statusCode, 204)
    t.equal(mailsTo(a, a.email).length, before + 1)
    t.match(a.mailer.last(a.email)?.subject, /password/i)
  })
})
