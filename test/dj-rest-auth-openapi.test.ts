import SwaggerParser from '@apidevtools/swagger-parser'
import swagger from '@fastify/swagger'
import { swaggerOptions } from '../lib/http/openapi.js'
import Fastify, { type FastifyInstance } from 'fastify'
import t from 'tap'
import accounts from '../lib/index.js'
import {
  DJ_REST_AUTH_DEFAULTS, djRestAuthCoreDefaults, djRestAuthErrorFormatter, djRestAuthRoutes, resolveDjRestAuthOptions
} from '../lib/dialects/dj-rest-auth/index.js'
import { fastHasher, SECRET } from './helpers/app.js'
import { buildDjRestAuthApp, dra, json, keyFrom, PASSWORD, type DjTestApp } from './helpers/dj-rest-auth.js'

/** djoser (the core, /djoser) and dj-rest-auth (/dj-rest-auth) side by side on one user store; the OpenAPI document; options. */

type Json = any

/** @fastify/swagger as lib/app.ts registers it. */
async function withSwagger (app: FastifyInstance): Promise<void> {
  await app.register(swagger, swaggerOptions({ title: 'fastify-accounts', version: '0.0.0' }))
}

const bearer = (access: string): Record<string, string> => ({ authorization: `Bearer ${access}` })
const token = (key: string): Record<string, string> => ({ authorization: `Token ${key}` })

t.test('djoser and dj-rest-auth on one user store', async t => {
  async function both (): Promise<DjTestApp> {
    return buildDjRestAuthApp({ useJwt: false }, { before: withSwagger })
  }

  t.test('registered through djoser, verified with the dj-rest-auth key, logged in through both', async t => {
    const a = await both()
    const created = await a.app.inject({ method: 'POST', url: '/djoser/users/', payload: { username: 'alice', email: 'alice@example.com', password: PASSWORD } })
    t.equal(created.statusCode, 201)
    const key = keyFrom(a.mailer, 'alice@example.com')
    t.equal((await dra(a, 'POST', '/registration/verify-email/', { key })).statusCode, 200)

    const drfKey = (json(await dra(a, 'POST', '/login/', { username: 'alice', password: PASSWORD })) as { key: string }).key
    const me = await a.app.inject({ method: 'GET', url: '/djoser/users/me/', headers: token(drfKey) })
    t.equal(me.statusCode, 200, 'a dj-rest-auth key works on djoser routes')
    t.same(json(me), { id: 1, username: 'alice', email: 'alice@example.com' })

    const jwt = await a.app.inject({ method: 'POST', url: '/djoser/jwt/create/', payload: { username: 'alice', password: PASSWORD } })
    const access = (json(jwt) as { access: string }).access
    const user = await dra(a, 'GET', '/user/', undefined, bearer(access))
    t.equal(user.statusCode, 200, 'a djoser JWT works on dj-rest-auth routes')
    t.same(json(user), { pk: 1, username: 'alice', email: 'alice@example.com', first_name: '', last_name: '' })
  })

  t.test('registered through dj-rest-auth, activated through djoser; one user, one set of passwords', async t => {
    const a = await both()
    t.equal((await dra(a, 'POST', '/registration/', { username: 'bob', email: 'bob@example.com', password1: PASSWORD, password2: PASSWORD })).statusCode, 201)
    const [uid, tk] = keyFrom(a.mailer, 'bob@example.com').split(':')
    t.equal((await a.app.inject({ method: 'POST', url: '/djoser/users/activation/', payload: { uid, token: tk } })).statusCode, 204)
    const drfKey = (json(await dra(a, 'POST', '/login/', { email: 'bob@example.com', password: PASSWORD })) as { key: string }).key
    t.equal((await dra(a, 'POST', '/password/change/', { new_password1: 'bobs-new-passphrase', new_password2: 'bobs-new-passphrase' }, token(drfKey))).statusCode, 200)
    t.equal((await a.app.inject({ method: 'POST', url: '/djoser/token/login/', payload: { username: 'bob', password: 'bobs-new-passphrase' } })).statusCode, 200)
    t.equal((await a.users.listUsers()).length, 1)
  })

  t.test('each dialect keeps its own error shapes', async t => {
    const a = await both()
    const djoser = await a.app.inject({ method: 'POST', url: '/djoser/jwt/create/', payload: { username: 'nobody', password: PASSWORD } })
    t.equal(djoser.statusCode, 401, 'simplejwt: 401 {detail}')
    const dj = await dra(a, 'POST', '/login/', { username: 'nobody', password: PASSWORD })
    t.equal(dj.statusCode, 400, 'dj-rest-auth: 400 {non_field_errors}')
    t.same(json(dj), { non_field_errors: ['Unable to log in with provided credentials.'] })
    t.equal((await a.app.inject({ method: 'GET', url: '/djoser/users/me/' })).headers['www-authenticate'], 'Bearer realm="api"')
    t.equal((await dra(a, 'GET', '/user/')).headers['www-authenticate'], 'Token')
  })

  t.test('the OpenAPI document covers both dialects and is valid', async t => {
    for (const useJwt of [false, true]) {
      const a = await buildDjRestAuthApp({ useJwt, logoutOnGet: useJwt }, { before: withSwagger })
      const doc = a.app.swagger() as Json
      t.ok(await SwaggerParser.validate(structuredClone(doc)), `valid (useJwt ${String(useJwt)})`)
      const ops = new Set<string>()
      for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) for (const method of Object.keys(item)) ops.add(`${method} ${path}`)
      for (const op of ['post /djoser/users/', 'get /djoser/users/me/', 'post /djoser/jwt/create/', 'post /djoser/token/login/']) t.ok(ops.has(op), op)
      const dra = [
        'post /dj-rest-auth/login/', 'post /dj-rest-auth/logout/', 'post /dj-rest-auth/password/reset/', 'post /dj-rest-auth/password/reset/confirm/',
        'post /dj-rest-auth/password/change/', 'get /dj-rest-auth/user/', 'put /dj-rest-auth/user/', 'patch /dj-rest-auth/user/',
        'post /dj-rest-auth/registration/', 'post /dj-rest-auth/registration/verify-email/', 'post /dj-rest-auth/registration/resend-email/'
      ]
      for (const op of dra) t.ok(ops.has(op), op)
      t.equal(ops.has('post /dj-rest-auth/token/refresh/'), useJwt, 'token/refresh/ only with JWT')
      t.equal(ops.has('post /dj-rest-auth/token/verify/'), useJwt, 'token/verify/ only with JWT')
      t.equal(ops.has('get /dj-rest-auth/logout/'), useJwt, 'GET logout/ only with logoutOnGet')
      t.same([...ops].filter((op) => !op.endsWith('/')), ['get /private'], 'no slash-less twins (only the app\'s own route)')
      t.ok(doc.components.schemas.DjRestAuthUser, 'DjRestAuthUser component')
      t.ok(doc.components.schemas.DjoserUser, 'DjoserUser component')
      const login = doc.paths['/dj-rest-auth/login/'].post
      const schema = login.responses['200'].content['application/json'].schema
      t.same(Object.keys(schema.properties), useJwt ? ['access', 'refresh', 'user', 'access_expiration', 'refresh_expiration'] : ['key'])
      if (useJwt) t.equal(schema.properties.user.$ref, '#/components/schemas/DjRestAuthUser')
      t.match(JSON.stringify(login.requestBody), /DjRestAuthLogin|username/)
    }
  })
})

t.test('rate limits: the core\'s login, reset and activation budgets, 429 {detail} with Retry-After', async t => {
  const a = await buildDjRestAuthApp({ emailVerification: 'none' }, { core: { rateLimit: { perIp: { max: 5, timeWindow: 60 }, perAccount: { max: 3, timeWindow: 60 }, perAccountFailures: { max: 3, timeWindow: 60 } } } })
  const at = (ip: string) => ({ remoteAddress: ip })
  for (let i = 0; i < 3; i++) {
    t.equal((await a.app.inject({ method: 'POST', url: '/dj-rest-auth/login/', payload: { username: 'alice', password: 'wrong-password' }, ...at(`10.0.0.${i}`) })).statusCode, 400)
  }
  const limited = await a.app.inject({ method: 'POST', url: '/dj-rest-auth/login/', payload: { email: 'x@example.com', username: 'ALICE', password: 'x' }, ...at('10.0.0.9') })
  t.equal((await a.app.inject({ method: 'POST', url: '/dj-rest-auth/login/', payload: { username: 'Alice', password: 'x' }, ...at('10.0.0.9') })).statusCode, 429)
  t.equal(limited.statusCode, 400, 'the email names another account')
  const throttled = await a.app.inject({ method: 'POST', url: '/dj-rest-auth/login/', payload: { username: 'alice', password: PASSWORD }, ...at('10.0.0.10') })
  t.equal(throttled.statusCode, 429)
  t.match(json(throttled), { detail: /throttled/ })
  t.same(Object.keys(json(throttled) as object), ['detail'])
  t.ok(Number(throttled.headers['retry-after']) > 0)

  for (let i = 0; i < 5; i++) await a.app.inject({ method: 'POST', url: '/dj-rest-auth/registration/verify-email/', payload: { key: `M${i}:x` }, ...at('10.3.0.1') })
  t.equal((await a.app.inject({ method: 'POST', url: '/dj-rest-auth/registration/verify-email/', payload: { key: 'MQ:x' }, ...at('10.3.0.1') })).statusCode, 429, 'key guesses from one address')
  t.equal((await a.app.inject({ method: 'POST', url: '/dj-rest-auth/registration/resend-email/', payload: { email: 'x@example.com' }, ...at('10.3.0.1') })).statusCode, 429, 'resend shares the activation budget')
  for (let i = 0; i < 3; i++) await a.app.inject({ method: 'POST', url: '/dj-rest-auth/password/reset/', payload: { email: 'carol@example.com' }, ...at(`10.2.0.${i}`) })
  t.equal((await a.app.inject({ method: 'POST', url: '/dj-rest-auth/password/reset/', payload: { email: 'Carol@example.com' }, ...at('10.2.0.9') })).statusCode, 429, 'resets per email')
})

t.test('options', async t => {
  t.test('defaults', async t => {
    t.same(resolveDjRestAuthOptions(), DJ_REST_AUTH_DEFAULTS)
    t.same(resolveDjRestAuthOptions({ jwtAuthCookie: null, useJwt: undefined }), DJ_REST_AUTH_DEFAULTS, 'None and undefined mean the default')
    t.same(djRestAuthCoreDefaults(resolveDjRestAuthOptions()), { sendActivationEmail: true, activationUrl: '#/verify-email/{uid}:{token}' })
    t.same(djRestAuthCoreDefaults(resolveDjRestAuthOptions({ emailVerification: 'optional', emailConfirmationUrl: 'confirm/{key}/' })), { sendActivationEmail: false, activationUrl: 'confirm/{uid}:{token}/' })
    const resolved = resolveDjRestAuthOptions({ useJwt: true, jwtAuthCookie: 'a' })
    t.same(resolveDjRestAuthOptions(resolved), resolved, 'resolving twice changes nothing')
  })

  t.test('mistakes name the option', async t => {
    const cases: Array<[unknown, RegExp]> = [
      [{ useJWT: true }, /^fastify-accounts: djRestAuth\.useJWT is not an option$/],
      [{ useJwt: 'yes' }, /djRestAuth\.useJwt must be a boolean/],
      [{ jwtAuthHttpOnly: null }, /djRestAuth\.jwtAuthHttpOnly must be a boolean/],
      [{ jwtAuthCookie: 'auth' }, /djRestAuth\.jwtAuthCookie needs useJwt: true/],
      [{ useJwt: true, jwtAuthCookie: 'bad name' }, /djRestAuth\.jwtAuthCookie must be a cookie name/],
      [{ useJwt: true, jwtAuthCookie: 'x', jwtAuthRefreshCookie: 'x' }, /djRestAuth\.jwtAuthRefreshCookie must differ/],
      [{ jwtAuthSameSite: 'lax' }, /djRestAuth\.jwtAuthSameSite must be/],
      [{ jwtAuthSameSite: 'None' }, /djRestAuth\.jwtAuthSameSite "None" needs jwtAuthSecure: true/],
      [{ jwtAuthRefreshCookiePath: 'api/' }, /djRestAuth\.jwtAuthRefreshCookiePath/],
      [{ jwtAuthCookieDomain: 'a b' }, /djRestAuth\.jwtAuthCookieDomain/],
      [{ emailVerification: 'required' }, /djRestAuth\.emailVerification must be/],
      [{ authenticationMethod: 'phone' }, /djRestAuth\.authenticationMethod must be/],
      [{ emailConfirmationUrl: '#/verify/{uid}' }, /djRestAuth\.emailConfirmationUrl must be a string containing \{key\}/],
      ['nope', /djRestAuth must be an object/]
    ]
    for (const [input, message] of cases) t.throws(() => resolveDjRestAuthOptions(input as never), message, JSON.stringify(input))
  })

  t.test('the routes refuse a core that disagrees, or no core', async t => {
    async function build (core: Record<string, unknown>, dj: Record<string, unknown> = {}): Promise<FastifyInstance> {
      const app = Fastify()
      await app.register(accounts, { prefix: '/djoser', passwordHasher: fastHasher, jwt: { signingKey: SECRET }, ...core })
      await app.register(djRestAuthRoutes, { prefix: '/dj-rest-auth', ...dj })
      return app
    }
    await t.rejects(build({ sendActivationEmail: true, activationUrl: '#/activate/{uid}/{token}' }), /djRestAuth\.emailVerification "mandatory" needs activationUrl to carry the key as \{uid\}:\{token\}/)
    await t.rejects(build({ sendActivationEmail: true, activationUrl: '#/v/{uid}:{token}' }, { emailVerification: 'none' }), /djRestAuth\.emailVerification "none" needs sendActivationEmail: false/)
    await t.rejects(build({ sendActivationEmail: false }), /djRestAuth\.emailVerification "mandatory" needs sendActivationEmail: true/)
    await t.rejects(build({ sendActivationEmail: false }, { emailVerification: 'none', bogus: 1 }), /djRestAuth\.bogus is not an option/)
    const bare = Fastify()
    await t.rejects(async () => { await bare.register(djRestAuthRoutes, { prefix: '/x' }) }, /The dependency 'fastify-accounts' of plugin 'fastify-accounts-dj-rest-auth' is not registered/)
    const ok = await build({ sendActivationEmail: false }, { emailVerification: 'optional' })
    await ok.ready()
    t.pass('a consistent core registers')
  })

  t.test('the error formatter: DRF shapes, the challenge of the first authentication class', async t => {
    const { TokenNotValidError, NotAuthenticatedError, fieldError } = await import('../lib/errors.js')
    const jwt = djRestAuthErrorFormatter({ useJwt: true }, 'JWT')
    const tokenMode = djRestAuthErrorFormatter({ useJwt: false })
    t.same(jwt(new TokenNotValidError('Token is invalid or expired')), {
      statusCode: 401, body: { detail: 'Token is invalid or expired', code: 'token_not_valid' }, headers: { 'www-authenticate': 'JWT realm="api"' }
    })
    t.same(tokenMode(new NotAuthenticatedError('Authentication credentials were not provided.')), {
      statusCode: 401, body: { detail: 'Authentication credentials were not provided.' }, headers: { 'www-authenticate': 'Token' }
    })
    t.same(tokenMode(fieldError('non_field_errors', 'x')), { statusCode: 400, body: { non_field_errors: ['x'] } })
    t.equal(tokenMode(new Error('a bug')), null)
  })
})
