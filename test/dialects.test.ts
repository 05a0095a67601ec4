import swagger from '@fastify/swagger'
import Fastify from 'fastify'
import t from 'tap'
import accounts, { MemoryMailer, MemoryTokenStore, MemoryUserStore, type DialectName } from '../lib/index.js'
import { djRestAuthRoutes } from '../lib/dialects/dj-rest-auth/index.js'
import { drfJwtRoutes } from '../lib/dialects/drf-jwt/index.js'
import { sanicJwtRoutes } from '../lib/dialects/sanic-jwt/index.js'
import { fastHasher, PASSWORD, SECRET } from './helpers/app.js'

async function appWith (dialect: DialectName, extra: object = {}) {
  const users = new MemoryUserStore()
  const app = Fastify()
  await app.register(accounts, {
    prefix: '/auth', dialect, store: { users, tokens: new MemoryTokenStore() }, mailer: new MemoryMailer(),
    passwordHasher: fastHasher, rateLimit: false, sendActivationEmail: false, jwt: { signingKey: SECRET }, ...extra
  })
  app.get('/private', { onRequest: app.authenticate }, async (request) => ({ id: request.user?.id }))
  await app.ready()
  t.teardown(() => app.close())
  await users.createUser({ username: 'alice', email: 'alice@example.com', password: await fastHasher.hash(PASSWORD), isActive: true })
  return app
}

t.test('dialect picks the routes and the shape of app.authenticate', async (t) => {
  t.test('djoser', async (t) => {
    const app = await appWith('djoser')
    const pair = (await app.inject({ method: 'POST', url: '/auth/jwt/create/', payload: { username: 'alice', password: PASSWORD } })).json()
    t.same((await app.inject({ url: '/private', headers: { authorization: `Bearer ${pair.access}` } })).json(), { id: 1 })
    const anonymous = await app.inject({ url: '/private' })
    t.equal(anonymous.statusCode, 401)
    t.same(anonymous.json(), { detail: 'Authentication credentials were not provided.' })
  })

  t.test('dj-rest-auth', async (t) => {
    const app = await appWith('dj-rest-auth', { djRestAuth: { emailVerification: 'none' } })
    const login = await app.inject({ method: 'POST', url: '/auth/login/', payload: { username: 'alice', password: PASSWORD } })
    t.equal(login.statusCode, 200, login.body)
    const { key } = login.json()
    t.match(key, /^[0-9a-f]{40}$/)
    t.same((await app.inject({ url: '/private', headers: { authorization: `Token ${key}` } })).json(), { id: 1 })
    t.equal((await app.inject({ method: 'POST', url: '/auth/jwt/create/', payload: {} })).statusCode, 404, 'no djoser routes')
    t.match((await app.inject({ url: '/private' })).json(), { detail: String })
  })

  t.test('drf-jwt', async (t) => {
    const app = await appWith('drf-jwt')
    const { token } = (await app.inject({ method: 'POST', url: '/auth/api-token-auth/', payload: { username: 'alice', password: PASSWORD } })).json()
    t.same((await app.inject({ url: '/private', headers: { authorization: `JWT ${token}` } })).json(), { id: 1 })
    const bearer = await app.inject({ url: '/private', headers: { authorization: `Bearer ${token}` } })
    t.equal(bearer.statusCode, 401, 'drf-jwt reads JWT <token>, not Bearer')
    t.equal(bearer.headers['www-authenticate'], 'JWT realm="api"')
    t.same(bearer.json(), { detail: 'Authentication credentials were not provided.' })
  })

  t.test('sanic-jwt', async (t) => {
    const app = await appWith('sanic-jwt', { sanicJwt: { refreshTokenEnabled: true } })
    const login = await app.inject({ method: 'POST', url: '/auth', payload: { username: 'alice', password: PASSWORD } })
    t.equal(login.statusCode, 200, login.body)
    const body = login.json()
    t.type(body.refresh_token, 'string', 'refresh tokens work with the default in-memory store')
    t.same((await app.inject({ url: '/private', headers: { authorization: `Bearer ${body.access_token}` } })).json(), { id: 1 })
    const anonymous = await app.inject({ url: '/private' })
    t.equal(anonymous.statusCode, 401)
    t.match(anonymous.json(), { reasons: Array, exception: String }, "sanic-jwt's error shape")
  })
})

t.test('all four dialects side by side on one store, one OpenAPI document, one rate-limit budget', async (t) => {
  const users = new MemoryUserStore()
  const app = Fastify()
  await app.register(swagger, { openapi: { info: { title: 't', version: '1' } } })
  await app.register(accounts, {
    prefix: '/djoser', store: { users, tokens: new MemoryTokenStore() }, mailer: new MemoryMailer(), passwordHasher: fastHasher,
    sendActivationEmail: false, rateLimit: { perIp: { max: 100, timeWindow: 60 }, perAccountFailures: { max: 3, timeWindow: 60 } }, jwt: { signingKey: SECRET }
  })
  await app.register(djRestAuthRoutes, { prefix: '/dj-rest-auth', emailVerification: 'none' })
  await app.register(drfJwtRoutes, { prefix: '/api' })
  await app.register(sanicJwtRoutes, { prefix: '/auth' })
  await app.ready()
  t.teardown(() => app.close())

  const created = await app.inject({ method: 'POST', url: '/djoser/users/', payload: { username: 'alice', email: 'alice@example.com', password: PASSWORD } })
  t.equal(created.statusCode, 201)
  const loginsWith = async (password: string) => [
    await app.inject({ method: 'POST', url: '/djoser/jwt/create/', payload: { username: 'alice', password } }),
    await app.inject({ method: 'POST', url: '/dj-rest-auth/login/', payload: { username: 'alice', password } }),
    await app.inject({ method: 'POST', url: '/api/api-token-auth/', payload: { username: 'alice', password } }),
    await app.inject({ method: 'POST', url: '/auth', payload: { username: 'alice', password } })
  ]
  t.same((await loginsWith(PASSWORD)).map((r) => r.statusCode), [200, 200, 200, 200], 'successful logins spend no failure budget')
  const failed = (await loginsWith('wrong-password')).map((r) => r.statusCode)
  t.same(failed, [401, 400, 400, 429], 'one user fails through each dialect, and they share one failure budget per account')
  const right = await app.inject({ method: 'POST', url: '/auth', payload: { username: 'alice', password: PASSWORD } })
  t.equal(right.statusCode, 429, 'spent: even the right password waits')
  t.match(right.json(), { exception: 'TooManyRequests' }, "the 429 is in sanic-jwt's shape")

  const paths = Object.keys((app.swagger() as { paths: Record<string, unknown> }).paths)
  for (const path of ['/djoser/users/', '/dj-rest-auth/login/', '/api/api-token-auth/', '/auth/verify']) {
    t.ok(paths.includes(path), `the document has ${path}`)
  }
})
