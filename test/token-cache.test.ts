import { setTimeout as sleep } from 'node:timers/promises'
import Fastify from 'fastify'
import t from 'tap'
import accounts, { MemoryMailer, MemoryTokenStore, MemoryUserStore } from '../lib/index.js'
import { fastHasher, SECRET } from './helpers/app.js'
import { claims, me, post, setup, signHmac, tamperSignature } from './helpers/jwt.js'

// TokenService remembers verified access tokens until they expire: none of that may show on the wire.

/** Waits until `ms` (epoch milliseconds) has passed. */
async function until (ms: number): Promise<void> {
  const wait = ms - Date.now()
  if (wait > 0) await sleep(wait)
}

/** exp is a whole second: start just after one turns, so a 1-second token really lives about a second, even under load. */
async function startOfSecond (): Promise<void> {
  await until(Math.ceil(Date.now() / 1000) * 1000 + 10)
}

t.test('a verified access token stops working the moment it expires', async t => {
  const { app, id } = await setup()
  await startOfSecond()
  const payload = claims(id, 'access', { lifetime: 2 })
  const token = signHmac(payload, SECRET)
  const exp = (payload.exp as number) * 1000
  t.equal((await me(app, `Bearer ${token}`)).statusCode, 200, 'fresh')
  t.equal((await post(app, '/jwt/verify/', { token })).statusCode, 200, 'fresh, again')
  await until(exp + 50)
  t.equal((await me(app, `Bearer ${token}`)).statusCode, 401, '/users/me/ once expired')
  t.equal((await post(app, '/jwt/verify/', { token })).statusCode, 401, '/jwt/verify/ once expired')
})

t.test('with leeway, a verified access token works until exp + leeway, then no more', async t => {
  const { app, id } = await setup({ jwt: { leeway: 1 } })
  await startOfSecond()
  const payload = claims(id, 'access', { lifetime: 1 })
  const token = signHmac(payload, SECRET)
  const exp = (payload.exp as number) * 1000
  t.equal((await me(app, `Bearer ${token}`)).statusCode, 200, 'fresh')
  await until(exp + 300)
  t.equal((await me(app, `Bearer ${token}`)).statusCode, 200, 'past exp, within the leeway')
  await until(exp + 1050)
  t.equal((await me(app, `Bearer ${token}`)).statusCode, 401, 'past exp + leeway')
})

t.test('a tampered copy of a verified token is still refused', async t => {
  const { app, access } = await setup()
  t.equal((await me(app, `Bearer ${access}`)).statusCode, 200)
  t.equal((await me(app, `Bearer ${tamperSignature(access)}`)).statusCode, 401)
  t.equal((await post(app, '/jwt/verify/', { token: tamperSignature(access) })).statusCode, 401)
})

t.test('claims an app route changes do not leak into the next request', async t => {
  const users = new MemoryUserStore()
  const app = Fastify({ logger: false })
  await app.register(accounts, {
    store: { users, tokens: new MemoryTokenStore() },
    mailer: new MemoryMailer(),
    passwordHasher: fastHasher,
    jwt: { signingKey: SECRET }
  })
  app.get('/claims', { onRequest: app.authenticate }, async (request) => {
    const seen = JSON.parse(JSON.stringify(request.auth?.scheme === 'jwt' ? request.auth.claims : {})) as Record<string, unknown>
    if (request.auth?.scheme === 'jwt') {
      request.auth.claims.user_id = 999
      request.auth.claims.extra = 'changed'
      // A nested custom claim, changed in place: the cache keeps its own copy of those too.
      const roles = request.auth.claims.roles
      if (typeof roles === 'object' && roles !== null) (roles as Record<string, unknown>).admin = true
    }
    return seen
  })
  t.teardown(() => app.close())
  const user = await users.createUser({ username: 'carol', email: 'carol@example.com', password: '', isActive: true })
  const token = signHmac(claims(user.id, 'access'), SECRET)
  const first = (await app.inject({ url: '/claims', headers: { authorization: `Bearer ${token}` } })).json()
  const second = (await app.inject({ url: '/claims', headers: { authorization: `Bearer ${token}` } })).json()
  t.equal(first.user_id, user.id)
  t.same(second, first, 'the second request sees the token as it is')
  const nested = signHmac({ ...claims(user.id, 'access'), roles: { admin: false } }, SECRET)
  const once = (await app.inject({ url: '/claims', headers: { authorization: `Bearer ${nested}` } })).json()
  const again = (await app.inject({ url: '/claims', headers: { authorization: `Bearer ${nested}` } })).json()
  t.same(once.roles, { admin: false })
  t.same(again, once, 'a nested claim changed by a route does not reach the next request either')
})

t.test('more distinct tokens than the cache holds all verify, each as often as it is sent', async t => {
  const { app, id } = await setup()
  const service = app.app.accounts.tokens
  const tokens = Array.from({ length: 5000 }, (_, i) => signHmac(claims(id, 'access', { jti: i.toString(16).padStart(32, '0') }), SECRET))
  for (let round = 0; round < 2; round++) {
    let ok = 0
    for (const token of tokens) if (service.verify(token, 'access').user_id === id) ok++
    t.equal(ok, tokens.length, `round ${round + 1}`)
  }
  t.throws(() => service.verify(tokens[0], 'refresh'), { message: 'Token has wrong type' }, 'the type is checked on a cached token too')
})

t.test('a cached refresh token is still checked against the blacklist on every use', async t => {
  const { app, refresh } = await setup()
  t.equal((await post(app, '/jwt/refresh/', { refresh })).statusCode, 200, 'verified once')
  t.equal((await post(app, '/jwt/refresh/', { refresh })).statusCode, 200, 'verified again, now remembered')
  t.equal((await post(app, '/jwt/refresh/', { refresh })).statusCode, 200, 'from the cache')
  t.equal((await post(app, '/jwt/blacklist/', { refresh })).statusCode, 200)
  const after = await post(app, '/jwt/refresh/', { refresh })
  t.equal(after.statusCode, 401, 'blacklisted: refused although its signature check is cached')
  t.equal(after.json().code, 'token_not_valid')
  t.equal((await post(app, '/jwt/verify/', { token: refresh })).statusCode, 401, '/jwt/verify/ too')
})
