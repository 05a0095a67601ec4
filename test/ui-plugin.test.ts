import { readdirSync } from 'node:fs'
import Fastify, { type FastifyInstance } from 'fastify'
import t from 'tap'
import { MemoryMailer } from '../lib/mail/memory.js'
import type { AccountsOptions } from '../lib/options.js'
import { accounts } from '../lib/plugin.js'
import { MemoryTokenStore, MemoryUserStore } from '../lib/stores/memory.js'
import { accountsUi, UI_CONTENT_SECURITY_POLICY, uiLinks, uiRoot, type UiConfig } from '../lib/ui/index.js'
import { fastHasher, SECRET } from './helpers/app.js'

/** An app with the accounts plugin under /auth (memory stores and mailer), not ready yet: the pages come next. */
async function buildApp (options: Partial<Omit<AccountsOptions, 'jwt'>> = {}): Promise<{ app: FastifyInstance, mailer: MemoryMailer }> {
  const app = Fastify({ logger: false })
  const mailer = new MemoryMailer()
  await app.register(accounts, {
    prefix: '/auth', store: { users: new MemoryUserStore(), tokens: new MemoryTokenStore() }, mailer, passwordHasher: fastHasher, ...options, jwt: { signingKey: SECRET }
  })
  return { app, mailer }
}

t.test('the pages at the site root, reading the accounts options', async t => {
  const { app } = await buildApp({ siteName: 'Acme', userCreatePasswordRetype: true, sendActivationEmail: false })
  await app.register(accountsUi, { apiPrefix: '/auth', navLinks: [{ href: '/dev/mail', label: 'Dev mailbox' }] })
  t.teardown(() => app.close())

  const index = await app.inject({ method: 'GET', url: '/' })
  t.equal(index.statusCode, 200)
  t.match(index.headers['content-type'], /^text\/html/)
  t.equal(index.headers['content-security-policy'], UI_CONTENT_SECURITY_POLICY)
  t.match(UI_CONTENT_SECURITY_POLICY, /default-src 'self'/)
  t.notMatch(UI_CONTENT_SECURITY_POLICY, /unsafe-inline|unsafe-eval/, 'no inline script or style')
  t.equal(index.headers['x-content-type-options'], 'nosniff')
  t.equal(index.headers['referrer-policy'], 'no-referrer')
  t.notMatch(index.body, /<script>|<style|style="|\son[a-z]+="/i, 'no inline script, style or handler in the HTML')

  for (const file of ['app.js', 'api.js', 'forms.js']) {
    const res = await app.inject({ method: 'GET', url: `/${file}` })
    t.equal(res.statusCode, 200, file)
    t.match(res.headers['content-type'], /javascript/, `${file} is served as a script`)
    t.equal(res.headers['content-security-policy'], UI_CONTENT_SECURITY_POLICY)
    t.notMatch(res.body, /innerHTML|insertAdjacentHTML|eval\(|\.style\./, `${file} builds the DOM without parsing HTML or inline style`)
  }
  const css = await app.inject({ method: 'GET', url: '/style.css' })
  t.match(css.headers['content-type'], /^text\/css/)

  const config = await app.inject({ method: 'GET', url: '/config.json' })
  t.equal(config.statusCode, 200)
  t.same(JSON.parse(config.body) as UiConfig, {
    api: '/auth',
    pages: 'all',
    siteName: 'Acme',
    loginField: 'username',
    sendActivationEmail: false,
    retype: { userCreatePassword: true, setPassword: false, passwordResetConfirm: false, setUsername: false, usernameResetConfirm: false },
    navLinks: [{ href: '/dev/mail', label: 'Dev mailbox' }]
  })

  t.equal((await app.inject({ method: 'GET', url: '/nothing.js' })).statusCode, 404)
  t.equal((await app.inject({ method: 'GET', url: '/auth/users/me/' })).headers['content-security-policy'], undefined, 'the API\'s answers are not touched')
  t.same(readdirSync(uiRoot()).sort(), ['api.js', 'app.js', 'forms.js', 'index.html', 'style.css'])
})

t.test('mounted under a prefix, links-only, beside an app\'s own @fastify/static', async t => {
  const { app, mailer } = await buildApp({ loginField: 'email', ...uiLinks('/account/') })
  const { default: fastifyStatic } = await import('@fastify/static')
  await app.register(fastifyStatic, { root: uiRoot(), prefix: '/assets/' })
  await app.register(accountsUi, { prefix: '/account', apiPrefix: '/auth', pages: 'links' })
  t.teardown(() => app.close())

  const index = await app.inject({ method: 'GET', url: '/account/' })
  t.equal(index.statusCode, 200)
  const bare = await app.inject({ method: 'GET', url: '/account?x=1' })
  t.equal(bare.statusCode, 301, 'without the trailing slash: redirected, so relative URLs resolve under the mount')
  t.equal(bare.headers.location, '/account/?x=1')
  t.equal(index.headers['content-security-policy'], UI_CONTENT_SECURITY_POLICY)
  t.equal((await app.inject({ method: 'GET', url: '/account/app.js' })).statusCode, 200)
  const config = JSON.parse((await app.inject({ method: 'GET', url: '/account/config.json' })).body) as UiConfig
  t.equal(config.pages, 'links')
  t.equal(config.loginField, 'email', 'the login field comes from the accounts plugin')
  t.equal((await app.inject({ method: 'GET', url: '/assets/app.js' })).statusCode, 200, 'the app\'s own static files still work')
  t.equal((await app.inject({ method: 'GET', url: '/assets/app.js' })).headers['content-security-policy'], undefined, 'and keep their headers')

  // The mailed link points at the mounted pages.
  const created = await app.inject({ method: 'POST', url: '/auth/users/', payload: { username: 'alice', email: 'alice@example.com', password: 'correct-horse-battery-staple' } })
  t.equal(created.statusCode, 201, created.body)
  t.match(mailer.last()?.text, /http:\/\/localhost:3000\/account\/#\/activate\/[^/\s]+\/[^/\s]+/)
})

t.test('uiLinks: the three link options for pages mounted anywhere', async t => {
  t.same(uiLinks(), {
    activationUrl: '#/activate/{uid}/{token}',
    passwordResetConfirmUrl: '#/password/reset/confirm/{uid}/{token}',
    usernameResetConfirmUrl: '#/username/reset/confirm/{uid}/{token}'
  }, 'at the root: djoser\'s own defaults')
  t.equal(uiLinks('/account').activationUrl, 'account/#/activate/{uid}/{token}')
  t.equal(uiLinks('/a/b/').passwordResetConfirmUrl, 'a/b/#/password/reset/confirm/{uid}/{token}')
})

t.test('bad options fail at registration, naming the option', async t => {
  const cases: Array<[object, RegExp]> = [
    [{ apiPrefix: 'auth' }, /ui: apiPrefix must be a path starting with \//],
    [{ apiPrefix: '/auth?x' }, /apiPrefix/],
    [{ pages: 'some' }, /ui: pages must be "all" or "links"/],
    [{ navLinks: [{ href: 'javascript:alert(1)', label: 'x' }] }, /ui: navLinks/],
    [{ navLinks: [{ href: '/x' }] }, /ui: navLinks/],
    [{ navLinks: 'x' }, /ui: navLinks/]
  ]
  for (const [options, message] of cases) {
    const app = Fastify({ logger: false })
    await t.rejects(async () => { await app.register(accountsUi, options as never); await app.ready() }, { name: 'OptionsError', message }, JSON.stringify(options))
    await app.close()
  }

  const other = Fastify({ logger: false })
  await other.register(accounts, { prefix: '/auth', dialect: 'drf-jwt', jwt: { signingKey: SECRET } })
  await t.rejects(async () => { await other.register(accountsUi); await other.ready() }, { message: /the pages speak the djoser dialect; .*"drf-jwt"/ }, 'another dialect')
  await other.close()

  const alone = Fastify({ logger: false })
  await alone.register(accountsUi, { apiPrefix: '' })
  const config = JSON.parse((await alone.inject({ method: 'GET', url: '/config.json' })).body) as UiConfig
  t.same([config.api, config.loginField, config.siteName], ['', 'username', 'fastify-accounts'], 'without the accounts plugin: its defaults')
  await alone.close()
})
