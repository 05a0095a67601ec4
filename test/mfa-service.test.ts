import t from 'tap'
import { AccountsEventEmitter, type AccountsEventName } from '../lib/events.js'
import { MfaKeys } from '../lib/mfa/crypto.js'
import { MfaService, normalizeRecoveryCode } from '../lib/mfa/service.js'
import { MemoryMfaStore } from '../lib/mfa/memory-store.js'
import { matchTotp, totpCode, TOTP_PERIOD } from '../lib/mfa/totp.js'
import type { User } from '../lib/ports.js'
import { tamperSignature } from './helpers/jwt.js'

const SECRET_KEY = 'test-secret-that-is-long-enough-0123456789'
// A fixed clock in the middle of a 30 s step, so ±1 step is exact.
const T0 = Date.UTC(2026, 0, 2, 3, 4, 15)
const STEP = TOTP_PERIOD * 1000

const alice: User = {
  id: 7, username: 'alice', email: 'alice@example.com', firstName: '', lastName: '', password: 'x', isActive: true, isStaff: false,
  isSuperuser: false, lastLogin: null, dateJoined: new Date(T0), sessionsValidAfter: null, keptSession: null
}

function setup (): { mfa: MfaService, store: MemoryMfaStore, events: Array<[AccountsEventName, unknown]>, clock: { now: number }, users: Map<number, User> } {
  const store = new MemoryMfaStore()
  const events: Array<[AccountsEventName, unknown]> = []
  const emitter = new AccountsEventEmitter(() => {})
  for (const name of ['mfa.activated', 'mfa.deactivated', 'mfa.verified', 'mfa.failed', 'mfa.recoveryCodesRegenerated'] as const) {
    emitter.on(name, (payload) => { events.push([name, payload]) })
  }
  const clock = { now: T0 }
  const users = new Map([[alice.id, { ...alice }]])
  const mfa = new MfaService({
    store,
    users: { findUserById: async (id) => users.get(id) ?? null },
    secretKey: SECRET_KEY,
    events: emitter,
    settings: { issuer: 'Acme', ephemeralTokenTimeout: 300, recoveryCodeCount: 10 },
    now: () => clock.now
  })
  return { mfa, store, events, clock, users }
}

async function enable (s: ReturnType<typeof setup>): Promise<{ secret: string, codes: string[] }> {
  const init = await s.mfa.beginActivation(alice)
  const codes = await s.mfa.confirmActivation(alice, init.activationToken, await totpCode(init.secret, s.clock.now))
  return { secret: init.secret, codes }
}

t.test('TOTP per RFC 6238: SHA-1, 6 digits, 30 s, one step of drift', async (t) => {
  // RFC 6238 appendix B, SHA-1 seed "12345678901234567890" (base32 GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ), 8 digits there: 6 here are its last 6.
  const rfc = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'
  t.equal(await totpCode(rfc, 59_000), '287082', 'T=59 (RFC: 94287082)')
  t.equal(await totpCode(rfc, 1111111109_000), '081804', 'T=1111111109 (RFC: 07081804)')
  const code = await totpCode(rfc, T0)
  t.equal(await matchTotp(rfc, code, T0), Math.floor(T0 / STEP), 'its own step')
  t.equal(await matchTotp(rfc, code, T0 + STEP), Math.floor(T0 / STEP), 'one step later: still, same step')
  t.equal(await matchTotp(rfc, code, T0 - STEP), Math.floor(T0 / STEP), 'one step earlier')
  t.equal(await matchTotp(rfc, code, T0 + 2 * STEP), null, 'two steps away: refused')
  t.equal(await matchTotp(rfc, '12345', T0), null, 'five digits')
  t.equal(await matchTotp(rfc, 'abcdef', T0), null, 'not digits')
  t.equal(await matchTotp('not base32!', code, T0), null, 'a broken secret is a refusal, not a throw')
})

t.test('secrets at rest: AES-256-GCM under an HKDF key, bound to the user; tokens sealed', async (t) => {
  const keys = new MfaKeys(SECRET_KEY)
  const sealed = keys.encryptSecret('JBSWY3DPEHPK3PXP', 7)
  t.notMatch(sealed, /JBSWY3DPEHPK3PXP/, 'not in clear')
  t.not(keys.encryptSecret('JBSWY3DPEHPK3PXP', 7), sealed, 'a fresh IV each time')
  t.equal(keys.decryptSecret(sealed, 7), 'JBSWY3DPEHPK3PXP')
  t.equal(keys.decryptSecret(sealed, 8), null, 'moved to another user: unreadable')
  t.equal(new MfaKeys('another-secret-that-is-long-enough-000000').decryptSecret(sealed, 7), null, 'another secretKey: unreadable')
  // The JWT helper's change (a character in the middle of the last part): a flip of the second-last character here
  // once set it to the letter it already was, in 1 run of 65, and the "tampered" value opened.
  const flipped = tamperSignature(sealed)
  t.not(flipped, sealed, 'the tampered copy differs')
  t.equal(keys.decryptSecret(flipped, 7), null, 'tampered: refused')
  t.equal(keys.decryptSecret('garbage', 7), null)
  t.equal(keys.openToken(keys.sealToken({ a: 1 }, 'p'), 'q'), null, 'a token of another purpose')
  t.same(keys.openToken(keys.sealToken({ a: 1 }, 'p'), 'p'), { a: 1 })
  t.not(keys.hash('x', 'recovery'), keys.hash('x', 'ephemeral'), 'hashes are per purpose')
})

t.test('activation: the activation token carries the secret; the code confirms it; recovery codes once', async (t) => {
  const s = setup()
  const init = await s.mfa.beginActivation(alice)
  t.match(init.totpUrl, /^otpauth:\/\/totp\/Acme:alice%40example\.com\?/)
  t.match(init.totpUrl, new RegExp(`secret=${init.secret}`))
  t.match(init.qrCodeDataUri, /^data:image\/svg\+xml;base64,/)
  t.match(Buffer.from(init.qrCodeDataUri.split(',')[1], 'base64').toString(), /^<svg/, 'an SVG')
  t.notMatch(init.activationToken, new RegExp(init.secret), 'the token does not show the secret')
  t.equal(await s.mfa.isEnabled(alice.id), false, 'nothing stored before confirmation')
  t.equal(await s.store.findAuthenticator(alice.id, 'totp'), null)

  const code = await totpCode(init.secret, T0)
  await t.rejects(s.mfa.confirmActivation(alice, 'forged', code), { code: 'ACCOUNTS_MFA_ACTIVATION_TOKEN' }, 'a forged token')
  await t.rejects(s.mfa.confirmActivation({ ...alice, id: 8 }, init.activationToken, code), { code: 'ACCOUNTS_MFA_ACTIVATION_TOKEN' }, 'another user\'s token')
  await t.rejects(s.mfa.confirmActivation(alice, init.activationToken, await totpCode(init.secret, T0 - 3 * STEP)), { code: 'ACCOUNTS_MFA_INVALID_CODE' }, 'a code of another step')
  s.clock.now = T0 + 301_000
  await t.rejects(s.mfa.confirmActivation(alice, init.activationToken, await totpCode(init.secret, s.clock.now)), { code: 'ACCOUNTS_MFA_ACTIVATION_TOKEN' }, 'expired after 5 minutes')
  s.clock.now = T0
  const codes = await s.mfa.confirmActivation(alice, init.activationToken, code)
  t.equal(codes.length, 10)
  t.equal(new Set(codes).size, 10, 'all different')
  for (const c of codes) t.match(c, /^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/)
  const stored = await s.store.findAuthenticator(alice.id, 'totp')
  t.notMatch(stored?.encryptedSecret ?? '', new RegExp(init.secret), 'stored encrypted')
  t.equal(stored?.active, true)
  t.equal(await s.mfa.recoveryCodesLeft(alice.id), 10)
  await t.rejects(s.mfa.confirmActivation(alice, init.activationToken, code), { code: 'ACCOUNTS_MFA_ALREADY_ENABLED' })
  t.same(s.events.map(([n]) => n), ['mfa.failed', 'mfa.failed', 'mfa.failed', 'mfa.failed', 'mfa.activated'])
})

t.test('sign-in: a code once, its step and earlier steps never again; ephemeral token single use, 5 minutes', async (t) => {
  const s = setup()
  const { secret } = await enable(s)
  // The activation code (step of T0) is spent.
  const eph1 = await s.mfa.startLogin(alice)
  await t.rejects(s.mfa.verifyLogin(eph1, await totpCode(secret, T0)), { code: 'ACCOUNTS_MFA_INVALID_CODE' }, 'the code that activated cannot sign in')
  s.clock.now = T0 + STEP
  const next = await totpCode(secret, s.clock.now)
  await t.rejects(s.mfa.verifyLogin('j.unknown', next), { code: 'ACCOUNTS_MFA_EPHEMERAL_TOKEN' }, 'an unknown token')
  await t.rejects(s.mfa.verifyLogin(eph1, await totpCode(secret, s.clock.now + 2 * STEP)), { code: 'ACCOUNTS_MFA_INVALID_CODE' }, 'a code two steps ahead')
  const { user } = await s.mfa.verifyLogin(eph1, next)
  t.equal(user.id, alice.id, 'signed in after wrong codes: a typo does not burn the token')
  await t.rejects(s.mfa.verifyLogin(eph1, next), { code: 'ACCOUNTS_MFA_EPHEMERAL_TOKEN' }, 'the token is used up')
  const eph2 = await s.mfa.startLogin(alice)
  await t.rejects(s.mfa.verifyLogin(eph2, next), { code: 'ACCOUNTS_MFA_INVALID_CODE' }, 'the same code again')
  await t.rejects(s.mfa.verifyLogin(eph2, await totpCode(secret, s.clock.now - STEP)), { code: 'ACCOUNTS_MFA_INVALID_CODE' }, 'a code of an earlier step, still in the window')
  s.clock.now += 301_000
  await t.rejects(s.mfa.verifyLogin(eph2, await totpCode(secret, s.clock.now)), { code: 'ACCOUNTS_MFA_EPHEMERAL_TOKEN' }, 'expired after 5 minutes')
  const eph3 = await s.mfa.startLogin(alice, 'token')
  t.match(await s.mfa.verifyLogin(eph3, await totpCode(secret, s.clock.now)), { flavour: 'token' }, 'the flavour comes back')
  t.equal(await s.mfa.verifyLogin(`t${eph1.slice(1)}`, 'x').catch((e: { code: string }) => e.code), 'ACCOUNTS_MFA_EPHEMERAL_TOKEN', 'an edited flavour finds no token')
  const eph4 = await s.mfa.startLogin(alice)
  s.users.set(alice.id, { ...alice, isActive: false })
  await t.rejects(s.mfa.verifyLogin(eph4, await totpCode(secret, s.clock.now + STEP)), { code: 'ACCOUNTS_MFA_EPHEMERAL_TOKEN' }, 'a deactivated user')
  const failed = s.events.filter(([n]) => n === 'mfa.failed').map(([, p]) => (p as { reason: string }).reason)
  t.same(failed, ['invalid-code', 'invalid-token', 'invalid-code', 'invalid-token', 'invalid-code', 'invalid-code', 'invalid-token', 'invalid-token', 'invalid-token'])
  t.equal(s.events.filter(([n, p]) => n === 'mfa.verified' && (p as { purpose: string }).purpose === 'login').length, 2)
})

t.test('concurrent second steps with one token and two codes: one signs in', async (t) => {
  const s = setup()
  const { secret, codes } = await enable(s)
  s.clock.now = T0 + STEP
  const eph = await s.mfa.startLogin(alice)
  const results = await Promise.allSettled([s.mfa.verifyLogin(eph, await totpCode(secret, s.clock.now)), s.mfa.verifyLogin(eph, codes[0])])
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
})

t.test('recovery codes: any case or spacing, each once; regeneration replaces them all', async (t) => {
  const s = setup()
  const { secret, codes } = await enable(s)
  const eph = await s.mfa.startLogin(alice)
  t.match(await s.mfa.verifyLogin(eph, ` ${codes[0].toUpperCase()} `), { user: { id: alice.id } })
  t.equal(s.events.at(-1)?.[0], 'mfa.verified')
  t.match(s.events.at(-1)?.[1], { method: 'recovery-code', purpose: 'login' })
  t.equal(await s.mfa.recoveryCodesLeft(alice.id), 9)
  const eph2 = await s.mfa.startLogin(alice)
  await t.rejects(s.mfa.verifyLogin(eph2, codes[0]), { code: 'ACCOUNTS_MFA_INVALID_CODE' }, 'a used code')
  t.equal(normalizeRecoveryCode(codes[1].replaceAll('-', '')), codes[1].replaceAll('-', ''), 'dashes are optional')
  t.equal(normalizeRecoveryCode('short'), null)
  await t.rejects(s.mfa.regenerateRecoveryCodes(alice, '000000'), { code: 'ACCOUNTS_MFA_INVALID_CODE' }, 'a code is checked when given')
  s.clock.now = T0 + STEP
  const fresh = await s.mfa.regenerateRecoveryCodes(alice, await totpCode(secret, s.clock.now))
  t.equal(fresh.length, 10)
  t.equal(await s.mfa.recoveryCodesLeft(alice.id), 10)
  await t.rejects(s.mfa.verifyLogin(eph2, codes[1]), { code: 'ACCOUNTS_MFA_INVALID_CODE' }, 'an old code no longer works')
  t.ok(await s.mfa.verifyLogin(eph2, fresh[9]))
  t.equal(s.events.filter(([n]) => n === 'mfa.recoveryCodesRegenerated').length, 1)
})

t.test('deactivation needs a valid code; dj-rest-auth takes TOTP only, trench a recovery code too', async (t) => {
  const s = setup()
  const { secret, codes } = await enable(s)
  await t.rejects(s.mfa.deactivate(alice, codes[0], { allowRecoveryCode: false }), { code: 'ACCOUNTS_MFA_INVALID_CODE' }, 'no recovery code for dj-rest-auth')
  await t.rejects(s.mfa.deactivate(alice, await totpCode(secret, T0), { allowRecoveryCode: false }), { code: 'ACCOUNTS_MFA_INVALID_CODE' }, 'a spent code')
  t.equal(await s.mfa.isEnabled(alice.id), true, 'still on')
  await s.mfa.deactivate(alice, codes[0], { allowRecoveryCode: true })
  t.equal(await s.mfa.isEnabled(alice.id), false)
  t.equal(await s.mfa.recoveryCodesLeft(alice.id), 0, 'recovery codes go with it')
  await t.rejects(s.mfa.deactivate(alice, '123456', { allowRecoveryCode: true }), { code: 'ACCOUNTS_MFA_NOT_ENABLED' })
  await t.rejects(s.mfa.regenerateRecoveryCodes(alice, null), { code: 'ACCOUNTS_MFA_NOT_ENABLED' })
  t.same(s.events.filter(([n]) => n === 'mfa.deactivated').length, 1)
})

t.test('trench: a pending secret stored encrypted until confirmed, the same one until then', async (t) => {
  const s = setup()
  const first = await s.mfa.beginPendingActivation(alice)
  const again = await s.mfa.beginPendingActivation(alice)
  t.equal(again.totpUrl, first.totpUrl, 'the same secret until confirmed')
  t.match(first.totpUrl, /^otpauth:\/\/totp\/Acme:alice\?/, 'trench labels with the username')
  const secret = new URL(first.totpUrl).searchParams.get('secret') as string
  const pending = await s.store.findAuthenticator(alice.id, 'totp')
  t.equal(pending?.active, false)
  t.notMatch(pending?.encryptedSecret ?? '', new RegExp(secret), 'encrypted at rest')
  t.equal(await s.mfa.isEnabled(alice.id), false, 'pending is not on')
  t.equal(await s.mfa.startLogin(alice).then(() => true), true)
  await t.rejects(s.mfa.confirmPendingActivation(alice, '000000'), { code: 'ACCOUNTS_MFA_INVALID_CODE' })
  const codes = await s.mfa.confirmPendingActivation(alice, await totpCode(secret, T0))
  t.equal(codes.length, 10)
  t.same(await s.mfa.activeMethods(alice.id), [{ name: 'app', isPrimary: true }])
  await t.rejects(s.mfa.beginPendingActivation(alice), { code: 'ACCOUNTS_MFA_ALREADY_ENABLED' })
  await t.rejects(s.mfa.confirmPendingActivation(alice, await totpCode(secret, T0 + STEP)), { code: 'ACCOUNTS_MFA_ALREADY_ENABLED' })
  await t.rejects(s.mfa.confirmPendingActivation({ ...alice, id: 99 }, '123456'), { code: 'ACCOUNTS_MFA_METHOD_NOT_FOUND' })
})

t.test('a password change or reset after the first step ends it (the user\'s sessions cut-off)', async (t) => {
  const s = setup()
  const { secret } = await enable(s)
  s.clock.now = T0 + STEP
  const eph = await s.mfa.startLogin(alice)
  s.users.set(alice.id, { ...alice, sessionsValidAfter: new Date(s.clock.now) })
  await t.rejects(s.mfa.verifyLogin(eph, await totpCode(secret, s.clock.now)), { code: 'ACCOUNTS_MFA_EPHEMERAL_TOKEN' }, 'started before the cut-off')
  s.clock.now += 1
  const after = await s.mfa.startLogin(alice)
  t.ok(await s.mfa.verifyLogin(after, await totpCode(secret, s.clock.now)), 'a first step after the cut-off works')
})
