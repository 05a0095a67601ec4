import t, { type Test } from 'tap'
import { encodeUid } from '../lib/one-time-links.js'
import { linkFrom, PASSWORD } from './helpers/app.js'
import {
  authToken, bearer, body, isMessageList, jwtCreate, mailsTo, post, registerActive, tokenAuth, tokenLogin, userSetups,
  type UserSetup
} from './helpers/credentials.js'

const SET = '/auth/users/set_username/'
const RESET = '/auth/users/reset_username/'
const CONFIRM = '/auth/users/reset_username_confirm/'

const { setup, uniqueName } = userSetups(t)

/** The body is exactly {field: [messages]}. */
function onlyField (t: Test, res: { statusCode: number, body: string }, field: string): void {
  t.equal(res.statusCode, 400, res.body)
  const b = body(res as Parameters<typeof body>[0])
  t.same(Object.keys(b), [field], res.body)
  t.ok(isMessageList(b[field]), res.body)
}

async function usernameOf (a: UserSetup): Promise<string | undefined> {
  return (await a.users.findUserById(a.user.id))?.username
}

/** Asks for a username reset mail and returns its link; fails the test when none comes. */
async function requestLink (t: Test, a: UserSetup, url = RESET, email = a.email): Promise<{ uid: string, token: string }> {
  const before = a.mailer.outbox.length
  const res = await post(a, url, { email })
  t.equal(res.statusCode, 204, res.body)
  t.equal(a.mailer.outbox.length, before + 1, 'one reset mail')
  return linkFrom(a.mailer, a.email)
}

t.test('set_username', async t => {
  t.test('204: the new username logs in, the old one does not', async t => {
    const a = await setup(t)
    const fresh = uniqueName('renamed')
    const res = await post(a, SET, { new_username: fresh, current_password: PASSWORD }, bearer(a.user.access))
    t.equal(res.statusCode, 204, res.body)
    t.equal(res.body, '')
    t.equal(await usernameOf(a), fresh, 'stored')
    t.equal(await a.users.findUserByUsername(a.name), null, 'the old username is free')

    t.equal((await jwtCreate(a, fresh, PASSWORD)).statusCode, 200)
    t.equal((await tokenLogin(a, fresh, PASSWORD)).statusCode, 200)
    const old = await jwtCreate(a, a.name, PASSWORD)
    t.equal(old.statusCode, 401)
    t.type(body(old).detail, 'string')
    const me = await a.app.inject({ method: 'GET', url: '/auth/users/me/', headers: bearer(a.user.access) })
    t.equal(body(me).username, fresh, '/users/me/ shows the new username')
  })

  t.test('works with an opaque token and a form body', async t => {
    const a = await setup(t)
    const key = await authToken(a, a.name)
    const fresh = uniqueName('renamed')
    const res = await a.app.inject({
      method: 'POST',
      url: '/auth/users/set_username',
      headers: { ...tokenAuth(key), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ new_username: fresh, current_password: PASSWORD }).toString()
    })
    t.equal(res.statusCode, 204, res.body)
    t.equal(await usernameOf(a), fresh)
  })

  t.test('a taken username is 400 {new_username} and changes nothing', async t => {
    const a = await setup(t)
    const other = uniqueName('bob')
    await registerActive(a, { username: other })
    onlyField(t, await post(a, SET, { new_username: other, current_password: PASSWORD }, bearer(a.user.access)), 'new_username')
    t.equal(await usernameOf(a), a.name)
    t.equal((await jwtCreate(a, a.name, PASSWORD)).statusCode, 200)
  })

  t.test('invalid characters, blank or too long: 400 {new_username}', async t => {
    const a = await setup(t)
    for (const name of ['bad name', 'semi;colon', 'slash/y', 'emoji😀', '', 'x'.repeat(151)]) {
      onlyField(t, await post(a, SET, { new_username: name, current_password: PASSWORD }, bearer(a.user.access)), 'new_username')
    }
    t.equal(await usernameOf(a), a.name, 'unchanged')
  })

  t.test('the characters Django allows are accepted', async t => {
    const a = await setup(t)
    const fresh = `${uniqueName('o')}.k+x-y_z@w`
    t.equal((await post(a, SET, { new_username: fresh, current_password: PASSWORD }, bearer(a.user.access))).statusCode, 204)
    t.equal(await usernameOf(a), fresh)
  })

  t.test('a wrong current_password is 400 {current_password} and changes nothing', async t => {
    const a = await setup(t)
    onlyField(t, await post(a, SET, { new_username: uniqueName('renamed'), current_password: 'not-my-password' }, bearer(a.user.access)), 'current_password')
    t.equal(await usernameOf(a), a.name)
  })

  t.test('a taken username and a wrong password: both fields are reported (DRF validates every field)', async t => {
    const a = await setup(t)
    const other = uniqueName('bob')
    await registerActive(a, { username: other })
    const res = await post(a, SET, { new_username: other, current_password: 'not-my-password' }, bearer(a.user.access))
    t.equal(res.statusCode, 400)
    t.same(Object.keys(body(res)).sort(), ['current_password', 'new_username'], res.body)
    t.equal(await usernameOf(a), a.name)
  })

  t.test('missing fields are 400, each named', async t => {
    const a = await setup(t)
    const res = await post(a, SET, {}, bearer(a.user.access))
    t.equal(res.statusCode, 400)
    t.ok(isMessageList(body(res).new_username), res.body)
    t.ok(isMessageList(body(res).current_password), res.body)
    onlyField(t, await post(a, SET, { new_username: uniqueName('renamed') }, bearer(a.user.access)), 'current_password')
    t.equal(await usernameOf(a), a.name)
  })

  t.test('anonymous is 401 {detail}', async t => {
    const a = await setup(t)
    const res = await post(a, SET, { new_username: uniqueName('renamed'), current_password: PASSWORD })
    t.equal(res.statusCode, 401)
    t.type(body(res).detail, 'string')
    t.equal(await usernameOf(a), a.name)
  })

  t.test('a password reset link dies when the username changes', async t => {
    const a = await setup(t)
    t.equal((await post(a, '/auth/users/reset_password/', { email: a.email })).statusCode, 204)
    const link = linkFrom(a.mailer, a.email)
    t.equal((await post(a, SET, { new_username: uniqueName('renamed'), current_password: PASSWORD }, bearer(a.user.access))).statusCode, 204)
    onlyField(t, await post(a, '/auth/users/reset_password_confirm/', { ...link, new_password: 'a-brand-new-passphrase-42' }), 'token')
    t.equal((await jwtCreate(a, (await usernameOf(a)) as string, PASSWORD)).statusCode, 200, 'password unchanged')
  })

  t.test('setUsernameRetype', async t => {
    t.test('a mismatch is 400 {non_field_errors}', async t => {
      const a = await setup(t, { setUsernameRetype: true })
      const fresh = uniqueName('renamed')
      onlyField(t, await post(a, SET, { new_username: fresh, re_new_username: `${fresh}x`, current_password: PASSWORD }, bearer(a.user.access)), 'non_field_errors')
      t.equal(await usernameOf(a), a.name)
    })

    t.test('re_new_username is required', async t => {
      const a = await setup(t, { setUsernameRetype: true })
      onlyField(t, await post(a, SET, { new_username: uniqueName('renamed'), current_password: PASSWORD }, bearer(a.user.access)), 're_new_username')
      t.equal(await usernameOf(a), a.name)
    })

    t.test('a match is 204', async t => {
      const a = await setup(t, { setUsernameRetype: true })
      const fresh = uniqueName('renamed')
      t.equal((await post(a, SET, { new_username: fresh, re_new_username: fresh, current_password: PASSWORD }, bearer(a.user.access))).statusCode, 204)
      t.equal(await usernameOf(a), fresh)
    })
  })

  t.test('usernameChangedEmailConfirmation', async t => {
    t.test('on: the user gets a mail', async t => {
      const a = await setup(t, { usernameChangedEmailConfirmation: true })
      const before = mailsTo(a, a.email).length
      const fresh = uniqueName('renamed')
      t.equal((await post(a, SET, { new_username: fresh, current_password: PASSWORD }, bearer(a.user.access))).statusCode, 204)
      t.equal(mailsTo(a, a.email).length, before + 1, 'one new mail')
      t.match(a.mailer.last(a.email)?.subject, /username/i)
    })

    t.test('on: a refused change sends nothing', async t => {
      const a = await setup(t, { usernameChangedEmailConfirmation: true })
      const before = a.mailer.outbox.length
      t.equal((await post(a, SET, { new_username: 'bad name', current_password: PASSWORD }, bearer(a.user.access))).statusCode, 400)
      t.equal(a.mailer.outbox.length, before)
    })

    t.test('off (default): no mail', async t => {
      const a = await setup(t)
      const before = a.mailer.outbox.length
      t.equal((await post(a, SET, { new_username: uniqueName('renamed'), current_password: PASSWORD }, bearer(a.user.access))).statusCode, 204)
      t.equal(a.mailer.outbox.length, before)
    })
  })
})

t.test('reset_username', async t => {
  t.test('a known email (any letter case): 204 and a mail with the default link', async t => {
    const a = await setup(t)
    const before = a.mailer.outbox.length
    const res = await post(a, RESET, { email: a.email.toUpperCase() })
    t.equal(res.statusCode, 204, res.body)
    t.equal(a.mailer.outbox.length, before + 1)
    const mail = a.mailer.last()
    t.equal(mail?.to, a.email)
    t.match(mail?.text, new RegExp(`http://localhost:3000/#/username/reset/confirm/${encodeUid(a.user.id)}/[0-9a-z]+-[0-9a-f]+`))
  })

  t.test('usernameResetConfirmUrl shapes the link', async t => {
    const a = await setup(t, { usernameResetConfirmUrl: 'https://front.example.com/u/{uid}/{token}' })
    await requestLink(t, a)
    t.match(a.mailer.last()?.text, new RegExp(`https://front\\.example\\.com/u/${encodeUid(a.user.id)}/[0-9a-z]+-[0-9a-f]+`))
  })

  t.test('an unknown email: 204 and no mail', async t => {
    const a = await setup(t)
    const before = a.mailer.outbox.length
    t.equal((await post(a, RESET, { email: 'nobody@example.com' })).statusCode, 204)
    t.equal(a.mailer.outbox.length, before)
  })

  t.test('usernameResetShowEmailNotFound: an unknown email is 400 {email}', async t => {
    const a = await setup(t, { usernameResetShowEmailNotFound: true })
    const before = a.mailer.outbox.length
    onlyField(t, await post(a, RESET, { email: 'nobody@example.com' }), 'email')
    t.equal(a.mailer.outbox.length, before)
    await requestLink(t, a)
  })

  t.test('a malformed email is 400 {email}', async t => {
    const a = await setup(t)
    const before = a.mailer.outbox.length
    onlyField(t, await post(a, RESET, { email: 'not-an-email' }), 'email')
    t.equal(a.mailer.outbox.length, before)
  })

  t.test('a missing or blank email is 400 {email}', async t => {
    const a = await setup(t)
    const before = a.mailer.outbox.length
    onlyField(t, await post(a, RESET, {}), 'email')
    onlyField(t, await post(a, RESET, { email: '' }), 'email')
    t.equal(a.mailer.outbox.length, before)
  })
})

t.test('reset_username_confirm', async t => {
  t.test('204: the username changes and logs in', async t => {
    const a = await setup(t)
    const link = await requestLink(t, a)
    const fresh = uniqueName('renamed')
    const res = await post(a, CONFIRM, { ...link, new_username: fresh })
    t.equal(res.statusCode, 204, res.body)
    t.equal(res.body, '')
    t.equal(await usernameOf(a), fresh)
    t.equal((await jwtCreate(a, fresh, PASSWORD)).statusCode, 200)
    t.equal((await jwtCreate(a, a.name, PASSWORD)).statusCode, 401)
  })

  t.test('the same link used twice: 400 {token}', async t => {
    const a = await setup(t)
    const link = await requestLink(t, a)
    const first = uniqueName('renamed')
    t.equal((await post(a, CONFIRM, { ...link, new_username: first })).statusCode, 204)
    onlyField(t, await post(a, CONFIRM, { ...link, new_username: uniqueName('again') }), 'token')
    t.equal(await usernameOf(a), first)
  })

  t.test('a link dies when the username is changed by set_username', async t => {
    const a = await setup(t)
    const link = await requestLink(t, a)
    const renamed = uniqueName('renamed')
    t.equal((await post(a, SET, { new_username: renamed, current_password: PASSWORD }, bearer(a.user.access))).statusCode, 204)
    onlyField(t, await post(a, CONFIRM, { ...link, new_username: uniqueName('again') }), 'token')
    t.equal(await usernameOf(a), renamed)
  })

  t.test('a link dies when the password changes', async t => {
    const a = await setup(t)
    const link = await requestLink(t, a)
    t.equal((await post(a, '/auth/users/set_password/', { new_password: 'a-brand-new-passphrase-42', current_password: PASSWORD }, bearer(a.user.access))).statusCode, 204)
    onlyField(t, await post(a, CONFIRM, { ...link, new_username: uniqueName('again') }), 'token')
    t.equal(await usernameOf(a), a.name)
  })

  t.test('a bad uid is 400 {uid}', async t => {
    const a = await setup(t)
    const link = await requestLink(t, a)
    for (const uid of ['!!!', encodeUid(999999), 'MA', 'MQ==']) {
      onlyField(t, await post(a, CONFIRM, { uid, token: link.token, new_username: uniqueName('again') }), 'uid')
    }
    t.equal(await usernameOf(a), a.name)
  })

  t.test('a bad token is 400 {token}', async t => {
    const a = await setup(t)
    const link = await requestLink(t, a)
    const [ts, mac] = link.token.split('-')
    for (const token of ['abc', `${ts}-${'0'.repeat(40)}`, `${ts}-${mac.slice(0, -2)}`]) {
      onlyField(t, await post(a, CONFIRM, { uid: link.uid, token, new_username: uniqueName('again') }), 'token')
    }
    t.equal(await usernameOf(a), a.name)
    t.equal((await post(a, CONFIRM, { ...link, new_username: uniqueName('renamed') })).statusCode, 204, 'the real link still works')
  })

  t.test("one user's link does not rename another user", async t => {
    const a = await setup(t)
    const other = uniqueName('bob')
    const bob = await registerActive(a, { username: other })
    const link = await requestLink(t, a)
    onlyField(t, await post(a, CONFIRM, { uid: encodeUid(bob.id), token: link.token, new_username: uniqueName('again') }), 'token')
    t.not(await a.users.findUserByUsername(other), null, 'bob keeps his name')
  })

  t.test('a password reset link is not a username reset link, and the reverse', async t => {
    const a = await setup(t)
    t.equal((await post(a, '/auth/users/reset_password/', { email: a.email })).statusCode, 204)
    const passwordLink = linkFrom(a.mailer, a.email)
    onlyField(t, await post(a, CONFIRM, { ...passwordLink, new_username: uniqueName('again') }), 'token')
    const usernameLink = await requestLink(t, a)
    onlyField(t, await post(a, '/auth/users/reset_password_confirm/', { ...usernameLink, new_password: 'a-brand-new-passphrase-42' }), 'token')
    t.equal(await usernameOf(a), a.name)
    t.equal((await jwtCreate(a, a.name, PASSWORD)).statusCode, 200)
  })

  t.test('a taken or invalid new_username is 400 {new_username} and the link stays usable', async t => {
    const a = await setup(t)
    const other = uniqueName('bob')
    await registerActive(a, { username: other })
    const link = await requestLink(t, a)
    onlyField(t, await post(a, CONFIRM, { ...link, new_username: other }), 'new_username')
    onlyField(t, await post(a, CONFIRM, { ...link, new_username: 'bad name' }), 'new_username')
    t.equal(await usernameOf(a), a.name)
    const fresh = uniqueName('renamed')
    t.equal((await post(a, CONFIRM, { ...link, new_username: fresh })).statusCode, 204)
    t.equal(await usernameOf(a), fresh)
  })

  t.test('the same link sent twice at once: one rename wins, the other is 400 {token}', async t => {
    const a = await setup(t)
    const link = await requestLink(t, a)
    const names = [uniqueName('racer'), uniqueName('racer')]
    const results = await Promise.all(names.map(async (name) => post(a, CONFIRM, { ...link, new_username: name })))
    t.same(results.map((r) => r.statusCode).sort(), [204, 400], results.map((r) => r.body).join(' '))
    const loser = results.find((r) => r.statusCode === 400)
    if (loser !== undefined) onlyField(t, loser, 'token')
    t.equal(await usernameOf(a), names[results[0].statusCode === 204 ? 0 : 1])
  })

  t.test('usernameChangedEmailConfirmation: a reset sends the confirmation too', async t => {
    const a = await setup(t, { usernameChangedEmailConfirmation: true })
    const link = await requestLink(t, a)
    const before = mailsTo(a, a.email).length
    t.equal((await post(a, CONFIRM, { ...link, new_username: uniqueName('renamed') })).statusCode, 204)
    t.equal(mailsTo(a, a.email).length, before + 1)
    t.match(a.mailer.last(a.email)?.subject, /username/i)
  })

  t.test('missing fields are 400, each named', async t => {
    const a = await setup(t)
    const res = await post(a, CONFIRM, {})
    t.equal(res.statusCode, 400)
    for (const field of ['uid', 'token', 'new_username']) t.ok(isMessageList(body(res)[field]), `${field}: ${res.body}`)
  })

  t.test('usernameResetConfirmRetype', async t => {
    t.test('a mismatch is 400 {non_field_errors} and the link stays usable', async t => {
      const a = await setup(t, { usernameResetConfirmRetype: true })
      const link = await requestLink(t, a)
      const fresh = uniqueName('renamed')
      onlyField(t, await post(a, CONFIRM, { ...link, new_username: fresh, re_new_username: `${fresh}x` }), 'non_field_errors')
      t.equal(await usernameOf(a), a.name)
      t.equal((await post(a, CONFIRM, { ...link, new_username: fresh, re_new_username: fresh })).statusCode, 204)
      t.equal(await usernameOf(a), fresh)
    })

    t.test('re_new_username is required', async t => {
      const a = await setup(t, { usernameResetConfirmRetype: true })
      const link = await requestLink(t, a)
      onlyField(t, await post(a, CONFIRM, { ...link, new_username: uniqueName('renamed') }), 're_new_username')
      t.equal(await usernameOf(a), a.name)
    })
  })
})

t.test("loginField: 'email'", async t => {
  const EMAIL_LOGIN = { loginField: 'email' } as const

  t.test('login takes {email, password} on /jwt/create/ and /token/login/', async t => {
    const a = await setup(t, EMAIL_LOGIN)
    const pair = await jwtCreate(a, a.email, PASSWORD, 'email')
    t.equal(pair.statusCode, 200, pair.body)
    t.type(body(pair).access, 'string')
    const key = await tokenLogin(a, a.email, PASSWORD, 'email')
    t.equal(key.statusCode, 200, key.body)
    t.type(body(key).auth_token, 'string')

    const wrong = await jwtCreate(a, a.email, 'not-my-password', 'email')
    t.equal(wrong.statusCode, 401)
    t.type(body(wrong).detail, 'string')
    onlyField(t, await tokenLogin(a, a.email, 'not-my-password', 'email'), 'non_field_errors')
  })

  t.test('login with {username, password} is 400 {email} (the email is required)', async t => {
    const a = await setup(t, EMAIL_LOGIN)
    onlyField(t, await jwtCreate(a, a.name, PASSWORD, 'username'), 'email')
    onlyField(t, await tokenLogin(a, a.name, PASSWORD, 'username'), 'email')
  })

  t.test('set_email: 204, the new email logs in, the old one does not', async t => {
    const a = await setup(t, EMAIL_LOGIN)
    const fresh = `${uniqueName('new')}@example.org`
    const res = await post(a, '/auth/users/set_email/', { new_email: fresh, current_password: PASSWORD }, bearer(a.user.access))
    t.equal(res.statusCode, 204, res.body)
    t.equal((await a.users.findUserById(a.user.id))?.email, fresh, 'stored')
    t.equal((await jwtCreate(a, fresh, PASSWORD, 'email')).statusCode, 200)
    t.equal((await tokenLogin(a, fresh, PASSWORD, 'email')).statusCode, 200)
    t.equal((await jwtCreate(a, a.email, PASSWORD, 'email')).statusCode, 401)
  })

  t.test('set_username is not a route; set_email is not one with the default loginField', async t => {
    const a = await setup(t, EMAIL_LOGIN)
    const res = await post(a, SET, { new_username: uniqueName('renamed'), current_password: PASSWORD }, bearer(a.user.access))
    t.equal(res.statusCode, 404)
    t.equal((await a.users.findUserById(a.user.id))?.username, a.name)
    const d = await setup(t)
    t.equal((await post(d, '/auth/users/set_email/', { new_email: 'x@example.org', current_password: PASSWORD }, bearer(d.user.access))).statusCode, 404)
    t.equal((await post(d, '/auth/users/reset_email/', { email: d.email })).statusCode, 404)
  })

  t.test('set_email failures: taken (any case), invalid, wrong password, missing', async t => {
    const a = await setup(t, EMAIL_LOGIN)
    const other = await setup(t, EMAIL_LOGIN)
    const url = '/auth/users/set_email/'
    onlyField(t, await post(a, url, { new_email: other.email.toUpperCase(), current_password: PASSWORD }, bearer(a.user.access)), 'new_email')
    onlyField(t, await post(a, url, { new_email: 'not-an-email', current_password: PASSWORD }, bearer(a.user.access)), 'new_email')
    onlyField(t, await post(a, url, { new_email: 'fine@example.org', current_password: 'not-my-password' }, bearer(a.user.access)), 'current_password')
    const missing = await post(a, url, {}, bearer(a.user.access))
    t.equal(missing.statusCode, 400)
    t.ok(isMessageList(body(missing).new_email), missing.body)
    t.ok(isMessageList(body(missing).current_password), missing.body)
    t.equal((await a.users.findUserById(a.user.id))?.email, a.email, 'unchanged')
  })

  t.test('setUsernameRetype asks for re_new_email', async t => {
    const a = await setup(t, { ...EMAIL_LOGIN, setUsernameRetype: true })
    onlyField(t, await post(a, '/auth/users/set_email/', { new_email: 'one@example.org', re_new_email: 'two@example.org', current_password: PASSWORD }, bearer(a.user.access)), 'non_field_errors')
    t.equal((await a.users.findUserById(a.user.id))?.email, a.email, 'unchanged')
  })

  t.test('reset_email + reset_email_confirm {uid, token, new_email}', async t => {
    const a = await setup(t, EMAIL_LOGIN)
    const link = await requestLink(t, a, '/auth/users/reset_email/')
    t.match(a.mailer.last(a.email)?.text, `#/username/reset/confirm/${encodeUid(a.user.id)}/`)
    const fresh = `${uniqueName('new')}@example.org`
    const res = await post(a, '/auth/users/reset_email_confirm/', { ...link, new_email: fresh })
    t.equal(res.statusCode, 204, res.body)
    t.equal((await a.users.findUserById(a.user.id))?.email, fresh)
    t.equal((await jwtCreate(a, fresh, PASSWORD, 'email')).statusCode, 200)
    onlyField(t, await post(a, '/auth/users/reset_email_confirm/', { ...link, new_email: `${uniqueName('again')}@example.org` }), 'token')
  })

  t.test('reset_email: unknown 204 without mail; reset_email_confirm bad input', async t => {
    const a = await setup(t, EMAIL_LOGIN)
    const before = a.mailer.outbox.length
    t.equal((await post(a, '/auth/users/reset_email/', { email: 'nobody@example.com' })).statusCode, 204)
    t.equal(a.mailer.outbox.length, before)
    const link = await requestLink(t, a, '/auth/users/reset_email/')
    const confirm = '/auth/users/reset_email_confirm/'
    onlyField(t, await post(a, confirm, { ...link, token: 'abc', new_email: 'x@example.org' }), 'token')
    onlyField(t, await post(a, confirm, { ...link, uid: '!!', new_email: 'x@example.org' }), 'uid')
    onlyField(t, await post(a, confirm, { ...link, new_email: 'not-an-email' }), 'new_email')
    onlyField(t, await post(a, confirm, { ...link, new_username: 'someone' }), 'new_email')
    t.equal((await a.users.findUserById(a.user.id))?.email, a.email, 'unchanged')
  })
})
