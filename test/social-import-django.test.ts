import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import SQLite from 'better-sqlite3'
import t from 'tap'
import { formatSummary, importDjango } from '../lib/import-django.js'
import { MemorySocialAccountStore } from '../lib/social/memory-store.js'
import { createStores } from '../lib/stores/factory.js'
import { MemoryTokenStore, MemoryUserStore } from '../lib/stores/memory.js'
import { buildApp, json } from './helpers/app.js'
import { APP_SECRET, startIdp } from './helpers/oidc-provider.js'

// import-django copies allauth's socialaccount_socialaccount rows: users who signed in with a provider on
// Django still do here (the fixture's Django database, with allauth's table added).

const FIXTURE_DB = fileURLToPath(new URL('./fixtures/django.sqlite3', import.meta.url))

/** The fixture's Django database with allauth's socialaccount table and three accounts (alice: google and keycloak; bob: github). */
function djangoWithSocial (dir: string): string {
  const file = join(dir, 'django.sqlite3')
  copyFileSync(FIXTURE_DB, file)
  const db = new SQLite(file)
  db.exec(`create table socialaccount_socialaccount (id integer primary key autoincrement, provider varchar(200) not null, uid varchar(191) not null,
    last_login datetime not null, date_joined datetime not null, user_id integer not null references auth_user (id), extra_data text not null,
    unique (provider, uid))`)
  const insert = db.prepare('insert into socialaccount_socialaccount (id, provider, uid, last_login, date_joined, user_id, extra_data) values (?, ?, ?, ?, ?, ?, ?)')
  insert.run(3, 'google', '1098765432101234567890', '2024-05-06 07:08:09.123456', '2021-01-02 03:04:05', 1, JSON.stringify({ sub: '1098765432101234567890', email: 'alice@example.com', access_token: 'ya29.secret' }))
  insert.run(4, 'keycloak', 'django-alice-sub', '2024-05-06 07:08:09', '2021-01-02 03:04:05', 1, '{"sub": "django-alice-sub"}')
  insert.run(7, 'github', '583231', '2024-01-01 00:00:00', '2022-01-01 00:00:00', 2, 'not json')
  db.close()
  return file
}

t.test('the rows, their ids and dates; extra data without tokens; a second run changes nothing', async (t) => {
  const from = djangoWithSocial(t.testdir())
  const stores = await createStores({ databaseUrl: 'sqlite::memory:' })
  t.teardown(async () => { await stores.close() })
  const summary = await importDjango({ from, store: stores })
  t.same(summary.socialAccounts, { read: 3, inserted: 3, updated: 0, unchanged: 0, skipped: 0 })
  t.ok(formatSummary(summary).includes('socialaccount_socialaccount: 3 read, 3 imported, 0 already there'))
  const google = await stores.social.findSocialAccount('google', '1098765432101234567890')
  t.match(google, { id: 3, userId: 1, lastLogin: new Date('2024-05-06T07:08:09.123Z'), dateJoined: new Date('2021-01-02T03:04:05.000Z') })
  t.same(google?.extraData, { sub: '1098765432101234567890', email: 'alice@example.com' }, 'the provider token is not copied')
  t.same((await stores.social.findSocialAccountById(7))?.extraData, {}, 'unreadable extra data reads as {}')
  t.same((await stores.social.listSocialAccounts(1)).map((a) => a.id), [3, 4])
  const next = await stores.social.upsertSocialAccount({ provider: 'github', uid: 'new', userId: 3 })
  t.ok(next.id > 7, 'new links number after the imported ids')

  const again = await importDjango({ from, store: stores })
  t.same(again.socialAccounts, { read: 3, inserted: 0, updated: 0, unchanged: 3, skipped: 0 })
})

t.test('a target without a social store, or a Django database without allauth: no social line', async (t) => {
  const from = djangoWithSocial(t.testdir())
  const memory = await importDjango({ from, store: { users: new MemoryUserStore(), tokens: new MemoryTokenStore() } })
  t.equal(memory.socialAccounts, undefined)
  const social = new MemorySocialAccountStore()
  const withMemory = await importDjango({ from, store: { users: new MemoryUserStore(), tokens: new MemoryTokenStore(), social } })
  t.equal(withMemory.socialAccounts?.inserted, 3, 'a memory social store is filled too')
  const plain = await createStores({ databaseUrl: 'sqlite::memory:' })
  t.teardown(async () => { await plain.close() })
  const summary = await importDjango({ from: FIXTURE_DB, store: plain })
  t.equal(summary.socialAccounts, null)
  t.notOk(formatSummary(summary).some((line) => line.includes('socialaccount')))
})

t.test('a user who signed in with an OpenID Connect provider on Django signs in to the same account here', async (t) => {
  const idp = await startIdp({ accounts: { 'django-alice-sub': { email: 'alice@example.com', email_verified: true, preferred_username: 'somebody-else' } } })
  t.teardown(idp.close)
  const stores = await createStores({ databaseUrl: 'sqlite::memory:' })
  t.teardown(async () => { await stores.close() })
  await importDjango({ from: djangoWithSocial(t.testdir()), store: stores })
  const a = await buildApp({ store: stores, social: { providers: { keycloak: { type: 'oidc', issuer: idp.issuer, clientId: 'app', clientSecret: APP_SECRET } }, allowedRedirectUris: ['http://127.0.0.1:9/callback'] } })
  t.teardown(async () => { await a.app.close() })
  const started = await a.app.inject({ url: `/auth/o/keycloak/?redirect_uri=${encodeURIComponent('http://127.0.0.1:9/callback')}` })
  t.equal(started.statusCode, 200, started.body)
  const back = await idp.authorize((json(started) as { authorization_url: string }).authorization_url, { accountId: 'django-alice-sub' })
  const cookie = String(started.headers['set-cookie']).split(';')[0]
  const res = await a.app.inject({ method: 'POST', url: `/auth/o/keycloak/?${back.searchParams.toString()}`, headers: { cookie } })
  t.equal(res.statusCode, 201, res.body)
  t.equal((json(res) as { user: string }).user, 'alice', 'Django\'s alice, by her imported link')
})
