// passwordValidation.validators: validators of the app's own (a breached-password lookup, say), async, run
// after the built-in ones at registration, password change and reset, their messages under the password
// field; one that throws fails closed (503) and changes nothing (ASVS 2.1.7's hook; issue 13 item 7).
import t from 'tap'
import { activeUser, buildApp, json, linkFrom, PASSWORD } from './helpers/app.js'
import { bearer, send } from './helpers/users.js'

const BREACHED = 'Tr0ub4dor&3-breached'
const breached = async (password: string): Promise<string[]> => {
  await new Promise((resolve) => setTimeout(resolve, 5))
  return password === BREACHED ? ['This password has appeared in a data breach.'] : []
}

t.test('registration, change and reset refuse what the app\'s own validator refuses', async t => {
  const seen: Array<{ username?: string, email?: string }> = []
  const app = await buildApp({ sendActivationEmail: false, passwordValidation: { validators: [breached, async (_p, user) => { seen.push(user); return [] }] } })
  t.teardown(() => app.app.close())

  const refused = await send(app, 'POST', '/auth/users/', { username: 'bob', email: 'bob@example.com', password: BREACHED })
  t.equal(refused.statusCode, 400)
  t.same(json(refused), { password: ['This password has appeared in a data breach.'] })
  t.equal((await app.users.listUsers()).length, 0, 'no user')
  t.match(seen.at(-1), { username: 'bob', email: 'bob@example.com' }, 'validators see the would-be user')

  const { access } = await activeUser(app, 'alice')
  const change = await send(app, 'POST', '/auth/users/set_password/', { current_password: PASSWORD, new_password: BREACHED }, bearer(access))
  t.equal(change.statusCode, 400)
  t.same(json(change), { new_password: ['This password has appeared in a data breach.'] })
  t.equal((await send(app, 'POST', '/auth/jwt/create/', { username: 'alice', password: PASSWORD })).statusCode, 200, 'the old password still works')

  await send(app, 'POST', '/auth/users/reset_password/', { email: 'alice@example.com' })
  await app.app.accounts.users.mailsSent()
  const reset = await send(app, 'POST', '/auth/users/reset_password_confirm/', { ...linkFrom(app.mailer, 'alice@example.com'), new_password: BREACHED })
  t.equal(reset.statusCode, 400)
  t.same(json(reset), { new_password: ['This password has appeared in a data breach.'] })

  t.equal((await send(app, 'POST', '/auth/users/set_password/', { current_password: PASSWORD, new_password: 'a-fine-new-passphrase-42' }, bearer(access))).statusCode, 204, 'a clean password passes')
})

t.test('the built-in messages come first, the app\'s after', async t => {
  const app = await buildApp({ sendActivationEmail: false, passwordValidation: { validators: [() => ['House rule: no horses.']] } })
  t.teardown(() => app.app.close())
  const res = await send(app, 'POST', '/auth/users/', { username: 'carol', email: 'carol@example.com', password: 'Zq7!k' })
  t.same(json(res), { password: ['The password is too short: it must be at least 8 characters long.', 'House rule: no horses.'] })
})

t.test('a validator that throws (the breach service is down) fails closed: 503, nothing created', async t => {
  const app = await buildApp({ sendActivationEmail: false, passwordValidation: { validators: [async () => { throw new Error('breach API timeout') }] } })
  t.teardown(() => app.app.close())
  const res = await send(app, 'POST', '/auth/users/', { username: 'dave', email: 'dave@example.com', password: 'a-fine-passphrase-42' })
  t.equal(res.statusCode, 503)
  t.same(json(res), { detail: 'Password checking is unavailable. Try again later.' })
  t.equal((await app.users.listUsers()).length, 0)
})

t.test('a validators option that is not a list of functions is refused at registration', async t => {
  await t.rejects(buildApp({ passwordValidation: { validators: ['nope'] as unknown as [] } }), { name: 'OptionsError', message: /passwordValidation\.validators must be an array of functions/ })
})
