import t from 'tap'
import type { AccountsEventName, AccountsEvents, RequestContext } from '../lib/index.js'
import { activeUser, buildApp, json, linkFrom, PASSWORD, type TestApp } from './helpers/app.js'

type Recorded = Array<{ event: AccountsEventName, payload: AccountsEvents[AccountsEventName] }>

const ACCOUNT_EVENTS: AccountsEventName[] = [
  'login.succeeded', 'login.failed', 'user.created', 'user.activated', 'user.updated', 'user.deleted',
  'password.changed', 'password.reset', 'username.changed'
]

async function recording (overrides = {}): Promise<TestApp & { events: Recorded, contexts: Array<RequestContext | null> }> {
  const a = await buildApp(overrides)
  const events: Recorded = []
  const contexts: Array<RequestContext | null> = []
  // The request context is kept apart (contexts[i] is events[i]'s): the assertions compare the event's own fields.
  for (const event of ACCOUNT_EVENTS) {
    a.app.accounts.events.on(event, ({ request, ...payload }) => {
      events.push({ event, payload })
      contexts.push(request)
    })
  }
  return { ...a, events, contexts }
}

const names = (events: Recorded): string[] => events.map((e) => e.event)

t.test('a whole account life emits one event per step, with ids and no secrets', async (t) => {
  const a = await recording()
  t.teardown(() => a.app.close())
  const { id, access } = await activeUser(a)
  t.same(names(a.events), ['user.created', 'user.activated', 'login.succeeded'])
  t.same(a.events[0].payload, { userId: id })
  for (const context of a.contexts) {
    t.match(context, { requestId: /^req-/, ip: '127.0.0.1', userAgent: 'lightMyRequest' }, 'each step names the request behind it')
  }
  const ids = new Set(a.contexts.map((context) => context?.requestId))
  t.equal(ids.size, 3, 'three requests, three request ids')

  a.events.length = 0
  const auth = { authorization: `Bearer ${access}` }
  await a.app.inject({ method: 'PATCH', url: '/auth/users/me/', headers: auth, payload: { email: 'new@example.com' } })
  t.same(a.events, [{ event: 'user.updated', payload: { userId: id, fields: ['email', 'isActive'] } }])
  await a.app.inject({ method: 'POST', url: '/auth/users/activation/', payload: linkFrom(a.mailer, 'new@example.com') })

  a.events.length = 0
  await a.app.inject({ method: 'POST', url: '/auth/users/set_username/', headers: auth, payload: { new_username: 'alicia', current_password: PASSWORD } })
  await a.app.inject({ method: 'POST', url: '/auth/users/set_password/', headers: auth, payload: { new_password: 'another-long-secret-9', current_password: PASSWORD } })
  t.same(a.events, [
    { event: 'username.changed', payload: { userId: id, field: 'username' } },
    { event: 'password.changed', payload: { userId: id } }
  ])

  a.events.length = 0
  await a.app.inject({ method: 'POST', url: '/auth/users/reset_password/', payload: { email: 'new@example.com' } })
  const reset = await a.app.inject({ method: 'POST', url: '/auth/users/reset_password_confirm/', payload: { ...linkFrom(a.mailer, 'new@example.com'), new_password: 'third-long-secret-77' } })
  t.equal(reset.statusCode, 204)
  t.same(a.events, [{ event: 'password.reset', payload: { userId: id } }])

  // The reset ended every session: a new login for the last step.
  const login = await a.app.inject({ method: 'POST', url: '/auth/jwt/create/', payload: { username: 'alicia', password: 'third-long-secret-77' } })
  t.equal(login.statusCode, 200, login.body)
  a.events.length = 0
  const fresh = { authorization: `Bearer ${(json(login) as { access: string }).access}` }
  const del = await a.app.inject({ method: 'DELETE', url: '/auth/users/me/', headers: fresh, payload: { current_password: 'third-long-secret-77' } })
  t.equal(del.statusCode, 204)
  t.same(a.events, [{ event: 'user.deleted', payload: { userId: id } }])
  t.notMatch(JSON.stringify(a.events), /secret|\$argon2|eyJ/, 'no password, hash or token in any payload')
})

t.test('failed logins say why, to the audit log only', async (t) => {
  const a = await recording({ sendActivationEmail: false })
  t.teardown(() => a.app.close())
  const { id } = await activeUser(a)
  await a.users.createUser({ username: 'sleepy', email: 'sleepy@example.com', password: await (await import('./helpers/app.js')).fastHasher.hash(PASSWORD), isActive: false })
  a.events.length = 0
  const attempts = [
    { username: 'nobody', password: PASSWORD },
    { username: 'alice', password: 'wrong-password-1' },
    { username: 'sleepy', password: PASSWORD }
  ]
  const bodies = new Set<string>()
  for (const payload of attempts) bodies.add((await a.app.inject({ method: 'POST', url: '/auth/jwt/create/', payload })).body)
  t.equal(bodies.size, 1, 'the client sees one answer for all three')
  t.match(a.events, [
    { event: 'login.failed', payload: { login: 'nobody', userId: null, reason: 'unknown-user' } },
    { event: 'login.failed', payload: { login: 'alice', userId: id, reason: 'wrong-password' } },
    { event: 'login.failed', payload: { login: 'sleepy', reason: 'inactive' } }
  ])
})

t.test('a throwing listener is logged and does not break the request', async (t) => {
  const a = await buildApp({ sendActivationEmail: false })
  t.teardown(() => a.app.close())
  let calls = 0
  a.app.accounts.events.on('user.created', () => { calls++; throw new Error('listener bug') })
  const res = await a.app.inject({ method: 'POST', url: '/auth/users/', payload: { username: 'bob', email: 'bob@example.com', password: PASSWORD } })
  t.equal(res.statusCode, 201)
  t.equal(calls, 1)
  t.equal((json(res) as { username: string }).username, 'bob')
})

t.test('off() and once() stop delivery', async (t) => {
  const a = await buildApp({ sendActivationEmail: false })
  t.teardown(() => a.app.close())
  const seen: string[] = []
  const listener = ({ userId }: { userId: number }): void => { seen.push(`on:${userId}`) }
  a.app.accounts.events.on('user.created', listener)
  a.app.accounts.events.once('user.created', ({ userId }) => { seen.push(`once:${userId}`) })
  await a.app.inject({ method: 'POST', url: '/auth/users/', payload: { username: 'u1', email: 'u1@example.com', password: PASSWORD } })
  a.app.accounts.events.off('user.created', listener)
  await a.app.inject({ method: 'POST', url: '/auth/users/', payload: { username: 'u2', email: 'u2@example.com', password: PASSWORD } })
  t.same(seen, ['on:1', 'once:1'])
})
