import t, { type Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { activeUser, buildApp, PASSWORD } from './helpers/app.js'
import { body, codeAt, fixClock, recordMfaEvents, secretOf, STEP, type Clock } from './helpers/mfa.js'
import type { TestApp } from './helpers/app.js'

interface App extends TestApp {
  clock: Clock
  post: (path: string, payload?: object | null, access?: string) => Promise<LightMyRequestResponse>
}

async function build (t: Test): Promise<App> {
  const built = await buildApp({ mfa: true })
  t.teardown(async () => { await built.app.close() })
  return {
    ...built,
    clock: fixClock(built.app),
    post: async (path, payload, access) => await built.app.inject({
      method: 'POST', url: `/auth${path}`, ...(payload === null ? {} : { payload: payload ?? {} }), headers: access === undefined ? {} : { authorization: `Bearer ${access}` }
    })
  }
}

t.test('code/request/', async (t) => {
  const a = await build(t)
  const { access } = await activeUser(a)
  t.equal((await a.post('/code/request/', {})).statusCode, 401, 'IsAuthenticated')
  const none = await a.post('/code/request/', {}, access)
  t.same([none.statusCode, body(none)], [400, { error: 'Requested MFA method does not exist.' }], 'no primary active method')
  const noBody = await a.post('/code/request/', null, access)
  t.same([noBody.statusCode, body(noBody)], [400, { error: 'Requested MFA method does not exist.' }], 'no body at all: as {}')
  const named = await a.post('/code/request/', { method: 'app' }, access)
  t.same([named.statusCode, body(named)], [400, { error: 'Requested MFA method does not exist.' }], 'app never set up')
  const sms = await a.post('/code/request/', { method: 'sms_twilio' }, access)
  t.same([sms.statusCode, body(sms)], [400, { method: ['Requested MFA method does not exist.'] }], 'a method not configured')
  const blank = await a.post('/code/request/', { method: '' }, access)
  t.same([blank.statusCode, body(blank)], [400, { method: ['This field may not be blank.'] }])

  const uri = body(await a.post('/app/activate/', {}, access)).details as string
  const pending = await a.post('/code/request/', { method: 'app' }, access)
  t.same([pending.statusCode, body(pending)], [200, { details: uri }], 'pending, named: the URI again, as trench')
  t.equal(pending.headers['cache-control'], 'no-store')
  const pendingPrimary = await a.post('/code/request/', {}, access)
  t.same([pendingPrimary.statusCode, body(pendingPrimary)], [400, { error: 'Requested MFA method does not exist.' }], 'pending is not the primary active one')

  await a.post('/app/activate/confirm/', { code: codeAt(secretOf(uri), a.clock.now) }, access)
  for (const payload of [{}, { method: 'app' }]) {
    const active = await a.post('/code/request/', payload, access)
    t.same([active.statusCode, body(active)], [200, { details: 'Use the code your authenticator app shows.' }], `active (${JSON.stringify(payload)}): no secret shown again`)
  }
})

t.test('mfa/change-primary-method/', async (t) => {
  const a = await build(t)
  const events = recordMfaEvents(a.app)
  const { access } = await activeUser(a)
  t.equal((await a.post('/mfa/change-primary-method/', { method: 'app', code: '123456' })).statusCode, 401)
  const missing = await a.post('/mfa/change-primary-method/', {}, access)
  t.same([missing.statusCode, body(missing)], [400, { method: ['This field is required.'], code: ['This field is required.'] }], 'ours reports both (trench: method first)')
  const other = await a.post('/mfa/change-primary-method/', { method: 'email', code: '123456' }, access)
  t.same([other.statusCode, body(other)], [400, { method: ['"email" is not a valid choice.'] }])
  const never = await a.post('/mfa/change-primary-method/', { method: 'app', code: '123456' }, access)
  t.same([never.statusCode, body(never)], [400, { code: ['Requested MFA method does not exist.'] }])

  const uri = body(await a.post('/app/activate/', {}, access)).details as string
  const secret = secretOf(uri)
  const pending = await a.post('/mfa/change-primary-method/', { method: 'app', code: codeAt(secret, a.clock.now) }, access)
  t.same([pending.statusCode, body(pending)], [400, { error: 'MFA Method selected as new primary method is not active' }])

  const codes = body(await a.post('/app/activate/confirm/', { code: codeAt(secret, a.clock.now) }, access)).backup_codes as string[]
  const wrong = await a.post('/mfa/change-primary-method/', { method: 'app', code: '000000' }, access)
  t.same([wrong.statusCode, body(wrong)], [400, { code: ['Code invalid or expired.'] }])
  const spent = await a.post('/mfa/change-primary-method/', { method: 'app', code: codeAt(secret, a.clock.now) }, access)
  t.same([spent.statusCode, body(spent)], [400, { code: ['Code invalid or expired.'] }], 'the confirming code is spent')
  a.clock.now += STEP
  const ok = await a.post('/mfa/change-primary-method/', { method: 'app', code: codeAt(secret, a.clock.now) }, access)
  t.same([ok.statusCode, ok.body], [204, ''])
  const backup = await a.post('/mfa/change-primary-method/', { method: 'app', code: codes[0] }, access)
  t.equal(backup.statusCode, 204, 'a backup code too')
  const again = await a.post('/mfa/change-primary-method/', { method: 'app', code: codes[0] }, access)
  t.same([again.statusCode, body(again)], [400, { code: ['Code invalid or expired.'] }], 'and it is spent')
  t.same(body(await a.app.inject({ method: 'GET', url: '/auth/mfa/user-active-methods/', headers: { authorization: `Bearer ${access}` } })), [{ name: 'app', is_primary: true }], 'nothing changed')
  t.same(events.filter((e) => e.payload.purpose === 'change-primary').map((e) => [e.name, e.payload.method ?? e.payload.reason]),
    [['mfa.failed', 'invalid-code'], ['mfa.failed', 'invalid-code'], ['mfa.verified', 'totp'], ['mfa.verified', 'recovery-code'], ['mfa.failed', 'invalid-code']])
  t.match(body(await a.post('/login/', { username: 'alice', password: PASSWORD })), { method: 'app' })
})
