import t from 'tap'
import { Redis } from 'ioredis'
import { activeUser, buildApp, json, PASSWORD } from './helpers/app.js'
import { deleteKeys, REDIS_URL, serviceTest, uniqueName } from './helpers/services.js'

const limits = { perIp: { max: 5, timeWindow: 60 }, perAccount: { max: 3, timeWindow: 60 }, perAccountFailures: { max: 3, timeWindow: 60 } }
const login = (username: string, ip = '127.0.0.1', password = 'wrong-password-1') =>
  ({ method: 'POST' as const, url: '/auth/jwt/create/', payload: { username, password }, remoteAddress: ip })

t.test('per account: after 3 failed logins at one account the 4th attempt is 429 with Retry-After, whatever the address', async (t) => {
  const a = await buildApp({ rateLimit: limits })
  t.teardown(() => a.app.close())
  await activeUser(a)
  for (let i = 0; i < 2; i++) t.equal((await a.app.inject(login('alice', `10.0.0.${i}`))).statusCode, 401)
  t.equal((await a.app.inject(login('ALICE', '10.0.0.8'))).statusCode, 401, 'the third failure')
  const limited = await a.app.inject(login('Alice', '10.0.0.9'))
  t.equal(limited.statusCode, 429, 'the account name is counted in any letter case')
  t.match(json(limited), { detail: /throttled/ })
  t.same(Object.keys(json(limited) as object), ['detail'], "djoser's shape: {detail}")
  t.ok(Number(limited.headers['retry-after']) > 0 && Number(limited.headers['retry-after']) <= 60, 'Retry-After in seconds')
  const right = await a.app.inject(login('alice', '10.0.0.10', PASSWORD))
  t.equal(right.statusCode, 429, 'even the right password waits: the budget is spent')
  t.equal((await a.app.inject(login('bob', '10.0.0.11'))).statusCode, 401, 'another account is not limited')
})

t.test('per address: the 6th login from one address is 429, across accounts', async (t) => {
  const a = await buildApp({ rateLimit: limits })
  t.teardown(() => a.app.close())
  for (let i = 0; i < 5; i++) t.equal((await a.app.inject(login(`user${i}`, '192.0.2.1'))).statusCode, 401)
  const limited = await a.app.inject(login('user9', '192.0.2.1'))
  t.equal(limited.statusCode, 429)
  t.ok(limited.headers['retry-after'])
  t.equal((await a.app.inject(login('user9', '192.0.2.2'))).statusCode, 401, 'another address is not limited')
})

t.test('token login shares the login failure budget; reset and activation have their own', async (t) => {
  const a = await buildApp({ rateLimit: limits })
  t.teardown(() => a.app.close())
  for (let i = 0; i < 3; i++) await a.app.inject(login('carol', '10.1.0.1'))
  const token = await a.app.inject({ method: 'POST', url: '/auth/token/login/', payload: { username: 'carol', password: 'x' }, remoteAddress: '10.1.0.2' })
  t.equal(token.statusCode, 429, 'token/login counts against the same account failure budget')
  t.same(Object.keys(json(token) as object), ['detail'])

  for (let i = 0; i < 3; i++) {
    t.equal((await a.app.inject({ method: 'POST', url: '/auth/users/reset_password/', payload: { email: 'carol@example.com' }, remoteAddress: `10.2.0.${i}` })).statusCode, 204)
  }
  const reset = await a.app.inject({ method: 'POST', url: '/auth/users/reset_username/', payload: { email: 'Carol@example.com' }, remoteAddress: '10.2.0.9' })
  t.equal(reset.statusCode, 429, 'password and username resets share the reset budget per email')
  t.equal(a.mailer.outbox.length, 0, 'no mail for an unknown address either way')

  for (let i = 0; i < 5; i++) await a.app.inject({ method: 'POST', url: '/auth/users/activation/', payload: { uid: `M${i}`, token: 'x' }, remoteAddress: '10.3.0.1' })
  t.equal((await a.app.inject({ method: 'POST', url: '/auth/users/activation/', payload: { uid: 'MQ', token: 'x' }, remoteAddress: '10.3.0.1' })).statusCode, 429, 'activation guesses from one address')
  t.equal((await a.app.inject({ method: 'POST', url: '/auth/users/resend_activation/', payload: { email: 'x@example.com' }, remoteAddress: '10.3.0.1' })).statusCode, 429, 'resend shares the activation budget')
})

t.test('routes that are not guessing targets are never limited', async (t) => {
  const a = await buildApp({ rateLimit: { perIp: { max: 1, timeWindow: 60 }, perAccount: { max: 1, timeWindow: 60 }, perAccountFailures: { max: 1, timeWindow: 60 } } })
  t.teardown(() => a.app.close())
  const { access, refresh } = await activeUser(a)
  for (let i = 0; i < 5; i++) {
    t.equal((await a.app.inject({ url: '/auth/users/me/', headers: { authorization: `Bearer ${access}` } })).statusCode, 200)
    t.equal((await a.app.inject({ method: 'POST', url: '/auth/jwt/verify/', payload: { token: access } })).statusCode, 200)
    t.equal((await a.app.inject({ method: 'POST', url: '/auth/jwt/refresh/', payload: { refresh } })).statusCode, 200)
  }
})

t.test('rateLimit: false turns the limits off; bad settings are refused at registration', async (t) => {
  const a = await buildApp({ rateLimit: false })
  t.teardown(() => a.app.close())
  for (let i = 0; i < 40; i++) t.equal((await a.app.inject(login('dave'))).statusCode, 401)
  await t.rejects(buildApp({ rateLimit: { perIp: { max: 0, timeWindow: 60 } } }), /rateLimit\.perIp must be/)
  await t.rejects(buildApp({ rateLimit: { perAccount: { max: 3, timeWindow: 1.5 } } }), /rateLimit\.perAccount must be/)
  await t.rejects(buildApp({ rateLimit: { perAccountFailures: { max: 0, timeWindow: 900 } } }), /rateLimit\.perAccountFailures must be/)
  await t.rejects(buildApp({ rateLimit: { registration: { max: 10 } } as never }), /rateLimit\.registration\.timeWindow is required/)
  await t.rejects(buildApp({ rateLimit: { perAccountFailure: { max: 10, timeWindow: 900 } } as never }), /perAccountFailure/, 'a misspelt name is refused')
})

t.test('the limits are on by default', async (t) => {
  const a = await buildApp({ rateLimit: undefined })
  t.teardown(() => a.app.close())
  const responses = []
  for (let i = 0; i < 11; i++) responses.push(await a.app.inject(login('erin', `10.9.0.${i}`)))
  t.same(responses.slice(0, 10).map((r) => r.statusCode), Array(10).fill(401), '10 failures per account')
  t.equal(responses[10].statusCode, 429)
  const wait = Number(responses[10].headers['retry-after'])
  t.ok(wait > 890 && wait <= 900, `for 15 minutes from the first failure (Retry-After ${wait})`)
})

t.test('with Redis the counters are shared by every instance', async (t) => {
  await serviceTest(t, 'redis', ['redis'], async (t) => {
    const namespace = `${uniqueName('fa-rl')}:`
    t.teardown(async () => { await deleteKeys(namespace) })
    const clients = [new Redis(REDIS_URL), new Redis(REDIS_URL)]
    t.teardown(async () => { await Promise.all(clients.map(async (c) => { await c.quit() })) })
    const [first, second] = await Promise.all(clients.map(async (redis) => buildApp({ rateLimit: { ...limits, redis, redisNamespace: namespace } })))
    t.teardown(() => first.app.close())
    t.teardown(() => second.app.close())
    t.equal((await first.app.inject(login('frank', '10.4.0.1'))).statusCode, 401)
    t.equal((await second.app.inject(login('frank', '10.4.0.2'))).statusCode, 401)
    t.equal((await first.app.inject(login('frank', '10.4.0.3'))).statusCode, 401)
    const limited = await second.app.inject(login('frank', '10.4.0.4'))
    t.equal(limited.statusCode, 429, 'the 4th attempt is refused on the other instance')
    t.ok(Number(limited.headers['retry-after']) > 0)
  })
})
