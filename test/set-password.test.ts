import t from 'tap'
import { PASSWORD } from './helpers/app.js'
import {
  authToken, bearer, body, isMessageList, jwtCreate, mailsTo, me, post, refresh, registerActive, tokenAuth, tokenLogin,
  userSetups
} from './helpers/credentials.js'

const URL = '/auth/users/set_password/'
const NEW_PASSWORD = 'a-brand-new-passphrase-42'

const { setup, uniqueName } = userSetups(t)

t.test('204, then the old password no longer logs in and the new one does', async t => {
  const a = await setup(t)
  const before = (await a.users.findUserById(a.user.id))?.password
  const res = await post(a, URL, { new_password: NEW_PASSWORD, current_password: PASSWORD }, bearer(a.user.access))
  t.equal(res.statusCode, 204, res.body)
  t.equal(res.body, '')
  t.not((await a.users.findUserById(a.user.id))?.password, before, 'the stored hash changed')

  const old = await jwtCreate(a, a.name, PASSWORD)
  t.equal(old.statusCode, 401)
  t.type(body(old).detail, 'string')
  const oldToken = await tokenLogin(a, a.name, PASSWORD)
  t.equal(oldToken.statusCode, 400, 'token login with the old password fails too')
  t.ok(isMessageList(body(oldToken).non_field_errors), oldToken.body)

  const fresh = await jwtCreate(a, a.name, NEW_PASSWORD)
  t.equal(fresh.statusCode, 200, fresh.body)
  t.type(body(fresh).access, 'string')
  t.type(body(fresh).refresh, 'string')
})

t.test('works with an opaque token and with a form-encoded body', async t => {
  const a = await setup(t, { revokeTokensOnPasswordChange: false })
  const key = await authToken(a, a.name)
  const res = await a.app.inject({
    method: 'POST',
    url: '/auth/users/set_password',
    headers: { ...tokenAuth(key), 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ new_password: NEW_PASSWORD, current_password: PASSWORD }).toString()
  })
  t.equal(res.statusCode, 204, res.body)
  t.equal((await jwtCreate(a, a.name, NEW_PASSWORD)).statusCode, 200)
})

t.test('a wrong current_password is 400 {current_password} and changes nothing', async t => {
  const a = await setup(t)
  const before = await a.users.findUserById(a.user.id)
  const res = await post(a, URL, { new_password: NEW_PASSWORD, current_password: 'not-my-password' }, bearer(a.user.access))
  t.equal(res.statusCode, 400)
  const b = body(res)
  t.same(Object.keys(b), ['current_password'])
  t.ok(isMessageList(b.current_password), res.body)
  t.same(await a.users.findUserById(a.user.id), before, 'the stored row is unchanged')
  t.equal((await jwtCreate(a, a.name, PASSWORD)).statusCode, 200, 'the old password still works')
  t.equal((await jwtCreate(a, a.name, NEW_PASSWORD)).statusCode, 401)
  t.equal((await refresh(a, a.user.refresh)).statusCode, 200, 'tokens are not revoked by a failed attempt')
})

t.test('a wrong current_password together with a weak new one reports current_password', async t => {
  const a = await setup(t)
  const res = await post(a, URL, { new_password: '1234', current_password: 'not-my-password' }, bearer(a.user.access))
  t.equal(res.statusCode, 400)
  t.ok(isMessageList(body(res).current_password), res.body)
})

t.test('a weak new_password is 400 {new_password} with every failed rule', async t => {
  const a = await setup(t)
  const before = await a.users.findUserById(a.user.id)
  // Too short, common, and all digits: three rules fail at once.
  const res = await post(a, URL, { new_password: '1234', current_password: PASSWORD }, bearer(a.user.access))
  t.equal(res.statusCode, 400)
  const b = body(res)
  t.same(Object.keys(b), ['new_password'])
  t.ok(isMessageList(b.new_password), res.body)
  t.equal((b.new_password as string[]).length, 3, `one message per failed rule: ${res.body}`)
  t.same(await a.users.findUserById(a.user.id), before, 'the stored row is unchanged')
  t.equal((await jwtCreate(a, a.name, PASSWORD)).statusCode, 200)
})

t.test('a new_password too close to the username is refused', async t => {
  const a = await setup(t)
  const res = await post(a, URL, { new_password: a.name, current_password: PASSWORD }, bearer(a.user.access))
  t.equal(res.statusCode, 400)
  t.ok(isMessageList(body(res).new_password), res.body)
  t.equal((await jwtCreate(a, a.name, PASSWORD)).statusCode, 200, 'password unchanged')
})

t.test('missing fields are 400 with each missing field named', async t => {
  const a = await setup(t)
  const none = await post(a, URL, {}, bearer(a.user.access))
  t.equal(none.statusCode, 400)
  t.ok(isMessageList(body(none).new_password), none.body)
  t.ok(isMessageList(body(none).current_password), none.body)

  const noBody = await a.app.inject({ method: 'POST', url: URL, headers: bearer(a.user.access) })
  t.equal(noBody.statusCode, 400)
  t.ok(isMessageList(body(noBody).new_password), noBody.body)
  t.ok(isMessageList(body(noBody).current_password), noBody.body)

  const onlyNew = await post(a, URL, { new_password: NEW_PASSWORD }, bearer(a.user.access))
  t.equal(onlyNew.statusCode, 400)
  t.same(Object.keys(body(onlyNew)), ['current_password'])

  const blank = await post(a, URL, { new_password: '', current_password: PASSWORD }, bearer(a.user.access))
  t.equal(blank.statusCode, 400)
  t.ok(isMessageList(body(blank).new_password), blank.body)

  const notString = await post(a, URL, { new_password: { x: 1 }, current_password: PASSWORD }, bearer(a.user.access))
  t.equal(notString.statusCode, 400)
  t.ok(isMessageList(body(notString).new_password), notString.body)

  t.equal((await jwtCreate(a, a.name, PASSWORD)).statusCode, 200, 'password unchanged')
})

t.test('malformed JSON is 400 {detail}', async t => {
  const a = await setup(t)
  const res = await a.app.inject({
    method: 'POST', url: URL, headers: { ...bearer(a.user.access), 'content-type': 'application/json' }, payload: '{"new_password": '
  })
  t.equal(res.statusCode, 400)
  t.type(body(res).detail, 'string')
})

t.test('anonymous is 401 {detail} and changes nothing', async t => {
  const a = await setup(t)
  const res = await post(a, URL, { new_password: NEW_PASSWORD, current_password: PASSWORD })
  t.equal(res.statusCode, 401)
  t.type(body(res).detail, 'string')
  t.equal((await jwtCreate(a, a.name, PASSWORD)).statusCode, 200)
})

t.test('a bad access token is 401 token_not_valid; a refresh token is not an access token', async t => {
  const a = await setup(t)
  const bad = await post(a, URL, { new_password: NEW_PASSWORD, current_password: PASSWORD }, bearer('not.a.jwt'))
  t.equal(bad.statusCode, 401)
  t.equal(body(bad).code, 'token_not_valid')
  const wrongType = await post(a, URL, { new_password: NEW_PASSWORD, current_password: PASSWORD }, bearer(a.user.refresh))
  t.equal(wrongType.statusCode, 401)
  t.equal(body(wrongType).code, 'token_not_valid')
  const unknownKey = await post(a, URL, { new_password: NEW_PASSWORD, current_password: PASSWORD }, tokenAuth('0'.repeat(40)))
  t.equal(unknownKey.statusCode, 401)
  t.type(body(unknownKey).detail, 'string')
  t.equal((await jwtCreate(a, a.name, PASSWORD)).statusCode, 200, 'password unchanged')
})

t.test('changes only the caller: another user keeps their password', async t => {
  const a = await setup(t)
  const bobName = uniqueName('bob')
  const bob = await registerActive(a, { username: bobName })
  const res = await post(a, URL, { new_password: NEW_PASSWORD, current_password: PASSWORD }, bearer(bob.access))
  t.equal(res.statusCode, 204, res.body)
  t.equal((await jwtCreate(a, a.name, PASSWORD)).statusCode, 200, 'alice unchanged')
  t.equal((await jwtCreate(a, bobName, NEW_PASSWORD)).statusCode, 200, 'bob changed')
  t.equal((await refresh(a, a.user.refresh)).statusCode, 200, "alice's refresh token survives bob's change")
})

t.test('setPasswordRetype', async t => {
  t.test('re_new_password is required', async t => {
    const a = await setup(t, { setPasswordRetype: true })
    const res = await post(a, URL, { new_password: NEW_PASSWORD, current_password: PASSWORD }, bearer(a.user.access))
    t.equal(res.statusCode, 400)
    t.ok(isMessageList(body(res).re_new_password), res.body)
    t.equal((await jwtCreate(a, a.name, PASSWORD)).statusCode, 200, 'password unchanged')
  })

  t.test('a mismatch is 400 {non_field_errors} and changes nothing', async t => {
    const a = await setup(t, { setPasswordRetype: true })
    const res = await post(a, URL, { new_password: NEW_PASSWORD, re_new_password: `${NEW_PASSWORD}!`, current_password: PASSWORD }, bearer(a.user.access))
    t.equal(res.statusCode, 400)
    const b = body(res)
    t.same(Object.keys(b), ['non_field_errors'])
    t.ok(isMessageList(b.non_field_errors), res.body)
    t.equal((await jwtCreate(a, a.name, PASSWORD)).statusCode, 200, 'password unchanged')
    t.equal((await jwtCreate(a, a.name, NEW_PASSWORD)).statusCode, 401)
  })

  t.test('a match is 204', async t => {
    const a = await setup(t, { setPasswordRetype: true })
    const res = await post(a, URL, { new_password: NEW_PASSWORD, re_new_password: NEW_PASSWORD, current_password: PASSWORD }, bearer(a.user.access))
    t.equal(res.statusCode, 204, res.body)
    t.equal((await jwtCreate(a, a.name, NEW_PASSWORD)).statusCode, 200)
  })

  t.test('without the option re_new_password is ignored, even when it differs', async t => {
    const a = await setup(t)
    const res = await post(a, URL, { new_password: NEW_PASSWORD, re_new_password: 'something-else-entirely', current_password: PASSWORD }, bearer(a.user.access))
    t.equal(res.statusCode, 204, res.body)
    t.equal((await jwtCreate(a, a.name, NEW_PASSWORD)).statusCode, 200)
  })
})

t.test('token revocation', async t => {
  t.test('by default every other session of the user ends: its refresh, opaque and access tokens', async t => {
    const a = await setup(t)
    const key = await authToken(a, a.name)
    const secondPair = body(await jwtCreate(a, a.name, PASSWORD))
    // The change is made from a session of its own (whether that one goes on: test/sessions-end.test.ts).
    const changer = body(await jwtCreate(a, a.name, PASSWORD))
    t.equal((await me(a, tokenAuth(key))).statusCode, 200, 'the opaque token works before')
    t.equal((await refresh(a, a.user.refresh)).statusCode, 200, 'the refresh token works before')

    const res = await post(a, URL, { new_password: NEW_PASSWORD, current_password: PASSWORD }, bearer(changer.access as string))
    t.equal(res.statusCode, 204, res.body)

    for (const access of [a.user.access, secondPair.access as string]) {
      const r = await me(a, bearer(access))
      t.equal(r.statusCode, 401, r.body)
      t.equal(body(r).code, 'token_not_valid', 'the access tokens of the other sessions end at once too')
    }
    for (const token of [a.user.refresh, secondPair.refresh as string]) {
      const r = await refresh(a, token)
      t.equal(r.statusCode, 401, r.body)
      t.equal(body(r).code, 'token_not_valid')
      t.type(body(r).detail, 'string')
    }
    const blacklisted = await post(a, '/auth/jwt/verify/', { token: a.user.refresh })
    t.equal(blacklisted.statusCode, 401, 'verify also rejects the revoked refresh token')
    t.equal(body(blacklisted).code, 'token_not_valid')
    const opaque = await me(a, tokenAuth(key))
    t.equal(opaque.statusCode, 401, opaque.body)
    t.type(body(opaque).detail, 'string')

    const fresh = body(await jwtCreate(a, a.name, NEW_PASSWORD))
    t.equal((await refresh(a, fresh.refresh as string)).statusCode, 200, 'tokens issued after the change work')
  })

  t.test("another user's tokens are not revoked", async t => {
    const a = await setup(t)
    const bobName = uniqueName('bob')
    const bob = await registerActive(a, { username: bobName })
    const bobKey = await authToken(a, bobName)
    t.equal((await post(a, URL, { new_password: NEW_PASSWORD, current_password: PASSWORD }, bearer(a.user.access))).statusCode, 204)
    t.equal((await refresh(a, bob.refresh)).statusCode, 200)
    t.equal((await me(a, tokenAuth(bobKey))).statusCode, 200)
  })

  t.test('revokeTokensOnPasswordChange false, logoutOnPasswordChange true: only opaque tokens are deleted', async t => {
    const a = await setup(t, { revokeTokensOnPasswordChange: false, logoutOnPasswordChange: true })
    const key = await authToken(a, a.name)
    const res = await post(a, URL, { new_password: NEW_PASSWORD, current_password: PASSWORD }, bearer(a.user.access))
    t.equal(res.statusCode, 204, res.body)
    const opaque = await me(a, tokenAuth(key))
    t.equal(opaque.statusCode, 401, opaque.body)
    t.type(body(opaque).detail, 'string')
    const r = await refresh(a, a.user.refresh)
    t.equal(r.statusCode, 200, r.body)
    t.type(body(r).access, 'string')
  })

  t.test('both false: every token survives', async t => {
    const a = await setup(t, { revokeTokensOnPasswordChange: false, logoutOnPasswordChange: false })
    const key = await authToken(a, a.name)
    const res = await post(a, URL, { new_password: NEW_PASSWORD, current_password: PASSWORD }, bearer(a.user.access))
    t.equal(res.statusCode, 204, res.body)
    const opaque = await me(a, tokenAuth(key))
    t.equal(opaque.statusCode, 200, opaque.body)
    t.equal(body(opaque).username, a.name)
    t.equal((await refresh(a, a.user.refresh)).statusCode, 200)
  })

  t.test('a failed change revokes nothing', async t => {
    const a = await setup(t, { logoutOnPasswordChange: true })
    const key = await authToken(a, a.name)
    t.equal((await post(a, URL, { new_password: '1234', current_password: PASSWORD }, bearer(a.user.access))).statusCode, 400)
    t.equal((await post(a, URL, { new_password: NEW_PASSWORD, current_password: 'wrong-password!' }, bearer(a.user.access))).statusCode, 400)
    t.equal((await me(a, tokenAuth(key))).statusCode, 200)
    t.equal((await refresh(a, a.user.refresh)).statusCode, 200)
  })
})

t.test('passwordChangedEmailConfirmation', async t => {
  t.test('on: the user gets a mail', async t => {
    const a = await setup(t, { passwordChangedEmailConfirmation: true })
    const before = mailsTo(a, a.email).length
    const res = await post(a, URL, { new_password: NEW_PASSWORD, current_password: PASSWORD }, bearer(a.user.access))
    t.equal(res.statusCode, 204, res.body)
    const mails = mailsTo(a, a.email)
    t.equal(mails.length, before + 1, 'one new mail')
    t.match(mails[mails.length - 1].subject, /password/i)
    t.notMatch(mails[mails.length - 1].text, NEW_PASSWORD, 'the mail does not carry the password')
  })

  t.test('on: a refused change sends nothing', async t => {
    const a = await setup(t, { passwordChangedEmailConfirmation: true })
    const before = a.mailer.outbox.length
    t.equal((await post(a, URL, { new_password: NEW_PASSWORD, current_password: 'wrong-password!' }, bearer(a.user.access))).statusCode, 400)
    t.equal(a.mailer.outbox.length, before)
  })

  t.test('off (default): no mail', async t => {
    const a = await setup(t)
    const before = a.mailer.outbox.length
    t.equal((await post(a, URL, { new_password: NEW_PASSWORD, current_password: PASSWORD }, bearer(a.user.access))).statusCode, 204)
    t.equal(a.mailer.outbox.length, before)
  })
})
