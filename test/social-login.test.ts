import t, { type Test } from 'tap'
import { SocialLoginService, hasUsablePassword, type SocialEvents, type SocialLoginOptions } from '../lib/social/login.js'
import { MemorySocialAccountStore } from '../lib/social/memory-store.js'
import { OidcSocialProvider } from '../lib/social/oidc.js'
import type { SocialProfile } from '../lib/social/types.js'
import { APP_SECRET, startIdp } from './helpers/oidc-provider.js'
import { failsWith } from './helpers/social.js'
import { StoreSocialUsers } from './helpers/social-users.js'

// Who signs in (allauth's rules) over the real MemoryUserStore and MemorySocialAccountStore.

interface Setup {
  users: StoreSocialUsers
  accounts: MemorySocialAccountStore
  service: SocialLoginService
  events: Array<[keyof SocialEvents, unknown]>
}

function setup (options: SocialLoginOptions = {}, activation = true): Setup {
  const users = new StoreSocialUsers({ activation })
  const accounts = new MemorySocialAccountStore()
  const events: Setup['events'] = []
  const service = new SocialLoginService({ users, accounts, options, emit: (event, payload) => { events.push([event, payload]) } })
  return { users, accounts, service, events }
}

const profile = (extra: Partial<SocialProfile> = {}): SocialProfile => ({
  provider: 'google', uid: 'g-1', email: 'alice@example.com', emailVerified: true, username: 'alice', firstName: 'Alice', lastName: 'Liddell', extra: { sub: 'g-1' }, ...extra
})

async function nothingStored (t: Test, s: Setup, userCount: number): Promise<void> {
  t.equal((await s.users.store.listUsers()).length, userCount, 'no user created')
  t.equal(await s.accounts.findSocialAccount('google', 'g-1'), null, 'no link stored')
}

t.test('a new person signs up: username from the provider, active (verified email), unusable password, linked', async (t) => {
  const s = setup()
  const result = await s.service.login(profile())
  t.equal(result.via, 'signup')
  t.match(result.user, { username: 'alice', email: 'alice@example.com', firstName: 'Alice', lastName: 'Liddell', isActive: true, password: '' })
  t.notOk(hasUsablePassword(result.user), 'no password to guess')
  t.match(result.account, { provider: 'google', uid: 'g-1', userId: result.user.id, extraData: { sub: 'g-1' } })
  t.same(s.events.map(([e]) => e), ['social.connected', 'login.succeeded'])
  t.same(s.events[1][1], { userId: result.user.id, method: 'social', provider: 'google' })

  const again = await s.service.login(profile({ extra: { sub: 'g-1', locale: 'en' } }))
  t.equal(again.via, 'account', 'the known (provider, uid) signs in its user')
  t.equal(again.user.id, result.user.id)
  t.same(again.account?.extraData, { sub: 'g-1', locale: 'en' }, 'extra data refreshed')
  t.ok((again.account?.lastLogin.getTime() ?? 0) >= (result.account?.lastLogin.getTime() ?? 0), 'last login moves on')
  const changed = await s.service.login(profile({ email: 'new-address@example.com' }))
  t.equal(changed.user.id, result.user.id, 'the link wins over a changed email')
})

t.test('usernames are made unique; an invalid provider username is cleaned', async (t) => {
  const s = setup()
  await s.users.register('alice', { email: 'someone@example.com' })
  const second = await s.service.login(profile())
  t.equal(second.user.username, 'alice2', 'taken: a suffix')
  const third = await s.service.login(profile({ uid: 'g-3', email: 'a3@example.com' }))
  t.equal(third.user.username, 'alice3')
  const cleaned = await s.service.login(profile({ uid: 'g-4', email: 'elodie@example.com', username: 'Élodie Dupont!', firstName: 'Élodie' }))
  t.equal(cleaned.user.username, 'elodie_dupont', 'ASCII, lower case, spaces to _')
  const fromEmail = await s.service.login(profile({ uid: 'g-5', email: 'x.y+z@example.com', username: undefined, firstName: undefined, lastName: undefined }))
  t.equal(fromEmail.user.username, 'x.y+z', 'the email\'s local part')
  const long = await s.service.login(profile({ uid: 'g-6', email: 'long@example.com', username: 'a'.repeat(200) }))
  t.equal(long.user.username.length, 150, 'at most 150 characters')
})

t.test('an unverified email: the user follows the activation setting', async (t) => {
  const s = setup()
  const error = await failsWith(t, s.service.login(profile({ emailVerified: false })), 'ACCOUNTS_SOCIAL_INACTIVE', 'activation on: inactive until the link')
  const user = await s.users.store.findUserByEmail('alice@example.com')
  t.match(user, { isActive: false, password: '' })
  t.equal((error as unknown as { userId: number }).userId, user?.id)
  t.same(s.users.activationMails, [user?.id], 'the activation mail went out')
  t.ok(await s.accounts.findSocialAccount('google', 'g-1'), 'the link is kept for after activation')
  await failsWith(t, s.service.login(profile({ emailVerified: false })), 'ACCOUNTS_SOCIAL_INACTIVE', 'still inactive')
  await s.users.store.updateUser(user?.id ?? 0, { isActive: true })
  t.equal((await s.service.login(profile({ emailVerified: false }))).via, 'account', 'activated: signs in')

  const off = setup({}, false)
  t.match((await off.service.login(profile({ emailVerified: false }))).user, { isActive: true }, 'activation off: active at once')
})

t.test('an email another account has: "User is already registered with this e-mail address.", nothing stored', async (t) => {
  const s = setup()
  await s.users.register('alice')
  const error = await failsWith(t, s.service.login(profile()), 'ACCOUNTS_SOCIAL_EMAIL_TAKEN')
  t.equal(error.message, 'User is already registered with this e-mail address.')
  await failsWith(t, s.service.login(profile({ email: 'ALICE@EXAMPLE.COM' })), 'ACCOUNTS_SOCIAL_EMAIL_TAKEN', 'in any letter case')
  await nothingStored(t, s, 1)
  t.same(s.events, [], 'no event')

  const unverified = setup({ emailAuthentication: true })
  await unverified.users.register('alice')
  await failsWith(t, unverified.service.login(profile({ emailVerified: false })), 'ACCOUNTS_SOCIAL_EMAIL_TAKEN', 'email authentication needs a provider-verified email')
  await nothingStored(t, unverified, 1)
})

t.test('email authentication: a verified local email is signed in as it is', async (t) => {
  const s = setup({ emailAuthentication: true })
  const local = await s.users.register('alice')
  const result = await s.service.login(profile())
  t.equal(result.via, 'email')
  t.equal(result.user.id, local.id)
  t.equal(result.user.password, local.password, 'its password stays (the email was verified by activation)')
  t.equal(result.account, null, 'no link without auto-connect')
  t.equal(await s.accounts.findSocialAccount('google', 'g-1'), null)
  t.same(s.events.map(([e]) => e), ['login.succeeded'])
})

t.test('email authentication against pre-hijacking: a never-verified local account loses its password first', async (t) => {
  // An attacker registered with the victim's email and waits; the email was never verified (activation pending).
  const s = setup({ emailAuthentication: true })
  const squatter = await s.users.register('alice', { isActive: false })
  t.ok(hasUsablePassword(squatter))
  const result = await s.service.login(profile())
  t.equal(result.user.id, squatter.id)
  t.match(result.user, { password: '', isActive: true }, 'password wiped, then activated: the provider proved the email')
  t.match(await s.users.store.findUserById(squatter.id), { password: '' }, 'stored so')

  // Activation off: every account is active, none has a verified email: the same protection.
  const off = setup({ emailAuthentication: true }, false)
  const active = await off.users.register('alice')
  t.match((await off.service.login(profile())).user, { id: active.id, password: '', isActive: true })

  // An account an administrator disabled stays disabled.
  const disabled = setup({ emailAuthentication: true })
  const banned = await disabled.users.register('alice', { isActive: false })
  disabled.users.disabled.add(banned.id)
  await failsWith(t, disabled.service.login(profile()), 'ACCOUNTS_SOCIAL_INACTIVE')
})

t.test('email authentication with auto-connect records the link', async (t) => {
  const s = setup({ emailAuthentication: true, emailAuthenticationAutoConnect: true })
  const local = await s.users.register('alice')
  const result = await s.service.login(profile())
  t.match(result, { via: 'email', account: { provider: 'google', uid: 'g-1', userId: local.id } })
  t.same(s.events.map(([e]) => e), ['social.connected', 'login.succeeded'])
  t.equal((await s.service.login(profile())).via, 'account', 'next time through the link')
})

t.test('autoSignup off: no account for a stranger; no email: no sign-up', async (t) => {
  const s = setup({ autoSignup: false })
  await failsWith(t, s.service.login(profile()), 'ACCOUNTS_SOCIAL_SIGNUP_CLOSED')
  await nothingStored(t, s, 0)
  const noEmail = setup()
  await failsWith(t, noEmail.service.login(profile({ email: '', emailVerified: false })), 'ACCOUNTS_SOCIAL_EMAIL_REQUIRED')
  await nothingStored(t, noEmail, 0)
})

t.test('a known link whose user is inactive is refused; a link whose user is gone is forgotten', async (t) => {
  const s = setup()
  const first = await s.service.login(profile())
  await s.users.store.updateUser(first.user.id, { isActive: false })
  await failsWith(t, s.service.login(profile()), 'ACCOUNTS_SOCIAL_INACTIVE')
  await s.users.store.deleteUser(first.user.id)
  const anew = await s.service.login(profile())
  t.equal(anew.via, 'signup', 'a fresh account')
  t.not(anew.user.id, first.user.id)
})

t.test('concurrent sign-ups of one person make one user; the loser is refused', async (t) => {
  const s = setup()
  const outcomes = await Promise.allSettled([s.service.login(profile()), s.service.login(profile())])
  t.equal((await s.users.store.listUsers()).length, 1, 'one user')
  t.equal(outcomes.filter((o) => o.status === 'fulfilled').length >= 1, true, 'at least one signed in')
  for (const o of outcomes) if (o.status === 'rejected') t.match(o.reason, { code: 'ACCOUNTS_SOCIAL_EMAIL_TAKEN' })
})

t.test('connect links to the signed-in user; an account linked to someone else is refused', async (t) => {
  const s = setup()
  const bob = await s.users.register('bob')
  const alice = (await s.service.login(profile())).user
  const linked = await s.service.connect(bob.id, profile({ provider: 'github', uid: 'gh-7' }))
  t.match(linked, { provider: 'github', uid: 'gh-7', userId: bob.id })
  t.same(s.events.at(-1), ['social.connected', { userId: bob.id, provider: 'github', accountId: linked.id }])
  t.equal((await s.service.connect(bob.id, profile({ provider: 'github', uid: 'gh-7' }))).id, linked.id, 'connecting again is harmless')
  const error = await failsWith(t, s.service.connect(bob.id, profile()), 'ACCOUNTS_SOCIAL_ALREADY_CONNECTED', 'alice\'s google account')
  t.equal(error.message, 'The social account is already connected to a different account.')
  t.equal((await s.accounts.findSocialAccount('google', 'g-1'))?.userId, alice.id, 'still alice\'s')
  t.equal((await s.service.login(profile())).user.id, alice.id, 'and it still signs in alice (dj-rest-auth issue 464)')
  t.same((await s.service.list(bob.id)).map((a) => a.provider), ['github'])
})

t.test('disconnect: only one\'s own; never the last way in of a user without a usable password', async (t) => {
  const s = setup()
  const social = await s.service.login(profile())
  const bob = await s.users.register('bob')
  const bobs = await s.service.connect(bob.id, profile({ provider: 'github', uid: 'gh-7' }))
  const notFound = await failsWith(t, s.service.disconnect(social.user.id, bobs.id), 'ACCOUNTS_SOCIAL_ACCOUNT_NOT_FOUND', 'another user\'s account')
  t.equal(notFound.statusCode, 404)
  await failsWith(t, s.service.disconnect(social.user.id, 999), 'ACCOUNTS_SOCIAL_ACCOUNT_NOT_FOUND', 'no such account')

  const refused = await failsWith(t, s.service.disconnect(social.user.id, social.account?.id ?? 0), 'ACCOUNTS_SOCIAL_DISCONNECT_REFUSED', 'the only way in')
  t.equal(refused.message, 'Your account has no password set up.')
  const second = await s.service.connect(social.user.id, profile({ provider: 'github', uid: 'gh-8' }))
  await s.service.disconnect(social.user.id, social.account?.id ?? 0)
  t.same(s.events.at(-1), ['social.disconnected', { userId: social.user.id, provider: 'google', accountId: social.account?.id }])
  await failsWith(t, s.service.disconnect(social.user.id, second.id), 'ACCOUNTS_SOCIAL_DISCONNECT_REFUSED', 'now that one is the last')
  t.same((await s.service.list(social.user.id)).map((a) => a.uid), ['gh-8'])

  await s.service.disconnect(bob.id, bobs.id)
  t.same(await s.service.list(bob.id), [], 'a user with a password may drop the last one')
})

t.test('end to end: a real OpenID Connect sign-in makes, then finds, the user', async (t) => {
  const idp = await startIdp()
  t.teardown(idp.close)
  const provider = new OidcSocialProvider({ name: 'keycloak', issuer: idp.issuer, clientId: 'app', clientSecret: APP_SECRET, timeoutMs: 3000 })
  const s = setup()
  const started = await provider.authorizationUrl({ redirectUri: 'http://127.0.0.1:9/callback' })
  const back = await idp.authorize(started.url)
  const first = await s.service.login(await provider.completeAuthorization({ code: back.searchParams.get('code') ?? '', state: back.searchParams.get('state') ?? '' }, started))
  t.match(first, { via: 'signup', user: { username: 'alice', email: 'alice@example.com', isActive: true }, account: { provider: 'keycloak', uid: 'alice-sub' } })
  const second = await s.service.login(await provider.authenticate({ idToken: await idp.idToken() }))
  t.match(second, { via: 'account', user: { id: first.user.id } })
  t.notOk(JSON.stringify(second.account?.extraData).includes('eyJ'), 'no token in the extra data')
})
