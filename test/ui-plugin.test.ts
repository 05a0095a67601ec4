import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import t from 'tap'
import { buildServer } from '../example/app.js'
import { MemoryMailer } from '../lib/mail/memory.js'
import type { AccountsOptions } from '../lib/options.js'
import { accounts } from '../lib/plugin.js'
import { MemoryTokenStore, MemoryUserStore } from '../lib/stores/memory.js'
import { accountsUi, providerLabel, UI_CONTENT_SECURITY_POLICY, uiLinks, uiRoot, type UiConfig } from '../lib/ui/index.js'
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

  for (const file of ['app.js', 'api.js', 'forms.js', 'mfa.js', 'social.js']) {
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
    navLinks: [{ href: '/dev/mail', label: 'Dev mailbox' }],
    socialProviders: [],
    mfa: false
  })

  t.equal((await app.inject({ method: 'GET', url: '/nothing.js' })).statusCode, 404)
  t.equal((await app.inject({ method: 'GET', url: '/auth/users/me/' })).headers['content-security-policy'], undefined, 'the API\'s answers are not touched')
  t.same(readdirSync(uiRoot()).sort(), ['api.js', 'app.js', 'forms.js', 'index.html', 'mfa.js', 'social.js', 'style.css'])
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
  t.equal(config.mfa, false, 'no account page: no two-factor section')
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

t.test('config.json: a "Continue with" button per provider djoser\'s o/{provider}/ serves', async t => {
  const { app } = await buildApp({
    social: {
      providers: {
        google: { clientId: 'g', clientSecret: 's' },
        github: { clientId: 'g', clientSecret: 's' },
        apple: { clientId: 'com.example', teamId: 'T', keyId: 'K', privateKey: 'not read before the first sign-in' },
        facebook: { clientId: 'f', clientSecret: 's' },
        twitter: { consumerKey: 'k', consumerSecret: 's' },
        keycloak: { type: 'oidc', issuer: 'https://sso.example.com/realms/main', clientId: 'web' },
        'github-enterprise': { type: 'github', clientId: 'g', clientSecret: 's', oauthUrl: 'https://git.example.com' },
        my_sso: { type: 'oidc', issuer: 'https://login.example.com', clientId: 'web' }
      },
      allowedRedirectUris: ['http://localhost:3000/']
    }
  })
  await app.register(accountsUi)
  t.teardown(() => app.close())
  const config = JSON.parse((await app.inject({ method: 'GET', url: '/config.json' })).body) as UiConfig
  t.same(config.socialProviders, [
    { provider: 'google-oauth2', label: 'Google' },
    { provider: 'github', label: 'GitHub' },
    { provider: 'apple-id', label: 'Apple' },
    { provider: 'facebook', label: 'Facebook' },
    { provider: 'keycloak', label: 'Keycloak' },
    { provider: 'github-enterprise', label: 'GitHub Enterprise' },
    { provider: 'my_sso', label: 'My Sso' }
  ], 'python-social-auth\'s route names, in the configured order; X (dj-rest-auth only) has no button')
  // The names are the ones o/{provider}/ answers to (the OAuth 2 ones here: the OpenID Connect ones need discovery).
  const start = async (provider: string): Promise<number> =>
    (await app.inject({ method: 'GET', url: `/auth/o/${provider}/?redirect_uri=${encodeURIComponent('http://localhost:3000/')}` })).statusCode
  for (const provider of ['github', 'facebook', 'github-enterprise']) t.equal(await start(provider), 200, `o/${provider}/ starts a sign-in`)
  t.equal(await start('twitter'), 404, 'twitter: djoser has no route for it')
})

t.test('config.json: no buttons without providers, nor on links-only pages', async t => {
  const social = { providers: { google: { clientId: 'g', clientSecret: 's' } } }
  const { app } = await buildApp({ social, ...uiLinks('/account/') })
  await app.register(accountsUi, { prefix: '/account', pages: 'links' })
  t.teardown(() => app.close())
  const config = JSON.parse((await app.inject({ method: 'GET', url: '/account/config.json' })).body) as UiConfig
  t.same(config.socialProviders, [], 'links-only pages have no log-in page to put them on')

  const { app: plain } = await buildApp()
  await plain.register(accountsUi)
  t.teardown(() => plain.close())
  t.same((JSON.parse((await plain.inject({ method: 'GET', url: '/config.json' })).body) as UiConfig).socialProviders, [])
})

t.test('providerLabel: brands as they spell themselves, other names title-cased', async t => {
  t.same(['google', 'github', 'apple', 'facebook', 'twitter', 'keycloak', 'azure-ad', 'GitLab_self', 'auth0'].map(providerLabel),
    ['Google', 'GitHub', 'Apple', 'Facebook', 'X', 'Keycloak', 'Azure Ad', 'GitLab Self', 'Auth0'])
})

t.test('config.json: mfa says whether django-trench\'s routes are served (the account page\'s two-factor section)', async t => {
  const { app } = await buildApp({ mfa: true })
  await app.register(accountsUi, { apiPrefix: '/auth' })
  t.teardown(() => app.close())
  t.equal((JSON.parse((await app.inject({ method: 'GET', url: '/config.json' })).body) as UiConfig).mfa, true)

  const links = (await buildApp({ mfa: true })).app
  await links.register(accountsUi, { apiPrefix: '/auth', pages: 'links' })
  t.teardown(() => links.close())
  t.equal((JSON.parse((await links.inject({ method: 'GET', url: '/config.json' })).body) as UiConfig).mfa, false, 'links-only pages: no account page to show it on')

  const dir = t.testdir()
  const file = join(dir, 'off.json')
  writeFileSync(file, JSON.stringify({ mfa: false }))
  for (const [env, on, what] of [[{}, true, 'the example server: on by default'], [{ ACCOUNTS_CONFIG: file }, false, 'off with "mfa": false in ACCOUNTS_CONFIG']] as const) {
    const example = await buildServer({ DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:', JWT_SECRET: SECRET, ...env }, { logger: false })
    t.teardown(() => example.close())
    t.equal((JSON.parse((await example.inject({ method: 'GET', url: '/config.json' })).body) as UiConfig).mfa, on, what)
    t.equal((await example.inject({ method: 'GET', url: '/auth/mfa/config/' })).statusCode, on ? 200 : 404, `${what}: trench's routes`)
  }
})

t.test('the example server allows its pages\' root URL as the social redirect_uri, unless the config lists its own', async t => {
  const dir = t.testdir()
  const start = async (name: string, options: object, env: Record<string, string> = {}): Promise<FastifyInstance> => {
    const file = join(dir, `${name}.json`)
    writeFileSync(file, JSON.stringify(options))
    const app = await buildServer({ DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:', JWT_SECRET: SECRET, ACCOUNTS_CONFIG: file, ...env }, { logger: false })
    t.teardown(() => app.close())
    return app
  }
  // GitHub: its authorization URL is built here, without a call to the provider.
  const github = { github: { clientId: 'g', clientSecret: 's' } }

  const byDefault = await start('default', { social: { providers: github } }, { PORT: '4100' })
  t.same(byDefault.accounts.social?.options.allowedRedirectUris, ['http://localhost:4100/'], 'localhost:PORT, as the mailed links')
  const started = await byDefault.inject({ method: 'GET', url: `/auth/o/github/?redirect_uri=${encodeURIComponent('http://localhost:4100/')}` })
  t.equal(started.statusCode, 200, 'the pages\' button can start a sign-in')
  t.equal(new URL((JSON.parse(started.body) as { authorization_url: string }).authorization_url).searchParams.get('redirect_uri'), 'http://localhost:4100/')
  const config = JSON.parse((await byDefault.inject({ method: 'GET', url: '/config.json' })).body) as UiConfig
  t.same(config.socialProviders, [{ provider: 'github', label: 'GitHub' }], 'and the pages show its button')

  const site = await start('site', { protocol: 'https', domain: 'accounts.example.com', social: { providers: github } })
  t.same(site.accounts.social?.options.allowedRedirectUris, ['https://accounts.example.com/'], 'protocol and domain of the config')

  const own = await start('own', { social: { providers: github, allowedRedirectUris: ['https://app.example.com/callback'] } })
  t.same(own.accounts.social?.options.allowedRedirectUris, ['https://app.example.com/callback'], 'a list of the config\'s own is kept as it is')
  const refused = await own.inject({ method: 'GET', url: `/auth/o/github/?redirect_uri=${encodeURIComponent('http://localhost:3000/')}` })
  t.equal(refused.statusCode, 400, 'and the pages\' URL is not added to it')

  const none = await start('none', {})
  t.equal(none.accounts.social, null, 'no providers: no social login, nothing added')

  const otherDialect = await start('drf', { dialect: 'drf-jwt', social: { providers: github } })
  t.same(otherDialect.accounts.social?.options.allowedRedirectUris, [], 'no pages (another dialect): nothing added')

  await t.rejects(start('bad', { social: { providers: 'github' } }), { name: 'ConfigError', message: /ACCOUNTS_CONFIG: .*social/ }, 'a malformed block is named by the options check')
})

t.test('the provider\'s code and state in the pages\' URL never reach the request log', async t => {
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'info', stream: { write: (line: string) => { lines.push(line) } } } })
  await app.register(accounts, { prefix: '/auth', store: { users: new MemoryUserStore(), tokens: new MemoryTokenStore() }, passwordHasher: fastHasher, jwt: { signingKey: SECRET } })
  await app.register(accountsUi, { prefix: '/account' })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/account/?code=the-provider-code&state=the-state&iss=http%3A%2F%2Fidp' })
  t.equal(res.statusCode, 200, 'the pages open')
  const logged = lines.map((line) => JSON.parse(line) as { msg: string, req?: { method: string, url: string, host: string } })
  const incoming = logged.find((entry) => entry.msg === 'incoming request')
  t.match(incoming?.req, { method: 'GET', url: '/account/?code=[redacted]&state=[redacted]&iss=http%3A%2F%2Fidp', host: 'localhost:80' }, 'the line Fastify writes, without the secrets')
  t.notMatch(lines.join('\n'), /the-provider-code|the-state/, 'nowhere in the log')
  await app.inject({ method: 'GET', url: '/auth/users/me/?code=kept' })
  t.match(lines.join('\n'), /code=kept/, 'the API\'s own routes log as before')
})
