import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import accounts, { MemoryMailer, type AccountsOptions } from '../lib/index.js'
import { MemoryTokenStore, MemoryUserStore } from '../lib/stores/memory.js'
import { fastHasher, linkFrom, PASSWORD, SECRET } from './helpers/app.js'
import { body, codeAt, fixClock, recordMfaEvents, STEP, T0, type Clock } from './helpers/mfa.js'

interface App {
  app: FastifyInstance
  mailer: MemoryMailer
  clock: Clock
  post: (path: string, payload?: object, access?: string) => Promise<LightMyRequestResponse>
  get: (path: string, access?: string) => Promise<LightMyRequestResponse>
}

type Overrides = Partial<Omit<AccountsOptions, 'jwt'>>

/** The dj-rest-auth dialect under /auth with MFA on (JWT mode, no email verification, fixed MFA clock). */
async function build (t: Test, overrides: Overrides = {}, dj: Record<string, unknown> = {}): Promise<App> {
  const mailer = new MemoryMailer()
  const app = Fastify({ logger: false })
  await app.register(accounts, {
    prefix: '/auth',
    dialect: 'dj-rest-auth',
    store: { users: new MemoryUserStore(), tokens: new MemoryTokenStore() },
    mailer,
    passwordHasher: fastHasher,
    rateLimit: false,
    djRestAuth: { emailVerification: 'none', useJwt: true, jwtAuthHttpOnly: false, mfa: true, ...dj },
    ...overrides,
    jwt: { signingKey: SECRET }
  })
  await app.ready()
  t.teardown(async () => { await app.close() })
  const auth = (access?: string): Record<string, string> => access === undefined ? {} : { authorization: `Bearer ${access}` }
  return {
    app,
    mailer,
    clock: fixClock(app),
    post: async (path, payload, access) => await app.inject({ method: 'POST', url: `/auth${path}`, payload: payload ?? {}, headers: auth(access) }),
    get: async (path, access) => await app.inject({ method: 'GET', url: `/auth${path}`, headers: auth(access) })
  }
}

async function signUp (a: App, username = 'alice'): Promise<string> {
  const res = await a.post('/registration/', { username, email: `${username}@example.com`, password1: PASSWORD, password2: PASSWORD })
  if (res.statusCode !== 201) throw new Error(`registration: ${res.body}`)
  return body(res).access as string
}

/** Turns MFA on for the user of `access`; the secret, the recovery codes, and the step the activation spent. */
async function turnOn (a: App, access: string): Promise<{ secret: string, codes: string[] }> {
  const init = body(await a.get('/mfa/totp/activate/', access))
  const res = await a.post('/mfa/totp/activate/', { activation_token: init.activation_token, code: codeAt(init.secret as string, a.clock.now) }, access)
  if (res.statusCode !== 200) throw new Error(`activate: ${res.body}`)
  return { secret: init.secret as string, codes: body(res).recovery_codes as string[] }
}

async function loginStep (a: App, username = 'alice', password = PASSWORD): Promise<string> {
  const res = await a.post('/login/', { username, password })
  if (res.statusCode !== 200 || body(res).mfa_required !== true) throw new Error(`login: ${res.statusCode} ${res.body}`)
  return body(res).ephemeral_token as string
}

t.test('the whole flow: activate with the QR code\'s secret, sign in with a code, turn off', async (t) => {
  const a = await build(t)
  const events = recordMfaEvents(a.app)
  const access = await signUp(a)

  t.same(body(await a.get('/mfa/status/', access)), { mfa_enabled: false, created_at: null, last_used_at: null }, 'off at first')
  const login0 = await a.post('/login/', { username: 'alice', password: PASSWORD })
  t.match(body(login0), { access: String, refresh: String, user: { username: 'alice' } }, 'without MFA: the tokens at once')

  const init = await a.get('/mfa/totp/activate/', access)
  t.equal(init.statusCode, 200)
  t.equal(init.headers['cache-control'], 'no-store', 'the secret is not cached')
  const setup = body(init)
  t.same(Object.keys(setup).sort(), ['activation_token', 'qr_code_data_uri', 'secret', 'totp_url'])
  t.match(setup.secret, /^[A-Z2-7]{32}$/, 'base32, 160 bits')
  t.match(setup.totp_url, /^otpauth:\/\/totp\/fastify-accounts:alice%40example\.com\?/, 'issuer (siteName) and the email as the account')
  t.equal(new URL(setup.totp_url as string).searchParams.get('secret'), setup.secret)
  t.match(setup.qr_code_data_uri, /^data:image\/svg\+xml;base64,/)
  t.match(Buffer.from((setup.qr_code_data_uri as string).split(',')[1], 'base64').toString(), /^<svg[^>]*>[\s\S]*<\/svg>\s*$/, 'an SVG')
  t.same(body(await a.get('/mfa/status/', access)).mfa_enabled, false, 'GET alone turns nothing on')

  const secret = setup.secret as string
  const activated = await a.post('/mfa/totp/activate/', { activation_token: setup.activation_token, code: codeAt(secret, a.clock.now) }, access)
  t.equal(activated.statusCode, 200)
  const codes = body(activated).recovery_codes as string[]
  t.equal(codes.length, 10, 'MFA_RECOVERY_CODE_COUNT')
  const status = body(await a.get('/mfa/status/', access))
  t.match(status, { mfa_enabled: true, created_at: new Date(T0).toISOString(), last_used_at: new Date(T0).toISOString() })

  const login = await a.post('/login/', { username: 'alice', password: PASSWORD })
  t.equal(login.statusCode, 200)
  t.same(Object.keys(body(login)).sort(), ['ephemeral_token', 'mfa_required'], 'no token with the password alone')
  t.equal(body(login).mfa_required, true)
  t.equal(login.headers['set-cookie'], undefined, 'no cookie either')

  a.clock.now += STEP
  const verified = await a.post('/mfa/verify/', { ephemeral_token: body(login).ephemeral_token, code: codeAt(secret, a.clock.now) })
  t.equal(verified.statusCode, 200)
  t.match(body(verified), { access: String, refresh: String, user: { pk: Number, username: 'alice', email: 'alice@example.com' } }, 'the normal login response')
  const me = await a.get('/user/', body(verified).access as string)
  t.equal(me.statusCode, 200, 'the access token works')
  t.equal(body(await a.get('/mfa/status/', access)).last_used_at, new Date(a.clock.now).toISOString(), 'last used moves on')

  t.equal(body(await a.get('/mfa/recovery-codes/', access)).unused_count, 10)
  t.same(body(await a.get('/mfa/recovery-codes/', access)).codes, [], 'never listed again: only hashes are kept')

  a.clock.now += STEP
  const off = await a.post('/mfa/totp/deactivate/', { code: codeAt(secret, a.clock.now) }, access)
  t.equal(off.statusCode, 200)
  t.same(body(off), { detail: 'TOTP has been deactivated.' })
  t.same(body(await a.get('/mfa/status/', access)), { mfa_enabled: false, created_at: null, last_used_at: null })
  t.match(body(await a.post('/login/', { username: 'alice', password: PASSWORD })), { access: String }, 'tokens at once again')

  t.same(events.map((e) => [e.name, e.payload.method ?? e.payload.reason]), [
    ['mfa.activated', 'totp'], ['mfa.verified', 'totp'], ['mfa.verified', 'totp'], ['mfa.deactivated', 'totp']
  ])
  t.match(events[0].payload.request, { requestId: String, ip: '127.0.0.1' }, 'events carry the request')
})

t.test('activation is refused without its token, with a forged or foreign one, a wrong code, or twice', async (t) => {
  const a = await build(t)
  const alice = await signUp(a)
  const bob = await signUp(a, 'bob')
  const setup = body(await a.get('/mfa/totp/activate/', alice))
  const code = codeAt(setup.secret as string, a.clock.now)

  const missing = await a.post('/mfa/totp/activate/', { code }, alice)
  t.equal(missing.statusCode, 400)
  t.ok(Array.isArray(body(missing).activation_token), '{activation_token: [..]}')
  const forged = await a.post('/mfa/totp/activate/', { activation_token: 'v1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAA', code }, alice)
  t.same([forged.statusCode, body(forged)], [400, { activation_token: ['Invalid or expired activation token.'] }])
  const foreign = await a.post('/mfa/totp/activate/', { activation_token: setup.activation_token, code }, bob)
  t.same([foreign.statusCode, body(foreign)], [400, { activation_token: ['Invalid or expired activation token.'] }], 'bob cannot confirm alice\'s secret')
  const wrong = await a.post('/mfa/totp/activate/', { activation_token: setup.activation_token, code: codeAt(setup.secret as string, a.clock.now - 2 * STEP) }, alice)
  t.same([wrong.statusCode, body(wrong)], [400, { code: ['Invalid code. Please check your authenticator app and try again.'] }], 'a code of another step')
  const noCode = await a.post('/mfa/totp/activate/', { activation_token: setup.activation_token }, alice)
  t.equal(noCode.statusCode, 400)
  t.ok(Array.isArray(body(noCode).code))
  a.clock.now += 301_000
  const late = await a.post('/mfa/totp/activate/', { activation_token: setup.activation_token, code: codeAt(setup.secret as string, a.clock.now) }, alice)
  t.same([late.statusCode, body(late)], [400, { activation_token: ['Invalid or expired activation token.'] }], 'expired after MFA_EPHEMERAL_TOKEN_TIMEOUT')
  t.same(body(await a.get('/mfa/status/', alice)).mfa_enabled, false, 'nothing turned on')

  await turnOn(a, alice)
  const again = await a.post('/mfa/totp/activate/', { activation_token: body(await a.get('/mfa/totp/activate/', alice)).activation_token, code }, alice)
  t.same([again.statusCode, body(again)], [400, { detail: 'MFA is already enabled. Deactivate it before activating again.' }])

  for (const [method, path] of [['GET', '/mfa/totp/activate/'], ['POST', '/mfa/totp/activate/'], ['POST', '/mfa/verify/'], ['GET', '/mfa/status/'], ['GET', '/mfa/recovery-codes/'], ['POST', '/mfa/recovery-codes/regenerate/'], ['POST', '/mfa/totp/deactivate/']] as const) {
    if (path === '/mfa/verify/') continue
    const res = method === 'GET' ? await a.get(path) : await a.post(path, { code: '123456' })
    t.equal(res.statusCode, 401, `${method} ${path} needs a user`)
  }
})

t.test('sign-in refusals: reused code, wrong step, replayed or expired ephemeral token, used recovery code', async (t) => {
  const a = await build(t)
  const events = recordMfaEvents(a.app)
  const access = await signUp(a)
  const { secret, codes } = await turnOn(a, access)

  const eph = await loginStep(a)
  const spent = await a.post('/mfa/verify/', { ephemeral_token: eph, code: codeAt(secret, a.clock.now) })
  t.same([spent.statusCode, body(spent)], [400, { code: ['Invalid code.'] }], 'the code that activated MFA cannot sign in (its step is used)')
  const far = await a.post('/mfa/verify/', { ephemeral_token: eph, code: codeAt(secret, a.clock.now + 2 * STEP) })
  t.same([far.statusCode, body(far)], [400, { code: ['Invalid code.'] }], 'a code two steps ahead')
  const junk = await a.post('/mfa/verify/', { ephemeral_token: eph, code: 'not-a-code' })
  t.same([junk.statusCode, body(junk)], [400, { code: ['Invalid code.'] }])

  a.clock.now += STEP
  const good = codeAt(secret, a.clock.now)
  t.equal((await a.post('/mfa/verify/', { ephemeral_token: eph, code: good })).statusCode, 200, 'wrong codes did not burn the token')
  const replay = await a.post('/mfa/verify/', { ephemeral_token: eph, code: codeAt(secret, a.clock.now + STEP) })
  t.same([replay.statusCode, body(replay)], [400, { ephemeral_token: ['Invalid or expired token.'] }], 'a used ephemeral token')

  const eph2 = await loginStep(a)
  const reused = await a.post('/mfa/verify/', { ephemeral_token: eph2, code: good })
  t.same([reused.statusCode, body(reused)], [400, { code: ['Invalid code.'] }], 'a code accepted once is refused with a fresh token')
  const earlier = await a.post('/mfa/verify/', { ephemeral_token: eph2, code: codeAt(secret, a.clock.now - STEP) })
  t.same([earlier.statusCode, body(earlier)], [400, { code: ['Invalid code.'] }], 'an earlier step, inside the window, after a later one was used')

  a.clock.now += 301_000
  const expired = await a.post('/mfa/verify/', { ephemeral_token: eph2, code: codeAt(secret, a.clock.now) })
  t.same([expired.statusCode, body(expired)], [400, { ephemeral_token: ['Invalid or expired token.'] }], 'expired after 5 minutes')
  const forged = await a.post('/mfa/verify/', { ephemeral_token: 'j.forged', code: codeAt(secret, a.clock.now) })
  t.same([forged.statusCode, body(forged)], [400, { ephemeral_token: ['Invalid or expired token.'] }])
  const missing = await a.post('/mfa/verify/', { code: '123456' })
  t.equal(missing.statusCode, 400)
  t.ok(Array.isArray(body(missing).ephemeral_token), 'a missing field: {ephemeral_token: [..]}')

  const eph3 = await loginStep(a)
  const recovery = await a.post('/mfa/verify/', { ephemeral_token: eph3, code: codes[0].toUpperCase() })
  t.equal(recovery.statusCode, 200, 'a recovery code signs in (any case)')
  const eph4 = await loginStep(a)
  const usedRecovery = await a.post('/mfa/verify/', { ephemeral_token: eph4, code: codes[0] })
  t.same([usedRecovery.statusCode, body(usedRecovery)], [400, { code: ['Invalid code.'] }], 'a used recovery code')
  t.equal(body(await a.get('/mfa/recovery-codes/', access)).unused_count, 9)

  const regenerated = await a.post('/mfa/recovery-codes/regenerate/', {}, access)
  t.equal(regenerated.statusCode, 200)
  const fresh = body(regenerated).codes as string[]
  t.equal(fresh.length, 10)
  const old = await a.post('/mfa/verify/', { ephemeral_token: eph4, code: codes[1] })
  t.same([old.statusCode, body(old)], [400, { code: ['Invalid code.'] }], 'old codes stop working')
  t.equal((await a.post('/mfa/verify/', { ephemeral_token: eph4, code: fresh[3] })).statusCode, 200)

  const reasons = events.filter((e) => e.name === 'mfa.failed').map((e) => e.payload.reason)
  t.same(reasons, ['invalid-code', 'invalid-code', 'invalid-code', 'invalid-token', 'invalid-code', 'invalid-code', 'invalid-token', 'invalid-token', 'invalid-code', 'invalid-code'])
  t.equal(events.filter((e) => e.name === 'mfa.recoveryCodesRegenerated').length, 1)
})

t.test('deactivation needs a valid TOTP code; a password reset leaves MFA on', async (t) => {
  const a = await build(t)
  const access = await signUp(a)
  const { secret, codes } = await turnOn(a, access)

  const none = await a.post('/mfa/totp/deactivate/', {}, access)
  t.equal(none.statusCode, 400)
  t.ok(Array.isArray(body(none).code), 'no code: {code: [..]}')
  const wrong = await a.post('/mfa/totp/deactivate/', { code: '000000' }, access)
  t.same([wrong.statusCode, body(wrong)], [400, { code: ['Invalid code.'] }])
  const recovery = await a.post('/mfa/totp/deactivate/', { code: codes[0] }, access)
  t.same([recovery.statusCode, body(recovery)], [400, { code: ['Invalid code.'] }], 'dj-rest-auth takes a TOTP code only')
  t.equal(body(await a.get('/mfa/status/', access)).mfa_enabled, true, 'still on')

  await a.post('/password/reset/', { email: 'alice@example.com' })
  const link = linkFrom(a.mailer, 'alice@example.com')
  const reset = await a.post('/password/reset/confirm/', { uid: link.uid, token: link.token, new_password1: 'another-long-passphrase-42', new_password2: 'another-long-passphrase-42' })
  t.equal(reset.statusCode, 200, 'password reset')
  const login = await a.post('/login/', { username: 'alice', password: 'another-long-passphrase-42' })
  t.same(Object.keys(body(login)).sort(), ['ephemeral_token', 'mfa_required'], 'the new password still needs the code')

  // The reset set the sessions cut-off at the real time: the MFA clock moves past it (a first step before it is over).
  a.clock.now = Math.max(a.clock.now, Date.now()) + STEP
  const fresh = await loginStep(a, 'alice', 'another-long-passphrase-42')
  const signedIn = body(await a.post('/mfa/verify/', { ephemeral_token: fresh, code: codeAt(secret, a.clock.now) }))
  a.clock.now += STEP
  const off = await a.post('/mfa/totp/deactivate/', { code: codeAt(secret, a.clock.now) }, signedIn.access as string)
  t.equal(off.statusCode, 200)
  const again = await a.post('/mfa/totp/deactivate/', { code: codeAt(secret, a.clock.now + STEP) }, signedIn.access as string)
  t.same([again.statusCode, body(again)], [400, { detail: 'MFA is not enabled.' }])
  const regen = await a.post('/mfa/recovery-codes/regenerate/', {}, signedIn.access as string)
  t.same([regen.statusCode, body(regen)], [400, { detail: 'MFA is not enabled.' }])
})

t.test('token mode (no USE_JWT): verify answers {key}', async (t) => {
  const a = await build(t, {}, { useJwt: false, jwtAuthHttpOnly: true })
  const reg = await a.post('/registration/', { username: 'alice', email: 'alice@example.com', password1: PASSWORD, password2: PASSWORD })
  const key = body(reg).key as string
  const auth = { authorization: `Token ${key}` }
  const init = body(await a.app.inject({ method: 'GET', url: '/auth/mfa/totp/activate/', headers: auth }))
  const on = await a.app.inject({ method: 'POST', url: '/auth/mfa/totp/activate/', headers: auth, payload: { activation_token: init.activation_token, code: codeAt(init.secret as string, a.clock.now) } })
  t.equal(on.statusCode, 200)
  const eph = await loginStep(a)
  a.clock.now += STEP
  const verified = await a.post('/mfa/verify/', { ephemeral_token: eph, code: codeAt(init.secret as string, a.clock.now) })
  t.equal(verified.statusCode, 200)
  t.match(body(verified), { key: /^[0-9a-f]{40}$/ })
})

t.test('wrong codes spend the account\'s login failure budget', async (t) => {
  const a = await build(t, { rateLimit: { perAccountFailures: { max: 3, timeWindow: 900 }, perIp: { max: 1000, timeWindow: 60 } } })
  const access = await signUp(a)
  const { secret } = await turnOn(a, access)
  const eph = await loginStep(a)
  for (let i = 0; i < 3; i++) {
    t.equal((await a.post('/mfa/verify/', { ephemeral_token: eph, code: '000000' })).statusCode, 400, `wrong code ${i + 1}`)
  }
  a.clock.now += STEP
  const right = await a.post('/mfa/verify/', { ephemeral_token: eph, code: codeAt(secret, a.clock.now) })
  t.equal(right.statusCode, 429, 'budget spent: even the right code waits')
  t.ok(Number(right.headers['retry-after']) > 0)
  const password = await a.post('/login/', { username: 'alice', password: PASSWORD })
  t.equal(password.statusCode, 429, 'and so does the password login of that account')
})

t.test('djRestAuth.mfa beside a core without MFA is an options error', async (t) => {
  const app = Fastify({ logger: false })
  t.teardown(async () => { await app.close().catch(() => {}) })
  const { djRestAuthRoutes } = await import('../lib/dialects/dj-rest-auth/index.js')
  let failure: unknown = null
  try {
    await app.register(accounts, { prefix: '/djoser', sendActivationEmail: false, passwordHasher: fastHasher, rateLimit: false, jwt: { signingKey: SECRET } })
    await app.register(djRestAuthRoutes, { prefix: '/dj', mfa: true, emailVerification: 'none' })
    await app.ready()
  } catch (error) {
    failure = error
  }
  t.match(failure, { name: 'OptionsError', message: /djRestAuth\.mfa needs two-factor sign-in on in the plugin/ })
})

// What dj-rest-auth's feature/mfa source does that a first reading of its docs does not show.

t.test('verify: a user made inactive after the password step gets MFAVerifySerializer\'s {detail: [..]}, the token kept', async (t) => {
  const users = new MemoryUserStore()
  const a = await build(t, { store: { users, tokens: new MemoryTokenStore() } })
  const events = recordMfaEvents(a.app)
  const reg = await a.post('/registration/', { username: 'alice', email: 'alice@example.com', password1: PASSWORD, password2: PASSWORD })
  const { secret } = await turnOn(a, body(reg).access as string)
  const id = (body(reg).user as { pk: number }).pk
  const eph = await loginStep(a)

  await users.updateUser(id, { isActive: false })
  a.clock.now += STEP
  const refused = await a.post('/mfa/verify/', { ephemeral_token: eph, code: codeAt(secret, a.clock.now) })
  t.same([refused.statusCode, body(refused)], [400, { detail: ['User account is disabled.'] }], 'checked before the code, as the serializer does')
  const wrongCode = await a.post('/mfa/verify/', { ephemeral_token: eph, code: '000000' })
  t.same(body(wrongCode), { detail: ['User account is disabled.'] }, 'whatever the code')
  t.same(events.filter((e) => e.name === 'mfa.failed').map((e) => e.payload.reason), ['invalid-token', 'invalid-token'])

  await users.updateUser(id, { isActive: true })
  const back = await a.post('/mfa/verify/', { ephemeral_token: eph, code: codeAt(secret, a.clock.now) })
  t.equal(back.statusCode, 200, 'the refused code was not spent, nor the token')
  const other = await a.post('/mfa/verify/', { ephemeral_token: 'j.unknown', code: '000000' })
  t.same(body(other), { ephemeral_token: ['Invalid or expired token.'] }, 'a token naming nobody stays a token error')
})

t.test('activate/deactivate answer {detail} for MFA on/off before reading the body, as the views do', async (t) => {
  const a = await build(t)
  const access = await signUp(a)

  const offEmpty = await a.post('/mfa/totp/deactivate/', {}, access)
  t.same([offEmpty.statusCode, body(offEmpty)], [400, { detail: 'MFA is not enabled.' }], 'not {code: ["This field is required."]}')
  const offJunk = await a.post('/mfa/totp/deactivate/', { code: '' }, access)
  t.same(body(offJunk), { detail: 'MFA is not enabled.' })

  const { secret } = await turnOn(a, access)
  const onEmpty = await a.post('/mfa/totp/activate/', {}, access)
  t.same([onEmpty.statusCode, body(onEmpty)], [400, { detail: 'MFA is already enabled. Deactivate it before activating again.' }], 'not {activation_token: [..], code: [..]}')

  const noUser = await a.post('/mfa/totp/activate/', {})
  t.equal(noUser.statusCode, 401, 'authentication still comes first')
  t.match(body(noUser), { detail: String })
  t.equal((await a.post('/mfa/totp/deactivate/', {})).statusCode, 401)

  a.clock.now += STEP
  const none = await a.post('/mfa/totp/deactivate/', {}, access)
  t.same([none.statusCode, body(none)], [400, { code: ['This field is required.'] }], 'with MFA on, the body is checked as before')
  t.equal((await a.post('/mfa/totp/deactivate/', { code: codeAt(secret, a.clock.now) }, access)).statusCode, 200)
})

t.test('GET mfa/totp/activate/ with MFA on shows a new secret and changes nothing; the paths work without their slash', async (t) => {
  const a = await build(t)
  const access = await signUp(a)
  const { secret } = await turnOn(a, access)
  const again = await a.get('/mfa/totp/activate/', access)
  t.equal(again.statusCode, 200, 'TOTPActivateView.get does not check')
  t.not(body(again).secret, secret)
  t.equal(body(await a.get('/mfa/status', access)).mfa_enabled, true, 'mfa/status (re_path ^mfa/status/?$)')
  const eph = await loginStep(a)
  a.clock.now += STEP
  const verified = await a.post('/mfa/verify', { ephemeral_token: eph, code: codeAt(secret, a.clock.now) })
  t.equal(verified.statusCode, 200, 'the old secret still signs in: mfa/verify without its slash')
})

t.test('mfa/status/: a recovery code is a use too (MFAStatusView takes the later of TOTP\'s and the codes\' last_used_at)', async (t) => {
  const a = await build(t)
  const access = await signUp(a)
  const { codes } = await turnOn(a, access)
  a.clock.now += 10 * STEP
  const eph = await loginStep(a)
  t.equal((await a.post('/mfa/verify/', { ephemeral_token: eph, code: codes[2] })).statusCode, 200)
  t.equal(body(await a.get('/mfa/status/', access)).last_used_at, new Date(a.clock.now).toISOString())
})
