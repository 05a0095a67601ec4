import fastifyCookie from '@fastify/cookie'
import Fastify from 'fastify'
import t from 'tap'
import { OptionsError } from '../lib/errors.js'
import { DRF_JWT_DEFAULTS, drfJwtErrorFormatter, drfJwtRoutes, resolveDrfJwtOptions, type DrfJwtOptions } from '../lib/dialects/drf-jwt/index.js'
import { fieldError, InvalidCredentialsError, NotAuthenticatedError, StoreUnavailableError } from '../lib/index.js'
import accounts from '../lib/index.js'
import { fastHasher, PASSWORD, SECRET } from './helpers/app.js'
import { buildDrfJwtApp } from './helpers/drf-jwt.js'

t.test("defaults are drf-jwt 1.11's JWT_AUTH defaults", async t => {
  const o = resolveDrfJwtOptions()
  t.same(o, {
    expirationDelta: 300,
    allowRefresh: false,
    refreshExpirationDelta: 604800,
    authHeaderPrefix: 'JWT',
    authCookiePath: '/',
    authCookieSecure: 'auto',
    authCookieSameSite: 'lax',
    verifyExpiration: true
  })
  t.same(resolveDrfJwtOptions({}), o)
  t.same(resolveDrfJwtOptions(o), o, 'resolving twice changes nothing')
  t.equal(resolveDrfJwtOptions({ authCookie: undefined }).authCookie, undefined, 'undefined means the default')
  t.equal(DRF_JWT_DEFAULTS.refreshExpirationDelta, 7 * 24 * 3600)
})

t.test('given options win; functions pass through', async t => {
  const handler = (token: string) => ({ token })
  const o = resolveDrfJwtOptions({ expirationDelta: 3600, allowRefresh: true, authHeaderPrefix: 'Bearer', authCookie: 'jwt', responsePayloadHandler: handler })
  t.match(o, { expirationDelta: 3600, allowRefresh: true, authHeaderPrefix: 'Bearer', authCookie: 'jwt', refreshExpirationDelta: 604800 })
  t.equal(o.responsePayloadHandler, handler)
})

t.test('mistakes are rejected with a message naming the option', async t => {
  const cases: Array<[unknown, RegExp]> = [
    [[], /^fastify-accounts: drfJwt must be an object$/],
    [{ expirationDelata: 300 }, /unknown option "drfJwt\.expirationDelata"/],
    [{ leeway: 10 }, /drfJwt\.leeway is not an option: set jwt\.leeway/],
    [{ audience: 'x' }, /drfJwt\.audience is not an option: set jwt\.audience/],
    [{ issuer: 'x' }, /set jwt\.issuer/],
    [{ algorithm: 'HS512' }, /set jwt\.algorithm/],
    [{ secretKey: 'x' }, /set jwt\.signingKey/],
    [{ verify: false }, /JWT_VERIFY=False .* not supported/],
    [{ expirationDelta: 0 }, /drfJwt\.expirationDelta must be a positive whole number of seconds/],
    [{ expirationDelta: '300' }, /drfJwt\.expirationDelta/],
    [{ refreshExpirationDelta: 1.5 }, /drfJwt\.refreshExpirationDelta must be a positive whole number/],
    [{ allowRefresh: 'yes' }, /drfJwt\.allowRefresh must be a boolean/],
    [{ verifyExpiration: 0 }, /drfJwt\.verifyExpiration must be a boolean/],
    [{ authCookieSecure: 'true' }, /drfJwt\.authCookieSecure must be true, false or "auto"/],
    [{ authHeaderPrefix: 'J W T' }, /drfJwt\.authHeaderPrefix must be one word/],
    [{ authHeaderPrefix: '' }, /drfJwt\.authHeaderPrefix/],
    [{ authHeaderPrefix: 'Token' }, /cannot be "Token"/],
    [{ authCookie: 'my cookie' }, /drfJwt\.authCookie must be a cookie name/],
    [{ authCookie: '' }, /drfJwt\.authCookie/],
    [{ authCookieDomain: 'exa mple.com' }, /drfJwt\.authCookieDomain/],
    [{ authCookiePath: 'app' }, /drfJwt\.authCookiePath must be a path starting with \//],
    [{ authCookieSameSite: 'Lax' }, /drfJwt\.authCookieSameSite must be "lax", "strict" or "none"/],
    [{ authCookieSameSite: 'none' }, /requires drfJwt\.authCookieSecure: true/],
    [{ responsePayloadHandler: 'myapp.utils.handler' }, /drfJwt\.responsePayloadHandler must be a function/],
    [{ payloadHandler: {} }, /drfJwt\.payloadHandler must be a function/]
  ]
  for (const [input, message] of cases) {
    t.throws(() => resolveDrfJwtOptions(input as DrfJwtOptions), message, JSON.stringify(input))
    try {
      resolveDrfJwtOptions(input as DrfJwtOptions)
    } catch (error) {
      t.ok(error instanceof OptionsError, 'an OptionsError')
    }
  }
  t.doesNotThrow(() => resolveDrfJwtOptions({ authCookieSameSite: 'none', authCookieSecure: true }))
})

t.test('a bad option makes app.ready() reject', async t => {
  await t.rejects(buildDrfJwtApp({ drfJwt: { expirationDelta: -1 } }), /fastify-accounts: drfJwt\.expirationDelta/)
})

t.test('drfJwtRoutes without the core plugin says so', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  await t.rejects(async () => {
    await app.register(drfJwtRoutes, { prefix: '/api' })
    await app.ready()
  }, /The dependency 'fastify-accounts' of plugin 'fastify-accounts-drf-jwt' is not registered/)
})

t.test('the error formatter speaks DRF', async t => {
  const format = drfJwtErrorFormatter()
  t.same(format(fieldError('non_field_errors', 'Refresh has expired.')), { statusCode: 400, body: { non_field_errors: ['Refresh has expired.'] } })
  t.same(format(new NotAuthenticatedError('Signature has expired.')), {
    statusCode: 401, body: { detail: 'Signature has expired.' }, headers: { 'www-authenticate': 'JWT realm="api"' }
  })
  t.same(drfJwtErrorFormatter('Bearer')(new NotAuthenticatedError('x'))?.headers, { 'www-authenticate': 'Bearer realm="api"' })
  t.same(format(new InvalidCredentialsError('x')), { statusCode: 400, body: { non_field_errors: ['Unable to log in with provided credentials.'] } })
  t.equal(format(new StoreUnavailableError('down'))?.statusCode, 503)
  t.equal(format(new Error('a bug')), null, 'anything else is a 500')
})

t.test("authCookie works beside the host app's own @fastify/cookie", async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyCookie)
  await app.register(accounts, { prefix: '/auth', passwordHasher: fastHasher, rateLimit: false, sendActivationEmail: false, jwt: { signingKey: SECRET } })
  await app.register(drfJwtRoutes, { prefix: '/api', authCookie: 'jwt' })
  app.get('/mine', async (request) => ({ cookies: request.cookies }))
  await app.ready()
  const registered = await app.inject({ method: 'POST', url: '/auth/users/', payload: { username: 'erin', email: 'erin@example.com', password: PASSWORD } })
  t.equal(registered.statusCode, 201)
  const login = await app.inject({ method: 'POST', url: '/api/api-token-auth/', payload: { username: 'erin', password: PASSWORD } })
  t.equal(login.statusCode, 200)
  t.match(login.headers['set-cookie'], /^jwt=[\w-]+\.[\w-]+\.[\w-]+; Max-Age=300; Path=\/; Expires=.*; HttpOnly; SameSite=Lax$/)
  t.same((await app.inject({ url: '/mine', headers: { cookie: 'a=1' } })).json(), { cookies: { a: '1' } }, "the host's cookie parsing is untouched")
})
