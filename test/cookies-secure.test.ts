// ASVS 3.4.1: cookies that carry tokens are Secure whenever the site is served over https, without a
// setting to remember. `'auto'` (the default of drfJwt.authCookieSecure and sanicJwt.cookieSecure) means:
// Secure when the plugin's `protocol` is https, or when the request itself came over TLS (behind a proxy:
// Fastify's trustProxy and X-Forwarded-Proto). An explicit true or false still wins.
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import accounts, { drfJwtRoutes, MemoryMailer, sanicJwtRoutes, type AccountsOptions, type DrfJwtOptions, type SanicJwtOptions } from '../lib/index.js'
import { MemoryTokenStore, MemoryUserStore } from '../lib/stores/memory.js'
import { fastHasher, PASSWORD, SECRET } from './helpers/app.js'

interface Setup { protocol?: 'http' | 'https', drfJwt?: DrfJwtOptions, sanicJwt?: SanicJwtOptions }

async function app (t: Test, setup: Setup): Promise<FastifyInstance> {
  const server = Fastify({ trustProxy: true })
  t.teardown(() => server.close())
  const options: AccountsOptions = {
    prefix: '/auth', store: { users: new MemoryUserStore(), tokens: new MemoryTokenStore() }, mailer: new MemoryMailer(),
    passwordHasher: fastHasher, rateLimit: false, sendActivationEmail: false, jwt: { signingKey: SECRET },
    ...(setup.protocol === undefined ? {} : { protocol: setup.protocol })
  }
  await server.register(accounts, options)
  await server.register(drfJwtRoutes, { prefix: '/api', authCookie: 'jwt', ...setup.drfJwt })
  await server.register(sanicJwtRoutes, { prefix: '/sanic', cookieSet: true, ...setup.sanicJwt })
  await server.ready()
  const created = await server.inject({ method: 'POST', url: '/auth/users/', payload: { username: 'alice', email: 'alice@example.com', password: PASSWORD } })
  if (created.statusCode !== 201) throw new Error(created.body)
  return server
}

function secureOf (res: LightMyRequestResponse, name: string): boolean | undefined {
  const cookie = res.cookies.find((c) => c.name === name) as { secure?: boolean } | undefined
  if (cookie === undefined) throw new Error(`no ${name} cookie: ${JSON.stringify(res.headers['set-cookie'])}`)
  return cookie.secure === true
}

const credentials = { username: 'alice', password: PASSWORD }
const overTls = { 'x-forwarded-proto': 'https' }

async function logins (server: FastifyInstance, headers: Record<string, string> = {}): Promise<{ drf: boolean | undefined, sanic: boolean | undefined }> {
  const drf = await server.inject({ method: 'POST', url: '/api/api-token-auth/', payload: credentials, headers })
  const sanic = await server.inject({ method: 'POST', url: '/sanic', payload: credentials, headers })
  return { drf: secureOf(drf, 'jwt'), sanic: secureOf(sanic, 'access_token') }
}

t.test('by default: not Secure on a plain http site and request', async t => {
  t.same(await logins(await app(t, {})), { drf: false, sanic: false })
})

t.test("protocol: 'https' makes them Secure", async t => {
  t.same(await logins(await app(t, { protocol: 'https' })), { drf: true, sanic: true })
})

t.test('a request that came over TLS (X-Forwarded-Proto behind a trusted proxy) gets Secure cookies', async t => {
  const server = await app(t, {})
  t.same(await logins(server, overTls), { drf: true, sanic: true })
  t.same(await logins(server), { drf: false, sanic: false }, 'and a plain one on the same server does not')
})

t.test('an explicit setting wins over auto', async t => {
  t.same(await logins(await app(t, { protocol: 'https', drfJwt: { authCookieSecure: false }, sanicJwt: { cookieSecure: false } })), { drf: false, sanic: false })
  t.same(await logins(await app(t, { drfJwt: { authCookieSecure: true }, sanicJwt: { cookieSecure: true } })), { drf: true, sanic: true })
})

t.test("SameSite=None still needs an explicit Secure: true ('auto' may not be Secure)", async t => {
  const server = Fastify()
  t.teardown(() => server.close())
  await server.register(accounts, { passwordHasher: fastHasher, jwt: { signingKey: SECRET } })
  server.register(drfJwtRoutes, { authCookie: 'jwt', authCookieSameSite: 'none' })
  await t.rejects(async () => { await server.ready() }, /authCookieSameSite "none" requires drfJwt\.authCookieSecure: true/)
})
