import t from 'tap'
import { activeUser, buildApp, json, type TestApp } from './helpers/app.js'
import { assertDetail, bearer, opaqueToken, register, send, tokenAuth } from './helpers/users.js'

const LIST = '/auth/users/'
const ALICE = { id: 1, username: 'alice', email: 'alice@example.com' }
const BOB = { id: 2, username: 'bob', email: 'bob@example.com' }
const CAROL = { id: 3, username: 'carol', email: 'carol@example.com' }

/** alice and bob active, carol registered but never activated. */
async function three (options: Parameters<typeof buildApp>[0] = {}): Promise<{ a: TestApp, alice: string, bob: string }> {
  const a = await buildApp(options)
  const alice = await activeUser(a, 'alice')
  const bob = await activeUser(a, 'bob')
  const carol = await register(a, 'carol')
  if (carol.statusCode !== 201) throw new Error(carol.body)
  return { a, alice: alice.access, bob: bob.access }
}

async function makeStaff (a: TestApp, id: number): Promise<void> {
  const updated = await a.users.updateUser(id, { isStaff: true })
  if (updated?.isStaff !== true) throw new Error('could not make staff')
}

t.test('GET /users/', async t => {
  t.test('a normal user sees only itself (hideUsers default)', async t => {
    const { a, alice, bob } = await three()
    const res = await send(a, 'GET', LIST, undefined, bearer(alice))
    t.equal(res.statusCode, 200)
    t.same(json(res), [ALICE])
    t.same(json(await send(a, 'GET', LIST, undefined, bearer(bob))), [BOB])
  })

  t.test('without the trailing slash', async t => {
    const { a, alice } = await three()
    const res = await send(a, 'GET', '/auth/users', undefined, bearer(alice))
    t.equal(res.statusCode, 200)
    t.same(json(res), [ALICE])
  })

  t.test('with an opaque token', async t => {
    const { a } = await three()
    const key = await opaqueToken(a, 'bob')
    t.same(json(await send(a, 'GET', LIST, undefined, tokenAuth(key))), [BOB])
  })

  t.test('staff sees every user, inactive ones too, in id order', async t => {
    const { a, alice } = await three()
    await makeStaff(a, 1)
    const res = await send(a, 'GET', LIST, undefined, bearer(alice))
    t.equal(res.statusCode, 200)
    t.same(json(res), [ALICE, BOB, CAROL])
  })

  t.test('staff status is read per request: losing it hides the others again', async t => {
    const { a, alice } = await three()
    await makeStaff(a, 1)
    t.equal((json(await send(a, 'GET', LIST, undefined, bearer(alice))) as unknown[]).length, 3)
    await a.users.updateUser(1, { isStaff: false })
    t.same(json(await send(a, 'GET', LIST, undefined, bearer(alice))), [ALICE])
  })

  t.test('hideUsers false: a normal user sees everyone', async t => {
    const { a, bob } = await three({ hideUsers: false })
    const res = await send(a, 'GET', LIST, undefined, bearer(bob))
    t.equal(res.statusCode, 200)
    t.same(json(res), [ALICE, BOB, CAROL])
  })

  t.test('no password or flags leak into the list', async t => {
    const { a, alice } = await three()
    await makeStaff(a, 1)
    const res = await send(a, 'GET', LIST, undefined, bearer(alice))
    for (const user of json(res) as Array<Record<string, unknown>>) t.same(Object.keys(user).sort(), ['email', 'id', 'username'])
    t.notMatch(res.body, /argon2|password|is_?staff|is_?active/i)
  })

  t.test('anonymous: 401 {detail}', async t => {
    const { a } = await three()
    assertDetail(t, await send(a, 'GET', LIST), 401)
  })

  t.test('a bad token: 401', async t => {
    const { a } = await three()
    t.equal((await send(a, 'GET', LIST, undefined, bearer('garbage'))).statusCode, 401)
    t.equal((await send(a, 'GET', LIST, undefined, tokenAuth('0'.repeat(40)))).statusCode, 401)
  })
})

t.test('GET /users/{id}/', async t => {
  t.test('self: 200 {id, username, email}', async t => {
    const { a, alice, bob } = await three()
    const res = await send(a, 'GET', '/auth/users/1/', undefined, bearer(alice))
    t.equal(res.statusCode, 200)
    t.same(json(res), ALICE)
    t.same(json(await send(a, 'GET', '/auth/users/2/', undefined, bearer(bob))), BOB)
  })

  t.test('without the trailing slash', async t => {
    const { a, alice } = await three()
    const res = await send(a, 'GET', '/auth/users/1', undefined, bearer(alice))
    t.equal(res.statusCode, 200)
    t.same(json(res), ALICE)
  })

  t.test('another user with hideUsers: 404 {detail}', async t => {
    const { a, alice } = await three()
    assertDetail(t, await send(a, 'GET', '/auth/users/2/', undefined, bearer(alice)), 404)
    assertDetail(t, await send(a, 'GET', '/auth/users/3/', undefined, bearer(alice)), 404)
  })

  t.test('hideUsers: another user and a missing one answer alike', async t => {
    const { a, alice } = await three()
    const other = await send(a, 'GET', '/auth/users/2/', undefined, bearer(alice))
    const missing = await send(a, 'GET', '/auth/users/999/', undefined, bearer(alice))
    t.equal(other.statusCode, 404)
    t.equal(missing.statusCode, 404)
    t.same(json(other), json(missing), 'nothing tells whether the id exists')
  })

  t.test('another user without hideUsers (non-staff): 403 {detail}', async t => {
    const { a, alice } = await three({ hideUsers: false })
    assertDetail(t, await send(a, 'GET', '/auth/users/2/', undefined, bearer(alice)), 403)
    const self = await send(a, 'GET', '/auth/users/1/', undefined, bearer(alice))
    t.equal(self.statusCode, 200)
    t.same(json(self), ALICE)
  })

  t.test('a missing user without hideUsers (non-staff): 404 {detail}', async t => {
    const { a, alice } = await three({ hideUsers: false })
    assertDetail(t, await send(a, 'GET', '/auth/users/999/', undefined, bearer(alice)), 404)
  })

  t.test('staff: 200 for another user, inactive or not', async t => {
    const { a, alice } = await three()
    await makeStaff(a, 1)
    const bob = await send(a, 'GET', '/auth/users/2/', undefined, bearer(alice))
    t.equal(bob.statusCode, 200)
    t.same(json(bob), BOB)
    const carol = await send(a, 'GET', '/auth/users/3/', undefined, bearer(alice))
    t.equal(carol.statusCode, 200)
    t.same(json(carol), CAROL)
  })

  t.test('staff: a missing user is 404 {detail}', async t => {
    const { a, alice } = await three()
    await makeStaff(a, 1)
    assertDetail(t, await send(a, 'GET', '/auth/users/999/', undefined, bearer(alice)), 404)
  })

  t.test('a non-numeric id: 404 {detail}', async t => {
    const { a, alice } = await three()
    await makeStaff(a, 1)
    for (const id of ['abc', '0', '-1', '1.5', '1e0', '%20', '9'.repeat(40), 'alice']) {
      const res = await send(a, 'GET', `/auth/users/${id}/`, undefined, bearer(alice))
      assertDetail(t, res, 404)
    }
  })

  t.test('anonymous: 401 {detail}', async t => {
    const { a } = await three()
    assertDetail(t, await send(a, 'GET', '/auth/users/1/'), 401)
    assertDetail(t, await send(a, 'GET', '/auth/users/abc/'), 401)
  })

  t.test('a deleted user\'s token: 401', async t => {
    const { a, alice } = await three()
    await a.users.deleteUser(1)
    t.equal((await send(a, 'GET', '/auth/users/1/', undefined, bearer(alice))).statusCode, 401)
    t.equal((await send(a, 'GET', LIST, undefined, bearer(alice))).statusCode, 401)
  })
})
