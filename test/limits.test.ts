/**
 * Issue 13, item 3: the failure budget per account (logins and current_password checks, successes not
 * counted), every attempt per address, registration per address, in each dialect's shape, shared through
 * Redis, and a Redis outage that lets requests through (logged). test/rate-limit.test.ts covers the
 * older budgets (resets, activation) and the options.
 */
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import type { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import accounts, { MemoryMailer, type AccountsOptions, type PasswordHasher } from '../lib/index.js'
import { drfJwtRoutes } from '../lib/dialects/drf-jwt/index.js'
import { sanicJwtRoutes } from '../lib/dialects/sanic-jwt/index.js'
import { countingFailures } from '../lib/http/rate-limit.js'
import { fieldError } from '../lib/errors.js'
import { MemoryTokenStore, MemoryUserStore } from '../lib/stores/memory.js'
import { createRedisClient } from '../lib/stores/redis.js'
import { fastHasher, PASSWORD, SECRET } from './helpers/app.js'
import { buildDjRestAuthApp, dra, registered } from './helpers/dj-rest-auth.js'
import { FaultProxy, keysWithTtl, REDIS_URL, serviceTest, testKeyPrefix } from './helpers/services.js'

const NEW_PASSWORD = 'another-horse-battery-staple'
const WRONG = 'wrong-password-0123'
type RateLimit = Exclude<NonNullable<AccountsOptions['rateLimit']>, false>

interface LimitsApp {
  app: FastifyInstance
  users: MemoryUserStore
  /** What the app logged at warn and above, one JSON line each. */
  logs: string[]
  /** POST under the app; `ip` is the client's address. */
  post: (url: string, payload: object, options?: { ip?: string, token?: string, method?: 'POST' | 'DELETE' }) => Promise<LightMyRequestResponse>
  /** Logs in through djoser's jwt/create; returns the access token. */
  access: (username: string, ip?: string) => Promise<string>
}

let hashed: Promise<string> | undefined
/** Users straight into the store (registration has a budget of its own), all with PASSWORD. */
async function addUser (a: LimitsApp, username: string, active = true): Promise<void> {
  hashed ??= fastHasher.hash(PASSWORD)
  await a.users.createUser({ username, email: `${username}@example.com`, password: await hashed, isActive: active })
}

/**
 * The core (djoser) under /auth, drf-jwt under /api and sanic-jwt under /sanic on one store, logging warnings
 * into `logs`. `rateLimit` is given as it is (undefined: the defaults).
 */
async function limitsApp (t: Test, rateLimit: AccountsOptions['rateLimit'], extra: Partial<AccountsOptions> = {}): Promise<LimitsApp> {
  const users = new MemoryUserStore()
  const logs: string[] = []
  const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => { logs.push(line) } } } })
  await app.register(accounts, {
    prefix: '/auth',
    store: { users, tokens: new MemoryTokenStore() },
    mailer: new MemoryMailer(),
    passwordHasher: fastHasher,
    sendActivationEmail: false,
    ...(rateLimit === undefined ? {} : { rateLimit }),
    ...extra,
    jwt: { signingKey: SECRET }
  })
  await app.register(drfJwtRoutes, { prefix: '/api' })
  await app.register(sanicJwtRoutes, { prefix: '/sanic' })
  await app.ready()
  t.teardown(() => app.close())
  const a: LimitsApp = {
    app,
    users,
    logs,
    post: async (url, payload, options = {}) => await app.inject({
      method: options.method ?? 'POST',
      url,
      payload,
      remoteAddress: options.ip ?? '127.0.0.1',
      headers: options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }
    }),
    access: async (username, ip = '198.51.100.1') => {
      const res = await a.post('/auth/jwt/create/', { username, password: PASSWORD }, { ip })
      if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`)
      return (res.json() as { access: string }).access
    }
  }
  return a
}

const jwtLogin = (a: LimitsApp, username: string, password: string, ip = '127.0.0.1') => a.post('/auth/jwt/create/', { username, password }, { ip })
/** A fresh address per attempt: only the account's budget is in play. */
let hosts = 0
const nextIp = () => `10.${(++hosts >> 16) & 255}.${(hosts >> 8) & 255}.${hosts & 255}`

function assertThrottled (t: Test, res: LightMyRequestResponse, maxSeconds: number, message = 'throttled'): void {
  t.equal(res.statusCode, 429, message)
  const wait = Number(res.headers['retry-after'])
  t.ok(Number.isInteger(wait) && wait > 0 && wait <= maxSeconds, `${message}: Retry-After ${String(res.headers['retry-after'])} in 1..${maxSeconds}`)
  t.match(res.json(), { detail: `Request was throttled. Expected available in ${wait} seconds.` }, `${message}: {detail} says the same wait`)
}

// ---- the login failure budget ----------------------------------------------------------------------------

t.test('eleven successful logins in a row pass; the eleventh failure is 429 with Retry-After, even with the right password', async (t) => {
  const a = await limitsApp(t, undefined)
  await addUser(a, 'alice')
  for (let i = 0; i < 11; i++) t.equal((await jwtLogin(a, 'alice', PASSWORD)).statusCode, 200, `success ${i + 1}, from one address`)
  t.equal((await a.post('/auth/token/login/', { username: 'alice', password: PASSWORD })).statusCode, 200, 'token login too')

  for (let i = 0; i < 10; i++) t.equal((await jwtLogin(a, 'alice', WRONG, nextIp())).statusCode, 401, `failure ${i + 1}: the successes spent nothing`)
  const right = await jwtLogin(a, 'alice', PASSWORD, nextIp())
  assertThrottled(t, right, 900, 'the right password after 10 failures')
  t.ok(Number(right.headers['retry-after']) > 890, 'the default window: 15 minutes from the first failure')
  assertThrottled(t, await a.post('/auth/token/login/', { username: 'alice', password: PASSWORD }, { ip: nextIp() }), 900, 'token login shares the budget')
  t.equal((await jwtLogin(a, 'bob', WRONG, nextIp())).statusCode, 401, 'another account is not limited')
})

t.test('every kind of failed login counts: wrong password, unknown user, inactive user', async (t) => {
  const a = await limitsApp(t, { perIp: { max: 1000, timeWindow: 60 }, perAccountFailures: { max: 3, timeWindow: 60 } })
  await addUser(a, 'alice')
  await addUser(a, 'ivy', false)
  for (const [name, password, what] of [['alice', WRONG, 'wrong password'], ['ghost', PASSWORD, 'unknown user'], ['ivy', PASSWORD, 'inactive user']]) {
    const answers = []
    for (let i = 0; i < 4; i++) answers.push((await jwtLogin(a, name, password, nextIp())).statusCode)
    t.same(answers, [401, 401, 401, 429], what)
  }
})

t.test('a success does not wipe out earlier failures, nor can it slip past a spent budget', async (t) => {
  const a = await limitsApp(t, { perIp: { max: 1000, timeWindow: 60 }, perAccountFailures: { max: 4, timeWindow: 60 } })
  await addUser(a, 'alice')
  const answers = []
  for (const password of [WRONG, PASSWORD, WRONG, PASSWORD, WRONG, PASSWORD]) answers.push((await jwtLogin(a, 'alice', password, nextIp())).statusCode)
  t.same(answers, [401, 200, 401, 200, 401, 200], 'three failures, three successes')
  t.same([(await jwtLogin(a, 'alice', WRONG, nextIp())).statusCode, (await jwtLogin(a, 'alice', PASSWORD, nextIp())).statusCode], [401, 429],
    'the fourth failure spends the budget')
})

t.test('an account is one budget in any letter case and Unicode form', async (t) => {
  const a = await limitsApp(t, { perIp: { max: 1000, timeWindow: 60 }, perAccountFailures: { max: 3, timeWindow: 60 } })
  await addUser(a, 'alice')
  for (const name of ['alice', 'ALICE', 'ａｌｉｃｅ']) t.equal((await jwtLogin(a, name, WRONG, nextIp())).statusCode, 401, name)
  t.equal((await jwtLogin(a, 'Alice', PASSWORD, nextIp())).statusCode, 429)
})

t.test('guesses sent at once cannot overrun the budget: each takes its unit before the password is checked', async (t) => {
  const a = await limitsApp(t, { perIp: { max: 1000, timeWindow: 60 } })
  await addUser(a, 'alice')
  const answers = await Promise.all(Array.from({ length: 25 }, async () => (await jwtLogin(a, 'alice', WRONG, nextIp())).statusCode))
  t.equal(answers.filter((s) => s === 401).length, 10, 'exactly the budget was checked')
  t.equal(answers.filter((s) => s === 429).length, 15)
})

t.test('the budget comes back when the window ends', async (t) => {
  const a = await limitsApp(t, { perIp: { max: 1000, timeWindow: 60 }, perAccountFailures: { max: 2, timeWindow: 1 } })
  await addUser(a, 'alice')
  for (let i = 0; i < 2; i++) await jwtLogin(a, 'alice', WRONG, nextIp())
  assertThrottled(t, await jwtLogin(a, 'alice', PASSWORD, nextIp()), 1)
  await new Promise((resolve) => setTimeout(resolve, 1100))
  t.equal((await jwtLogin(a, 'alice', PASSWORD, nextIp())).statusCode, 200, 'the right password works again')
  t.equal((await jwtLogin(a, 'alice', WRONG, nextIp())).statusCode, 401, 'and a failure starts a new window')
})

t.test('a failing password check (503) is not a failed guess', async (t) => {
  let broken = true
  const hasher: PasswordHasher = {
    hash: async (password) => await fastHasher.hash(password),
    verify: async (encoded, password) => { if (broken) throw new Error('out of memory'); return await fastHasher.verify(encoded, password) },
    needsRehash: () => false
  }
  const a = await limitsApp(t, { perIp: { max: 1000, timeWindow: 60 }, perAccountFailures: { max: 3, timeWindow: 60 } }, { passwordHasher: hasher })
  await addUser(a, 'alice')
  for (let i = 0; i < 5; i++) t.equal((await jwtLogin(a, 'alice', WRONG, nextIp())).statusCode, 503)
  broken = false
  t.equal((await jwtLogin(a, 'alice', PASSWORD, nextIp())).statusCode, 200, 'nothing was counted')
})

// ---- per address -----------------------------------------------------------------------------------------

t.test('per address: every attempt counts, successes too, and current_password checks with them', async (t) => {
  const a = await limitsApp(t, { perIp: { max: 5, timeWindow: 60 } })
  await addUser(a, 'alice')
  await addUser(a, 'bob')
  for (let i = 0; i < 5; i++) t.equal((await jwtLogin(a, i % 2 === 0 ? 'alice' : 'bob', PASSWORD, '192.0.2.1')).statusCode, 200)
  assertThrottled(t, await jwtLogin(a, 'alice', PASSWORD, '192.0.2.1'), 60, 'the 6th login from one address, right password')
  assertThrottled(t, await a.post('/auth/token/login/', { username: 'bob', password: PASSWORD }, { ip: '192.0.2.1' }), 60, 'token login shares it')
  t.equal((await jwtLogin(a, 'alice', PASSWORD, '192.0.2.2')).statusCode, 200, 'another address is not limited')

  const token = await a.access('bob', '192.0.2.3')
  for (let i = 0; i < 4; i++) {
    const weak = await a.post('/auth/users/set_password/', { current_password: PASSWORD, new_password: 'x' }, { ip: '192.0.2.3', token })
    t.equal(weak.statusCode, 400, 'a current_password check (a weak new password)')
  }
  assertThrottled(t, await jwtLogin(a, 'bob', PASSWORD, '192.0.2.3'), 60, 'logins and current_password checks share the address budget')
  assertThrottled(t, await a.post('/auth/users/set_password/', { current_password: PASSWORD, new_password: NEW_PASSWORD }, { ip: '192.0.2.3', token }), 60,
    'and the check itself waits')
})

// ---- current_password ------------------------------------------------------------------------------------

t.test('wrong current_passwords end in 429, even with the right one', async (t) => {
  const a = await limitsApp(t, { perIp: { max: 1000, timeWindow: 60 } })
  await addUser(a, 'alice')
  const token = await a.access('alice')
  const before = (await a.users.findUserByUsername('alice'))?.password
  for (let i = 0; i < 10; i++) {
    const res = await a.post('/auth/users/set_password/', { current_password: `${WRONG}${i}`, new_password: NEW_PASSWORD }, { token, ip: nextIp() })
    t.equal(res.statusCode, 400)
    t.ok('current_password' in (res.json() as object), `guess ${i + 1}: {current_password}`)
  }
  const right = await a.post('/auth/users/set_password/', { current_password: PASSWORD, new_password: NEW_PASSWORD }, { token, ip: nextIp() })
  assertThrottled(t, right, 900, 'set_password with the right current password')
  t.equal((await a.users.findUserByUsername('alice'))?.password, before, 'the password did not change')
  assertThrottled(t, await jwtLogin(a, 'alice', PASSWORD, nextIp()), 900, 'the login shares the budget')
})

t.test('set_password, set_username and DELETE users/me/ share one failure budget with the login', async (t) => {
  const a = await limitsApp(t, { perIp: { max: 1000, timeWindow: 60 }, perAccountFailures: { max: 4, timeWindow: 60 } })
  await addUser(a, 'alice')
  const token = await a.access('alice')
  const wrong = [
    await a.post('/auth/users/set_password/', { current_password: WRONG, new_password: NEW_PASSWORD }, { token }),
    await a.post('/auth/users/set_username/', { current_password: WRONG, new_username: 'alice2' }, { token }),
    await a.post('/auth/users/me/', { current_password: WRONG }, { token, method: 'DELETE' }),
    await jwtLogin(a, 'alice', WRONG, nextIp())
  ]
  t.same(wrong.map((r) => r.statusCode), [400, 400, 400, 401])
  assertThrottled(t, await a.post('/auth/users/set_username/', { current_password: PASSWORD, new_username: 'alice2' }, { token }), 60, 'set_username')
  assertThrottled(t, await a.post('/auth/users/me/', { current_password: PASSWORD }, { token, method: 'DELETE' }), 60, 'delete')
  assertThrottled(t, await jwtLogin(a, 'alice', PASSWORD, nextIp()), 60, 'login')
  t.ok(await a.users.findUserByUsername('alice'), 'the account is still there, under its name')
})

t.test('failed logins lock the current_password checks too', async (t) => {
  const a = await limitsApp(t, { perIp: { max: 1000, timeWindow: 60 }, perAccountFailures: { max: 3, timeWindow: 60 } })
  await addUser(a, 'alice')
  const token = await a.access('alice')
  for (let i = 0; i < 3; i++) await jwtLogin(a, 'alice', WRONG, nextIp())
  assertThrottled(t, await a.post('/auth/users/set_password/', { current_password: PASSWORD, new_password: NEW_PASSWORD }, { token }), 60)
})

t.test('with loginField email, the account is its email: login failures by email lock set_password', async (t) => {
  const a = await limitsApp(t, { perIp: { max: 1000, timeWindow: 60 }, perAccountFailures: { max: 3, timeWindow: 60 } }, { loginField: 'email' })
  await addUser(a, 'alice')
  const login = await a.post('/auth/jwt/create/', { email: 'alice@example.com', password: PASSWORD })
  const token = (login.json() as { access: string }).access
  for (let i = 0; i < 3; i++) t.equal((await a.post('/auth/jwt/create/', { email: 'Alice@Example.com', password: WRONG }, { ip: nextIp() })).statusCode, 401)
  assertThrottled(t, await a.post('/auth/users/set_password/', { current_password: PASSWORD, new_password: NEW_PASSWORD }, { token }), 60)
})

t.test('only a wrong current password counts: a weak new password, a taken name or a success do not', async (t) => {
  const a = await limitsApp(t, { perIp: { max: 1000, timeWindow: 60 }, perAccountFailures: { max: 2, timeWindow: 60 } })
  await addUser(a, 'alice')
  await addUser(a, 'bob')
  const token = await a.access('alice')
  for (let i = 0; i < 4; i++) {
    const weak = await a.post('/auth/users/set_password/', { current_password: PASSWORD, new_password: 'short' }, { token })
    t.equal(weak.statusCode, 400)
    t.ok('new_password' in (weak.json() as object), 'a weak new password')
    const taken = await a.post('/auth/users/set_username/', { current_password: PASSWORD, new_username: 'bob' }, { token })
    t.equal(taken.statusCode, 400)
    t.same(Object.keys(taken.json() as object), ['new_username'], 'a taken name')
  }
  for (let i = 0; i < 3; i++) {
    const [from, to] = i % 2 === 0 ? [PASSWORD, NEW_PASSWORD] : [NEW_PASSWORD, PASSWORD]
    t.equal((await a.post('/auth/users/set_password/', { current_password: from, new_password: to }, { token })).statusCode, 204, `change ${i + 1}`)
  }
  const both = await a.post('/auth/users/set_username/', { current_password: WRONG, new_username: 'bob' }, { token })
  t.same(Object.keys(both.json() as object).sort(), ['current_password', 'new_username'], 'a wrong password beside a taken name counts')
  t.equal((await a.post('/auth/users/me/', { current_password: WRONG }, { token, method: 'DELETE' })).statusCode, 400)
  assertThrottled(t, await a.post('/auth/users/me/', { current_password: NEW_PASSWORD }, { token, method: 'DELETE' }), 60, 'two failures spent it')
})

t.test('current_password routes without a user are refused before any budget is touched', async (t) => {
  const a = await limitsApp(t, { perIp: { max: 1000, timeWindow: 60 }, perAccountFailures: { max: 1, timeWindow: 60 } })
  await addUser(a, 'alice')
  for (let i = 0; i < 3; i++) t.equal((await a.post('/auth/users/set_password/', { current_password: WRONG, new_password: NEW_PASSWORD })).statusCode, 401)
  t.equal((await jwtLogin(a, 'alice', PASSWORD)).statusCode, 200)
})

// ---- registration ----------------------------------------------------------------------------------------

t.test('registration from one address ends in 429 (10 an hour by default), failed attempts included', async (t) => {
  const a = await limitsApp(t, undefined)
  const register = async (username: string, ip = '203.0.113.1', password = PASSWORD) =>
    await a.post('/auth/users/', { username, email: `${username}@example.com`, password }, { ip })
  const answers = []
  for (let i = 0; i < 6; i++) answers.push((await register(`new${i}`)).statusCode)
  answers.push((await register('new0')).statusCode, (await register('new1')).statusCode, (await register('weak', undefined, 'x')).statusCode)
  answers.push((await register('new9')).statusCode)
  t.same(answers, [201, 201, 201, 201, 201, 201, 400, 400, 400, 201], 'ten attempts: taken names and a weak password count too')
  const limited = await register('new10')
  assertThrottled(t, limited, 3600, 'the eleventh')
  t.ok(Number(limited.headers['retry-after']) > 3500, 'for the rest of the hour')
  t.equal((await register('new0', '203.0.113.1')).statusCode, 429, 'a taken name is not told either')
  t.equal((await register('new10', '203.0.113.2')).statusCode, 201, 'another address registers')
  t.equal((await jwtLogin(a, 'new0', PASSWORD, '203.0.113.1')).statusCode, 200, 'logins have budgets of their own')
})

t.test('the registration budget is configurable', async (t) => {
  const a = await limitsApp(t, { registration: { max: 2, timeWindow: 30 } })
  const register = async (username: string) => await a.post('/auth/users/', { username, email: `${username}@example.com`, password: PASSWORD })
  t.same([(await register('r1')).statusCode, (await register('r2')).statusCode], [201, 201])
  assertThrottled(t, await register('r3'), 30)
})

// ---- each dialect's shape --------------------------------------------------------------------------------

t.test("the 429 in each dialect's shape, with Retry-After; successes spend nothing in any dialect", async (t) => {
  const a = await limitsApp(t, { perIp: { max: 1000, timeWindow: 60 }, perAccountFailures: { max: 3, timeWindow: 60 } })
  const routes: Array<[string, string, number]> = [
    ['djoser jwt/create', '/auth/jwt/create/', 401],
    ['djoser token/login', '/auth/token/login/', 400],
    ['drf-jwt api-token-auth', '/api/api-token-auth/', 400],
    ['sanic-jwt POST /auth', '/sanic', 401]
  ]
  for (const [name, url, refused] of routes) {
    const user = name.replace(/\W+/g, '_')
    await addUser(a, user)
    for (let i = 0; i < 11; i++) t.equal((await a.post(url, { username: user, password: PASSWORD }, { ip: nextIp() })).statusCode, 200, `${name}: success ${i + 1}`)
    for (let i = 0; i < 3; i++) t.equal((await a.post(url, { username: user, password: WRONG }, { ip: nextIp() })).statusCode, refused, `${name}: failure ${i + 1}`)
    const res = await a.post(url, { username: user, password: PASSWORD }, { ip: nextIp() })
    t.equal(res.statusCode, 429, `${name}: 429`)
    t.match(res.headers['retry-after'], /^\d+$/, `${name}: Retry-After`)
    if (name.startsWith('sanic')) {
      t.same(Object.keys(res.json() as object).sort(), ['exception', 'reasons'], `${name}: {reasons, exception}`)
      t.match(res.json(), { exception: 'TooManyRequests', reasons: [/throttled/] })
    } else {
      t.same(Object.keys(res.json() as object), ['detail'], `${name}: {detail}`)
      t.match(res.json(), { detail: /^Request was throttled\. Expected available in \d+ seconds\.$/ })
    }
  }
})

t.test('a route that does not say how its check went is settled by its status when the response is sent', async (t) => {
  const users = new MemoryUserStore()
  const app = Fastify()
  await app.register(accounts, {
    prefix: '/auth', store: { users, tokens: new MemoryTokenStore() }, passwordHasher: fastHasher, sendActivationEmail: false,
    rateLimit: { perIp: { max: 1000, timeWindow: 60 }, perAccountFailures: { max: 2, timeWindow: 60 } }, jwt: { signingKey: SECRET }
  })
  // Host routes on the core's limits: `?status=` is the answer; /checked runs its "check" through countingFailures.
  app.post('/login/:name', { preHandler: app.accounts.limit('login', (_, request) => (request.params as { name: string }).name) },
    async (request, reply) => await reply.code(Number((request.query as { status: string }).status)).send({}))
  app.post('/password/:name', { preHandler: app.accounts.limit('password', (_, request) => (request.params as { name: string }).name) },
    async (request, reply) => await reply.code(Number((request.query as { status: string }).status)).send({}))
  app.post('/checked/:name', { preHandler: app.accounts.limit('password', (_, request) => (request.params as { name: string }).name) },
    async (request) => await countingFailures(request, Promise.reject(fieldError('current_password', 'Invalid password.'))))
  await app.ready()
  t.teardown(() => app.close())
  const post = async (path: string, status = 200) => (await app.inject({ method: 'POST', url: `${path}?status=${status}` })).statusCode

  const answers = []
  for (const status of [403, 404, 409, 500, 503, 200, 204]) answers.push(await post('/login/a', status))
  t.same(answers, [403, 404, 409, 500, 503, 200, 204])
  t.same([await post('/login/a', 200), await post('/login/a', 200)], [200, 200], 'a login answered other than 400 or 401 counts nothing')
  t.same([await post('/login/b', 401), await post('/login/b', 400), await post('/login/b')], [401, 400, 429], 'a login refused with 400 or 401 counts')
  for (let i = 0; i < 4; i++) t.equal(await post('/password/c', 400), 400, 'a 400 of a current_password route counts only through countingFailures')
  t.same([await post('/checked/d'), await post('/checked/d'), await post('/checked/d')], [400, 400, 429], 'through countingFailures it does')
})

// ---- dj-rest-auth (its routes are the lead's to change: see issue 13, item 3) -------------------------------

t.test('dj-rest-auth login/: successes spend nothing, refused logins (400) count, 429 {detail}', async (t) => {
  const a = await buildDjRestAuthApp({ emailVerification: 'none' }, { core: { rateLimit: { perIp: { max: 1000, timeWindow: 60 }, perAccountFailures: { max: 3, timeWindow: 60 } } } })
  t.teardown(() => a.app.close())
  await registered(a, 'alice')
  for (let i = 0; i < 11; i++) t.equal((await dra(a, 'POST', '/login/', { username: 'alice', password: PASSWORD })).statusCode, 200, `success ${i + 1}`)
  for (let i = 0; i < 3; i++) t.equal((await dra(a, 'POST', '/login/', { username: 'alice', password: WRONG })).statusCode, 400, `failure ${i + 1}`)
  const limited = await dra(a, 'POST', '/login/', { username: 'alice', password: PASSWORD })
  t.equal(limited.statusCode, 429)
  t.same(Object.keys(limited.json() as object), ['detail'])
  t.match(limited.headers['retry-after'], /^\d+$/)
})


t.test('dj-rest-auth password/change/: wrong old_passwords end in 429', async (t) => {
  const a = await buildDjRestAuthApp({ emailVerification: 'none', oldPasswordFieldEnabled: true, useJwt: true },
    { core: { rateLimit: { perIp: { max: 1000, timeWindow: 60 }, perAccountFailures: { max: 3, timeWindow: 60 } } } })
  t.teardown(() => a.app.close())
  await registered(a, 'alice')
  const access = (await dra(a, 'POST', '/login/', { username: 'alice', password: PASSWORD })).json().access as string
  const change = async (old: string) => await dra(a, 'POST', '/password/change/', { old_password: old, new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD },
    { authorization: `Bearer ${access}` })
  for (let i = 0; i < 3; i++) t.equal((await change(WRONG)).statusCode, 400, `wrong old_password ${i + 1}`)
  const limited = await change(PASSWORD)
  t.equal(limited.statusCode, 429, 'even the right one')
  t.same(Object.keys(limited.json() as object), ['detail'])
  t.equal((await dra(a, 'POST', '/login/', { username: 'alice', password: PASSWORD })).statusCode, 429, 'the login shares the budget')
})

t.test('dj-rest-auth registration/: one address ends in 429', async (t) => {
  const a = await buildDjRestAuthApp({ emailVerification: 'none' }, { core: { rateLimit: { registration: { max: 2, timeWindow: 60 } } } })
  t.teardown(() => a.app.close())
  const register = async (username: string) => await dra(a, 'POST', '/registration/', { username, email: `${username}@example.com`, password1: PASSWORD, password2: PASSWORD })
  t.same([(await register('r1')).statusCode, (await register('r2')).statusCode], [201, 201])
  const limited = await register('r3')
  t.equal(limited.statusCode, 429)
  t.same(Object.keys(limited.json() as object), ['detail'])
})

// ---- Redis -----------------------------------------------------------------------------------------------

t.test('with Redis the counters are shared by every instance', async (t) => {
  await serviceTest(t, 'redis', ['redis'], async (t) => {
    const namespace = testKeyPrefix(t, 'fa-limits')
    const clients = [createRedisClient(REDIS_URL), createRedisClient(REDIS_URL)]
    t.teardown(async () => { await Promise.all(clients.map(async (c) => { await c.quit() })) })
    await Promise.all(clients.map(async (c) => { await c.connect() }))
    const rateLimit = (redis: Redis): RateLimit => ({
      perIp: { max: 1000, timeWindow: 60 }, perAccountFailures: { max: 4, timeWindow: 60 }, registration: { max: 3, timeWindow: 60 }, redis, redisNamespace: namespace
    })
    const [first, second] = [await limitsApp(t, rateLimit(clients[0])), await limitsApp(t, rateLimit(clients[1]))]
    // One user in both stores (the stores are separate; the counters are what is shared).
    for (const a of [first, second]) await addUser(a, 'frank')

    for (let i = 0; i < 12; i++) t.equal((await jwtLogin(i % 2 === 0 ? first : second, 'frank', PASSWORD, nextIp())).statusCode, 200, `success ${i + 1}`)
    t.equal((await jwtLogin(first, 'frank', WRONG, nextIp())).statusCode, 401)
    t.equal((await jwtLogin(second, 'frank', WRONG, nextIp())).statusCode, 401)
    const token = await second.access('frank')
    t.equal((await second.post('/auth/users/set_password/', { current_password: WRONG, new_password: NEW_PASSWORD }, { token })).statusCode, 400)
    t.equal((await first.post('/api/api-token-auth/', { username: 'frank', password: WRONG }, { ip: nextIp() })).statusCode, 400)
    assertThrottled(t, await jwtLogin(second, 'frank', PASSWORD, nextIp()), 60, 'the budget spent on both instances')
    // The instances share the signing key, and frank is user 1 in both stores: the token works on either.
    assertThrottled(t, await first.post('/auth/users/set_password/', { current_password: PASSWORD, new_password: NEW_PASSWORD }, { token }), 60,
      'and on the other, for the current password check of the same account')

    const register = async (a: LimitsApp, username: string) => (await a.post('/auth/users/', { username, email: `${username}@example.com`, password: PASSWORD }, { ip: '203.0.113.9' })).statusCode
    t.same([await register(first, 'g1'), await register(second, 'g2'), await register(first, 'g3'), await register(second, 'g4')], [201, 201, 201, 429], 'registration per address, shared')

    const keys = await keysWithTtl(namespace)
    t.ok(keys.size > 0, `the counters are in Redis under the namespace (${keys.size} keys)`)
    t.notOk([...keys.keys()].some((key) => key.includes('frank')), 'no account name in a key')
    const failureKeys = [...keys].filter(([key]) => key.includes('{failures}'))
    t.ok(failureKeys.length > 0 && failureKeys.every(([, ttl]) => ttl > 0 && ttl <= 60_000), 'the failure counters expire with their window')
  })
})

t.test('with Redis, guesses sent at once to two instances cannot overrun the budget', async (t) => {
  await serviceTest(t, 'redis', ['redis'], async (t) => {
    const namespace = testKeyPrefix(t, 'fa-limits')
    const clients = [createRedisClient(REDIS_URL), createRedisClient(REDIS_URL)]
    t.teardown(async () => { await Promise.all(clients.map(async (c) => { await c.quit() })) })
    await Promise.all(clients.map(async (c) => { await c.connect() }))
    const apps = await Promise.all(clients.map(async (redis) => await limitsApp(t, { perIp: { max: 1000, timeWindow: 60 }, redis, redisNamespace: namespace })))
    const answers = await Promise.all(Array.from({ length: 30 }, async (_, i) => (await jwtLogin(apps[i % 2], 'helen', WRONG, nextIp())).statusCode))
    t.equal(answers.filter((s) => s === 401).length, 10, 'exactly the default budget of 10 was checked')
    t.equal(answers.filter((s) => s === 429).length, 20)
  })
})

t.test('Redis down: requests pass (logged as a warning), and the limits come back with it', async (t) => {
  await serviceTest(t, 'redis', ['redis'], async (t) => {
    const namespace = testKeyPrefix(t, 'fa-limits')
    const proxy = await FaultProxy.start(REDIS_URL)
    t.teardown(async () => { await proxy.close() })
    const redis = createRedisClient(proxy.urlFor(REDIS_URL))
    redis.on('error', () => {})
    t.teardown(() => { redis.disconnect() })
    await redis.connect()
    const a = await limitsApp(t, {
      perIp: { max: 3, timeWindow: 60 }, perAccountFailures: { max: 2, timeWindow: 60 }, registration: { max: 1, timeWindow: 60 }, redis, redisNamespace: namespace
    })
    await addUser(a, 'ines')
    const token = await a.access('ines', '192.0.2.50')

    await proxy.stopListening()
    const answers = []
    for (let i = 0; i < 5; i++) answers.push((await jwtLogin(a, 'ines', WRONG)).statusCode)
    answers.push((await jwtLogin(a, 'ines', PASSWORD)).statusCode)
    t.same(answers, [401, 401, 401, 401, 401, 200], 'past every budget, no 429 and no 500')
    t.equal((await a.post('/auth/users/set_password/', { current_password: WRONG, new_password: NEW_PASSWORD }, { token })).statusCode, 400, 'current_password checks go on')
    t.equal((await a.post('/sanic', { username: 'ines', password: PASSWORD })).statusCode, 200, 'sanic-jwt')
    t.equal((await a.post('/api/api-token-auth/', { username: 'ines', password: PASSWORD })).statusCode, 200, 'drf-jwt')
    for (const name of ['reg1', 'reg2']) t.equal((await a.post('/auth/users/', { username: name, email: `${name}@example.com`, password: PASSWORD })).statusCode, 201, 'registration')
    const warnings = a.logs.map((line) => JSON.parse(line) as { level: number, msg: string, err?: { message: string } })
      .filter((line) => line.msg === 'fastify-accounts: rate-limit counters unavailable, request let through')
    t.ok(warnings.length >= 10, `each let-through is logged (${warnings.length})`)
    t.ok(warnings.every((line) => line.level === 40 && typeof line.err?.message === 'string'), 'at warn, with the error')

    await proxy.listenAgain()
    for (let i = 0; i < 100 && (await redis.ping().catch(() => null)) !== 'PONG'; i++) await new Promise((resolve) => setTimeout(resolve, 50))
    const after = []
    for (let i = 0; i < 3; i++) after.push((await jwtLogin(a, 'ines', WRONG, nextIp())).statusCode)
    t.same(after, [401, 401, 429], 'the failure budget counts again')
  })
})
