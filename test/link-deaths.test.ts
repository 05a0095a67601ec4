/**
 * Each way a one-time link (activation, password reset, username reset) must die, for each kind of link:
 * the account is deactivated, the uid is another user's (with this user's token), the token is another
 * user's (with this user's uid). A dead link is 400 {token} and changes nothing; the links it was confused
 * with still work afterwards. (Use, expiry, password / email / last-login changes: test/reset-password.test.ts,
 * test/username.test.ts, test/activation.test.ts.)
 */
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { encodeUid } from '../lib/one-time-links.js'
import type { User } from '../lib/ports.js'
import { linkFrom, PASSWORD } from './helpers/app.js'
import { bearer, body, isMessageList, jwtCreate, post, userSetups, type UserSetup } from './helpers/credentials.js'

type Link = { uid: string, token: string }
const { setup, uniqueName } = userSetups(t)

function onlyToken (t: Test, res: LightMyRequestResponse, what: string): void {
  t.equal(res.statusCode, 400, `${what}: 400 (${res.body})`)
  const b = body(res)
  t.same(Object.keys(b), ['token'], `${what}: only {token}`)
  t.ok(isMessageList(b.token), `${what}: a message list`)
}

/** The stored row, to show a refused link changed nothing. */
async function row (a: UserSetup, id: number): Promise<User | null> {
  return await a.users.findUserById(id)
}

interface LinkKind {
  name: string
  /** Mails a link to `email` and returns it. */
  request: (a: UserSetup, email: string) => Promise<Link>
  /** Uses a link; `n` makes the new value unique. */
  use: (a: UserSetup, link: Link, n: number) => Promise<LightMyRequestResponse>
}

let serial = 0
const RESETS: LinkKind[] = [
  {
    name: 'password reset',
    async request (a, email) {
      const res = await post(a, '/auth/users/reset_password/', { email })
      if (res.statusCode !== 204) throw new Error(`reset_password: ${res.body}`)
      return linkFrom(a.mailer, email)
    },
    use: async (a, link, n) => await post(a, '/auth/users/reset_password_confirm/', { ...link, new_password: `a-new-passphrase-${n}-42` })
  },
  {
    name: 'username reset',
    async request (a, email) {
      const res = await post(a, '/auth/users/reset_username/', { email })
      if (res.statusCode !== 204) throw new Error(`reset_username: ${res.body}`)
      return linkFrom(a.mailer, email)
    },
    use: async (a, link, n) => await post(a, '/auth/users/reset_username_confirm/', { ...link, new_username: `renamed${n}` })
  }
]

/** Registers an inactive user (activation on) and returns its id, email and activation link. */
async function inactiveUser (a: UserSetup): Promise<{ id: number, email: string, link: Link }> {
  const username = uniqueName('inactive')
  const email = `${username}@example.com`
  const res = await post(a, '/auth/users/', { username, email, password: PASSWORD })
  if (res.statusCode !== 201) throw new Error(`register: ${res.body}`)
  return { id: (body(res) as { id: number }).id, email, link: linkFrom(a.mailer, email) }
}

const activate = async (a: UserSetup, link: Link): Promise<LightMyRequestResponse> => await post(a, '/auth/users/activation/', link)

t.test('the account is deactivated', async t => {
  for (const kind of RESETS) {
    t.test(`${kind.name}: an email change with activation on deactivates the account and kills the link, for good`, async t => {
      const a = await setup(t)
      const link = await kind.request(a, a.email)
      const newEmail = `${uniqueName('moved')}@example.com`
      const patched = await a.app.inject({ method: 'PATCH', url: '/auth/users/me/', headers: bearer(a.user.access), payload: { email: newEmail } })
      t.equal(patched.statusCode, 200, patched.body)
      const before = await row(a, a.user.id)
      t.equal(before?.isActive, false, 'the account is inactive until the new address is confirmed')
      onlyToken(t, await kind.use(a, link, ++serial), 'while inactive')
      t.same(await row(a, a.user.id), before, 'nothing changed')

      t.equal((await activate(a, linkFrom(a.mailer, newEmail))).statusCode, 204, 'the new address confirmed')
      const after = await row(a, a.user.id)
      onlyToken(t, await kind.use(a, link, ++serial), 'after reactivation')
      t.same(await row(a, a.user.id), after, 'nothing changed')
      t.equal((await kind.use(a, await kind.request(a, newEmail), ++serial)).statusCode, 204, 'a new link works')
    })

    t.test(`${kind.name}: an account deactivated in the store kills the link`, async t => {
      const a = await setup(t)
      const link = await kind.request(a, a.email)
      await a.users.updateUser(a.user.id, { isActive: false })
      const before = await row(a, a.user.id)
      onlyToken(t, await kind.use(a, link, ++serial), 'inactive')
      t.same(await row(a, a.user.id), before, 'nothing changed')
    })
  }

  t.test('activation: the first link dies when an email change deactivates the account again; the new one works', async t => {
    const a = await setup(t)
    const { id, link } = await inactiveUser(a)
    t.equal((await activate(a, link)).statusCode, 204, 'activated')
    const login = await jwtCreate(a, (await row(a, id))?.username ?? '', PASSWORD)
    const access = (body(login) as { access: string }).access
    const newEmail = `${uniqueName('moved')}@example.com`
    t.equal((await a.app.inject({ method: 'PATCH', url: '/auth/users/me/', headers: bearer(access), payload: { email: newEmail } })).statusCode, 200)
    t.equal((await row(a, id))?.isActive, false, 'deactivated by the email change')
    onlyToken(t, await activate(a, link), 'the first activation link')
    t.equal((await row(a, id))?.isActive, false, 'still inactive')
    t.equal((await activate(a, linkFrom(a.mailer, newEmail))).statusCode, 204, 'the new link activates')
  })
})

t.test('the uid is another user\'s (with this user\'s token)', async t => {
  for (const kind of RESETS) {
    t.test(kind.name, async t => {
      const a = await setup(t)
      const bob = await setup(t)
      const link = await kind.request(a, a.email)
      const [aliceBefore, bobBefore] = [await row(a, a.user.id), await row(a, bob.user.id)]
      onlyToken(t, await kind.use(a, { uid: encodeUid(bob.user.id), token: link.token }, ++serial), 'bob\'s uid, alice\'s token')
      t.same(await row(a, bob.user.id), bobBefore, 'bob unchanged')
      t.same(await row(a, a.user.id), aliceBefore, 'alice unchanged')
      t.equal((await kind.use(a, link, ++serial)).statusCode, 204, 'alice\'s link, untampered, still works')
    })
  }

  t.test('activation', async t => {
    const a = await setup(t)
    const alice = await inactiveUser(a)
    const bob = await inactiveUser(a)
    onlyToken(t, await activate(a, { uid: encodeUid(bob.id), token: alice.link.token }), 'bob\'s uid, alice\'s token')
    t.equal((await row(a, bob.id))?.isActive, false, 'bob still inactive')
    t.equal((await row(a, alice.id))?.isActive, false, 'alice still inactive')
    t.equal((await activate(a, alice.link)).statusCode, 204, 'alice\'s link still works')
    t.equal((await activate(a, bob.link)).statusCode, 204, 'bob\'s too')
  })

  t.test('a uid that encodes the same id differently is not accepted either', async t => {
    const a = await setup(t)
    const link = await RESETS[0].request(a, a.email)
    const padded = Buffer.from(`0${a.user.id}`).toString('base64url')
    t.equal((await RESETS[0].use(a, { uid: padded, token: link.token }, ++serial)).statusCode, 400, `uid of "0${a.user.id}"`)
    t.equal((await RESETS[0].use(a, link, ++serial)).statusCode, 204, 'the real link still works')
  })
})

t.test('the token is another user\'s (with this user\'s uid)', async t => {
  for (const kind of RESETS) {
    t.test(kind.name, async t => {
      const a = await setup(t)
      const bob = await setup(t)
      const aliceLink = await kind.request(a, a.email)
      const bobLink = await kind.request(a, bob.email)
      const [aliceBefore, bobBefore] = [await row(a, a.user.id), await row(a, bob.user.id)]
      onlyToken(t, await kind.use(a, { uid: aliceLink.uid, token: bobLink.token }, ++serial), 'alice\'s uid, bob\'s token')
      t.same(await row(a, a.user.id), aliceBefore, 'alice unchanged')
      t.same(await row(a, bob.user.id), bobBefore, 'bob unchanged')
      t.equal((await kind.use(a, bobLink, ++serial)).statusCode, 204, 'bob\'s link still works for bob')
      t.equal((await kind.use(a, aliceLink, ++serial)).statusCode, 204, 'alice\'s for alice')
    })
  }

  t.test('activation', async t => {
    const a = await setup(t)
    const alice = await inactiveUser(a)
    const bob = await inactiveUser(a)
    onlyToken(t, await activate(a, { uid: alice.link.uid, token: bob.link.token }), 'alice\'s uid, bob\'s token')
    t.equal((await row(a, alice.id))?.isActive, false, 'alice still inactive')
    t.equal((await row(a, bob.id))?.isActive, false, 'bob still inactive')
    t.equal((await activate(a, bob.link)).statusCode, 204, 'bob\'s link still works for bob')
  })
})
