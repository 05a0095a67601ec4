import Fastify, { type LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import accounts, { MemoryMailer, type AccountsOptions } from '../lib/index.js'
import type { MfaService } from '../lib/mfa/service.js'
import { qrCodeDataUri } from '../lib/mfa/totp.js'
import { MemoryTokenStore, MemoryUserStore } from '../lib/stores/memory.js'
import { activeUser, buildApp, fastHasher, linkFrom, PASSWORD, SECRET, type TestApp } from './helpers/app.js'
import { body, codeAt, fixClock, recordMfaEvents, secretOf, STEP, type Clock } from './helpers/mfa.js'

interface App extends TestApp {
  clock: Clock
  post: (path: string, payload?: object, access?: string) => Promise<LightMyRequestResponse>
  get: (path: string, access?: string) => Promise<LightMyRequestResponse>
}

async function build (t: Test, overrides: Partial<Omit<AccountsOptions, 'jwt'>> = {}): Promise<App> {
  const built = await buildApp({ mfa: true, ...overrides })
  t.teardown(async () => { await built.app.close() })
  const auth = (access?: string): Record<string, string> => access === undefined ? {} : { authorization: access.startsWith('Token ') ? access : `Bearer ${access}` }
  return {
    ...built,
    clock: fixClock(built.app),
    post: async (path, payload, access) => await built.app.inject({ method: 'POST', url: `/auth${path}`, payload: payload ?? {}, headers: auth(access) }),
    get: async (path, access) => await built.app.inject({ method: 'GET', url: `/auth${path}`, headers: auth(access) })
  }
}

/** Turns on the `app` method for the user of `access`: the secret and the backup codes. */
async function turnOn (a: App, access: string): Promise<{ secret: string, codes: string[] }> {
  const secret = secretOf(body(await a.post('/app/activate/', {}, access)).details as string)
  const res = await a.post('/app/activate/confirm/', { code: codeAt(secret, a.clock.now) }, access)
  if (res.statusCode !== 200) throw new Error(`confirm: ${res.body}`)
  return { secret, codes: body(res).backup_codes as string[] }
}

t.test('trench\'s flow: activate app, confirm, sign in in two steps, regenerate, deactivate', async (t) => {
  const a = await build(t)
  const events = recordMfaEvents(a.app)
  const { access } = await activeUser(a)

  t.same(body(await a.get('/mfa/config/')), { methods: ['app'], confirm_disable_with_code: true, confirm_regeneration_with_code: true, allow_backup_codes_regeneration: true })
  t.same(body(await a.get('/mfa/user-active-methods/', access)), [])
  const plain = await a.post('/login/', { username: 'alice', password: PASSWORD })
  t.same(Object.keys(body(plain)).sort(), ['access', 'refresh'], 'without MFA, trench\'s login/ answers the pair')

  const started = await a.post('/app/activate/', {}, access)
  t.equal(started.statusCode, 200)
  const uri = body(started).details as string
  t.match(uri, /^otpauth:\/\/totp\/fastify-accounts:alice\?/, 'trench labels the account with the username')
  // Ours beside trench's key: the QR code of that URI, drawn by the server as dj-rest-auth's qr_code_data_uri.
  t.same(Object.keys(body(started)).sort(), ['details', 'qr_code_data_uri'])
  const qr = body(started).qr_code_data_uri as string
  t.match(qr, /^data:image\/svg\+xml;base64,/, 'an SVG data URI, for an <img>')
  t.match(Buffer.from(qr.slice(qr.indexOf(',') + 1), 'base64').toString('utf8'), /^<svg [^>]*viewBox="0 0 \d+ \d+"[\s\S]*<\/svg>\s*$/, 'an SVG document')
  t.equal(qr, await qrCodeDataUri(uri), 'the QR code of the otpauth:// URI in details')
  t.equal(started.headers['cache-control'], 'no-store', 'the secret is not cached')
  t.equal(body(await a.post('/app/activate/', {}, access)).details, uri, 'the same secret until confirmed')
  const secret = secretOf(uri)
  t.same(body(await a.get('/mfa/user-active-methods/', access)), [], 'pending is not active')
  t.match(body(await a.post('/login/', { username: 'alice', password: PASSWORD })), { access: String }, 'pending does not ask for a code')

  const wrong = await a.post('/app/activate/confirm/', { code: codeAt(secret, a.clock.now + 3 * STEP) }, access)
  t.same([wrong.statusCode, body(wrong)], [400, { code: ['Code invalid or expired.'] }])
  const confirmed = await a.post('/app/activate/confirm/', { code: codeAt(secret, a.clock.now) }, access)
  t.equal(confirmed.statusCode, 200)
  const codes = body(confirmed).backup_codes as string[]
  t.equal(codes.length, 10)
  t.same(body(await a.get('/mfa/user-active-methods/', access)), [{ name: 'app', is_primary: true }])
  const twice = await a.post('/app/activate/confirm/', { code: codeAt(secret, a.clock.now + STEP) }, access)
  t.same([twice.statusCode, body(twice)], [400, { code: ['MFA method already active.'] }])
  const restart = await a.post('/app/activate/', {}, access)
  t.same([restart.statusCode, body(restart)], [400, { error: 'MFA method already active.' }])

  for (const path of ['/login/', '/jwt/create/', '/token/login/']) {
    const res = await a.post(path, { username: 'alice', password: PASSWORD })
    t.equal(res.statusCode, 200, `${path}: 200`)
    t.same(Object.keys(body(res)).sort(), ['ephemeral_token', 'method'], `${path}: trench's first step, no token`)
    t.equal(body(res).method, 'app')
  }
  const badPassword = await a.post('/login/', { username: 'alice', password: 'nope-nope-nope' })
  t.same([badPassword.statusCode, body(badPassword)], [400, { error: 'Unable to login with provided credentials.' }])
  const missing = await a.post('/login/', { username: 'alice' })
  t.equal(missing.statusCode, 400)
  t.ok(Array.isArray(body(missing).password), '{password: [..]}')

  a.clock.now += STEP
  const first = body(await a.post('/jwt/create/', { username: 'alice', password: PASSWORD }))
  const second = await a.post('/login/code/', { ephemeral_token: first.ephemeral_token, code: codeAt(secret, a.clock.now) })
  t.equal(second.statusCode, 200)
  t.same(Object.keys(body(second)).sort(), ['access', 'refresh'])
  t.equal((await a.get('/users/me/', body(second).access as string)).statusCode, 200, 'the access token works')

  a.clock.now += STEP
  const opaque = body(await a.post('/token/login/', { username: 'alice', password: PASSWORD }))
  const withToken = await a.post('/login/code/', { ephemeral_token: opaque.ephemeral_token, code: codeAt(secret, a.clock.now) })
  t.match(body(withToken), { auth_token: /^[0-9a-f]{40}$/ }, 'after token/login/, the second step answers an opaque token')
  t.equal((await a.get('/users/me/', `Token ${body(withToken).auth_token as string}`)).statusCode, 200)

  const noCode = await a.post('/app/codes/regenerate/', {}, access)
  t.equal(noCode.statusCode, 400)
  t.ok(Array.isArray(body(noCode).code), 'CONFIRM_BACKUP_CODES_REGENERATION_WITH_CODE: {code: [..]}')
  const badRegen = await a.post('/app/codes/regenerate/', { code: '000000' }, access)
  t.same([badRegen.statusCode, body(badRegen)], [400, { code: ['Code invalid or expired.'] }])
  const regen = await a.post('/app/codes/regenerate/', { code: codes[0] }, access)
  t.equal(regen.statusCode, 200, 'a backup code confirms it')
  const fresh = body(regen).backup_codes as string[]
  t.equal(fresh.length, 10)

  const offWrong = await a.post('/app/deactivate/', { code: codes[1] }, access)
  t.same([offWrong.statusCode, body(offWrong)], [400, { code: ['Code invalid or expired.'] }], 'old backup codes are gone')
  const off = await a.post('/app/deactivate/', { code: fresh[0] }, access)
  t.equal(off.statusCode, 204)
  const offAgain = await a.post('/app/deactivate/', { code: fresh[1] }, access)
  t.same([offAgain.statusCode, body(offAgain)], [400, { code: ['2FA is not enabled.'] }])
  t.match(body(await a.post('/jwt/create/', { username: 'alice', password: PASSWORD })), { access: String }, 'tokens at once again')

  t.same(events.map((e) => e.name), [
    'mfa.failed', 'mfa.activated', 'mfa.verified', 'mfa.verified', 'mfa.failed', 'mfa.verified', 'mfa.recoveryCodesRegenerated',
    'mfa.failed', 'mfa.verified', 'mfa.deactivated'
  ])
})

t.test('trench\'s refusals: unknown method, bad or replayed ephemeral token, reused code, used backup code, expiry', async (t) => {
  const a = await build(t)
  const { access } = await activeUser(a)
  const unknown = await a.post('/email/activate/', {}, access)
  t.same([unknown.statusCode, body(unknown)], [400, { error: 'Requested MFA method does not exist.' }])
  for (const path of ['/sms_api/activate/confirm/', '/yubi/deactivate/', '/email/codes/regenerate/']) {
    const res = await a.post(path, { code: '123456' }, access)
    t.same([res.statusCode, body(res)], [400, { code: ['Requested MFA method does not exist.'] }], path)
  }
  const notStarted = await a.post('/app/activate/confirm/', { code: '123456' }, access)
  t.same([notStarted.statusCode, body(notStarted)], [400, { code: ['Requested MFA method does not exist.'] }], 'confirm before activate')
  const offFirst = await a.post('/app/deactivate/', { code: '123456' }, access)
  t.same([offFirst.statusCode, body(offFirst)], [400, { code: ['2FA is not enabled.'] }])
  for (const path of ['/app/activate/', '/app/activate/confirm/', '/app/deactivate/', '/app/codes/regenerate/']) {
    t.equal((await a.post(path, { code: '123456' })).statusCode, 401, `${path} needs a user`)
  }
  t.equal((await a.get('/mfa/user-active-methods/')).statusCode, 401)

  const { secret, codes } = await turnOn(a, access)
  const eph = body(await a.post('/login/', { username: 'alice', password: PASSWORD })).ephemeral_token as string
  const activationCode = await a.post('/login/code/', { ephemeral_token: eph, code: codeAt(secret, a.clock.now) })
  t.same([activationCode.statusCode, body(activationCode)], [401, { error: 'Invalid or expired code.' }], 'the confirming code is spent')
  const wrongStep = await a.post('/login/code/', { ephemeral_token: eph, code: codeAt(secret, a.clock.now - 2 * STEP) })
  t.same([wrongStep.statusCode, body(wrongStep)], [401, { error: 'Invalid or expired code.' }], 'a code from the wrong step')
  const badToken = await a.post('/login/code/', { ephemeral_token: 'j.nothing', code: codeAt(secret, a.clock.now + STEP) })
  t.same([badToken.statusCode, body(badToken)], [401, { error: 'Invalid or expired token.' }])
  a.clock.now += STEP
  const good = codeAt(secret, a.clock.now)
  t.equal((await a.post('/login/code/', { ephemeral_token: eph, code: good })).statusCode, 200)
  const replayed = await a.post('/login/code/', { ephemeral_token: eph, code: codes[0] })
  t.same([replayed.statusCode, body(replayed)], [401, { error: 'Invalid or expired token.' }], 'a used ephemeral token')
  const eph2 = body(await a.post('/login/', { username: 'alice', password: PASSWORD })).ephemeral_token as string
  const reused = await a.post('/login/code/', { ephemeral_token: eph2, code: good })
  t.same([reused.statusCode, body(reused)], [401, { error: 'Invalid or expired code.' }], 'a code used once')
  t.equal((await a.post('/login/code/', { ephemeral_token: eph2, code: codes[0] })).statusCode, 200, 'a backup code')
  const eph3 = body(await a.post('/login/', { username: 'alice', password: PASSWORD })).ephemeral_token as string
  const usedBackup = await a.post('/login/code/', { ephemeral_token: eph3, code: codes[0] })
  t.same([usedBackup.statusCode, body(usedBackup)], [401, { error: 'Invalid or expired code.' }], 'a used backup code')
  a.clock.now += 301_000
  const expired = await a.post('/login/code/', { ephemeral_token: eph3, code: codeAt(secret, a.clock.now) })
  t.same([expired.statusCode, body(expired)], [401, { error: 'Invalid or expired token.' }], 'expired after 5 minutes')
  const missing = await a.post('/login/code/', { ephemeral_token: eph3 })
  t.equal(missing.statusCode, 400)
  t.ok(Array.isArray(body(missing).code))
})

t.test('a password reset leaves MFA on; deleting the account deletes its MFA records', async (t) => {
  const a = await build(t, { sendActivationEmail: false })
  const { access, id } = await activeUser(a)
  await turnOn(a, access)
  t.equal((await a.post('/users/reset_password/', { email: 'alice@example.com' })).statusCode, 204)
  const link = linkFrom(a.mailer, 'alice@example.com')
  t.equal((await a.post('/users/reset_password_confirm/', { ...link, new_password: 'another-long-passphrase-42' })).statusCode, 204)
  // The reset set the sessions cut-off at the real time: the MFA clock moves past it (a first step before it is over).
  a.clock.now = Math.max(a.clock.now, Date.now()) + STEP
  const login = await a.post('/jwt/create/', { username: 'alice', password: 'another-long-passphrase-42' })
  t.same(Object.keys(body(login)).sort(), ['ephemeral_token', 'method'], 'still two steps after the reset')

  const mfa = a.app.accounts.mfa as MfaService
  const fresh = await a.post('/token/login/', { username: 'alice', password: 'another-long-passphrase-42' })
  t.ok(body(fresh).ephemeral_token)
  // A session from before the reset is over: sign in again with a (recovery) code to delete the account.
  const secret = (await mfa.store.findAuthenticator(id, 'totp')) !== null
  t.ok(secret, 'the authenticator is there')
  const recovery = await mfa.regenerateRecoveryCodes({ id, username: 'alice', email: 'alice@example.com' }, null)
  const pair = body(await a.post('/login/code/', { ephemeral_token: body(login).ephemeral_token, code: recovery[0] }))
  const deleted = await a.app.inject({ method: 'DELETE', url: '/auth/users/me/', headers: { authorization: `Bearer ${pair.access as string}` }, payload: { current_password: 'another-long-passphrase-42' } })
  t.equal(deleted.statusCode, 204)
  t.equal(await mfa.store.findAuthenticator(id, 'totp'), null, 'authenticator gone')
  t.equal(await mfa.store.countRecoveryCodes(id), 0, 'recovery codes gone')
})

t.test('wrong codes at login/code/ spend the account\'s failure budget', async (t) => {
  const a = await build(t, { rateLimit: { perAccountFailures: { max: 2, timeWindow: 900 }, perIp: { max: 1000, timeWindow: 60 } } })
  const { access } = await activeUser(a)
  const { secret } = await turnOn(a, access)
  const eph = body(await a.post('/login/', { username: 'alice', password: PASSWORD })).ephemeral_token as string
  t.equal((await a.post('/login/code/', { ephemeral_token: eph, code: '000000' })).statusCode, 401)
  t.equal((await a.post('/login/code/', { ephemeral_token: eph, code: '000001' })).statusCode, 401)
  a.clock.now += STEP
  t.equal((await a.post('/login/code/', { ephemeral_token: eph, code: codeAt(secret, a.clock.now) })).statusCode, 429, 'spent')
  t.equal((await a.post('/jwt/create/', { username: 'alice', password: PASSWORD })).statusCode, 429, 'the password login too')
})

t.test('no other dialect issues tokens on the password alone to a user with MFA on', async (t) => {
  for (const [dialect, path] of [['sanic-jwt', '/auth/'], ['drf-jwt', '/auth/api-token-auth/']] as const) {
    const users = new MemoryUserStore()
    const app = Fastify({ logger: false })
    t.teardown(async () => { await app.close() })
    await app.register(accounts, {
      prefix: '/auth', dialect, mfa: true, store: { users, tokens: new MemoryTokenStore() }, mailer: new MemoryMailer(), passwordHasher: fastHasher, rateLimit: false, jwt: { signingKey: SECRET }
    })
    await app.ready()
    const alice = await users.createUser({ username: 'alice', email: 'alice@example.com', password: await fastHasher.hash(PASSWORD), isActive: true })
    const mfa = app.accounts.mfa as MfaService
    const clock = fixClock(app)
    const before = await app.inject({ method: 'POST', url: path, payload: { username: 'alice', password: PASSWORD } })
    t.equal(before.statusCode, 200, `${dialect}: tokens before MFA`)
    const setup = await mfa.beginActivation(alice)
    await mfa.confirmActivation(alice, setup.activationToken, codeAt(setup.secret, clock.now))
    const after = await app.inject({ method: 'POST', url: path, payload: { username: 'alice', password: PASSWORD } })
    t.equal(after.statusCode, 403, `${dialect}: refused`)
    t.notMatch(after.body, /eyJ/, `${dialect}: no token in the answer`)
    t.match(after.body, /Two-factor authentication is required/, `${dialect}: says why, in its shape: ${after.body}`)
    const wrong = await app.inject({ method: 'POST', url: path, payload: { username: 'alice', password: 'wrong-password-123' } })
    t.not(wrong.statusCode, 403, `${dialect}: a wrong password is still the usual refusal`)
  }
})
