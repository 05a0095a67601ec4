import Fastify, { type FastifyInstance } from 'fastify'
import t from 'tap'
import accounts, { MemoryMailer, StoreUnavailableError, type AccountsOptions, type MailMessage, type Mailer } from '../lib/index.js'
import { MemoryTokenStore, MemoryUserStore } from '../lib/stores/memory.js'
import { fastHasher, PASSWORD, SECRET } from './helpers/app.js'

interface LogLine { level: number, msg: string, reqId?: string, err?: { message: string, stack: string }, [key: string]: unknown }

/** A Fastify app logging JSON lines into `lines`. */
function appWithLog (lines: LogLine[]): FastifyInstance {
  return Fastify({ logger: { level: 'info', stream: { write: (line: string) => { lines.push(JSON.parse(line) as LogLine) } } } })
}

/** A mailer whose sends take `ms`, recording when each finished and whether it was closed. */
class SlowMailer implements Mailer {
  readonly sent: MailMessage[] = []
  readonly events: string[] = []
  constructor (readonly ms: number) {}
  async send (message: MailMessage): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, this.ms))
    this.sent.push(message)
    this.events.push('sent')
  }

  async close (): Promise<void> {
    this.events.push('closed')
  }
}

const base = (extra: Partial<AccountsOptions> = {}): AccountsOptions => ({
  prefix: '/auth', passwordHasher: fastHasher, rateLimit: false, sendActivationEmail: false, jwt: { signingKey: SECRET }, ...extra
})

async function activeUser (app: FastifyInstance, username = 'alice'): Promise<void> {
  const res = await app.inject({ method: 'POST', url: '/auth/users/', payload: { username, email: `${username}@example.com`, password: PASSWORD } })
  if (res.statusCode !== 201) throw new Error(res.body)
}

t.test('app.close() waits for the mails sent in the background', async t => {
  const mailer = new SlowMailer(150)
  const app = Fastify()
  await app.register(accounts, base({ mailer, store: { users: new MemoryUserStore(), tokens: new MemoryTokenStore() } }))
  await activeUser(app)
  const res = await app.inject({ method: 'POST', url: '/auth/users/reset_password/', payload: { email: 'alice@example.com' } })
  t.equal(res.statusCode, 204, 'answered before the mail left')
  t.equal(mailer.sent.length, 0, 'the mail is still on its way')
  await app.close()
  t.equal(mailer.sent.length, 1, 'close resolved only after the reset mail was sent')
  t.match(mailer.sent[0], { to: 'alice@example.com', subject: /reset/i })
  t.same(mailer.events, ['sent'], 'what the host passed in is not closed by default')
})

t.test('closeResources: the stores and the mailer are closed after the mails are sent', async t => {
  t.test('separate stores', async t => {
    const mailer = new SlowMailer(100)
    const closed: string[] = []
    const users = Object.assign(new MemoryUserStore(), { close: async () => { closed.push('users') } })
    const tokens = Object.assign(new MemoryTokenStore(), { close: async () => { closed.push('tokens') } })
    const app = Fastify()
    await app.register(accounts, base({ mailer, store: { users, tokens }, closeResources: true }))
    await activeUser(app)
    await app.inject({ method: 'POST', url: '/auth/users/reset_password/', payload: { email: 'alice@example.com' } })
    await app.close()
    t.same(mailer.events, ['sent', 'closed'], 'the mail first, then the mailer closes')
    t.same(closed.sort(), ['tokens', 'users'])
  })

  t.test('a createStores()-shaped object: its own close, once', async t => {
    let closes = 0
    let storeCloses = 0
    const users = Object.assign(new MemoryUserStore(), { close: async () => { storeCloses++ } })
    const tokens = Object.assign(new MemoryTokenStore(), { close: async () => { storeCloses++ } })
    const app = Fastify()
    await app.register(accounts, base({ mailer: new MemoryMailer(), store: { users, tokens, close: async () => { closes++ } }, closeResources: true }))
    await app.ready()
    await app.close()
    t.equal(closes, 1)
    t.equal(storeCloses, 0, 'the bundle closes its stores itself')
  })

  t.test('one object serving as both stores is closed once', async t => {
    let closes = 0
    const users = new MemoryUserStore()
    const tokens = new MemoryTokenStore()
    const both = Object.assign(Object.create(null) as object, {
      ...Object.fromEntries(Object.getOwnPropertyNames(MemoryUserStore.prototype).filter((m) => m !== 'constructor').map((m) => [m, (...a: unknown[]) => (users as unknown as Record<string, (...a: unknown[]) => unknown>)[m](...a)])),
      ...Object.fromEntries(Object.getOwnPropertyNames(MemoryTokenStore.prototype).filter((m) => m !== 'constructor').map((m) => [m, (...a: unknown[]) => (tokens as unknown as Record<string, (...a: unknown[]) => unknown>)[m](...a)])),
      close: async () => { closes++ }
    }) as unknown as MemoryUserStore & MemoryTokenStore
    const app = Fastify()
    await app.register(accounts, base({ store: { users: both, tokens: both }, closeResources: true }))
    await app.ready()
    await app.close()
    t.equal(closes, 1)
  })
})

t.test('a store without a method the plugin calls is refused at registration, naming it', async t => {
  const tokens: Record<string, unknown> = {}
  for (const name of Object.getOwnPropertyNames(MemoryTokenStore.prototype)) {
    if (name !== 'constructor' && name !== 'purgeExpired') tokens[name] = () => {}
  }
  const app = Fastify()
  t.teardown(() => app.close())
  await t.rejects(async () => {
    await app.register(accounts, base({ store: { users: new MemoryUserStore(), tokens: tokens as unknown as MemoryTokenStore } }))
  }, { name: 'OptionsError', message: /store\.tokens must implement TokenStore: missing purgeExpired/ })
})

t.test('under NODE_ENV=production the in-memory store and the console mailer are warned about', async t => {
  const saved = process.env.NODE_ENV
  t.teardown(() => { if (saved === undefined) delete process.env.NODE_ENV; else process.env.NODE_ENV = saved })

  process.env.NODE_ENV = 'production'
  const lines: LogLine[] = []
  const app = appWithLog(lines)
  t.teardown(() => app.close())
  await app.register(accounts, base())
  await app.ready()
  const warnings = lines.filter((line) => line.level === 40).map((line) => line.msg)
  t.match(warnings, [/users and tokens live in memory/, /mails .* are written to the log/])

  process.env.NODE_ENV = 'development'
  const quiet: LogLine[] = []
  const dev = appWithLog(quiet)
  t.teardown(() => dev.close())
  await dev.register(accounts, base())
  await dev.ready()
  t.same(quiet.filter((line) => line.level === 40), [], 'no warning outside production')

  process.env.NODE_ENV = 'production'
  const given: LogLine[] = []
  const configured = appWithLog(given)
  t.teardown(() => configured.close())
  await configured.register(accounts, base({ mailer: new MemoryMailer(), store: { users: new MemoryUserStore(), tokens: new MemoryTokenStore() } }))
  await configured.ready()
  t.same(given.filter((line) => line.level === 40), [], 'none with a store and a mailer')
})

t.test('a host route calling the services answers 503 when the store is down, not 500', async t => {
  const users = new MemoryUserStore()
  users.findUserById = async () => { throw new StoreUnavailableError('fastify-accounts: the database is unavailable: connect ECONNREFUSED') }
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(accounts, base({ store: { users, tokens: new MemoryTokenStore() } }))
  app.get('/profile/:id', async (request) => await app.accounts.users.findUser(Number((request.params as { id: string }).id)))
  await app.ready()
  const res = await app.inject({ url: '/profile/1' })
  t.equal(res.statusCode, 503)
  t.match(res.json(), { code: 'ACCOUNTS_STORE_UNAVAILABLE', statusCode: 503 })
  const error = new StoreUnavailableError('down', { cause: new Error('ECONNREFUSED') })
  t.ok(error instanceof StoreUnavailableError)
  t.equal(error.statusCode, 503)
  t.equal((error.cause as Error).message, 'ECONNREFUSED', 'the cause is kept')
})

t.test("the plugin's log lines about a request carry its request id", async t => {
  class FailingMailer implements Mailer {
    async send (): Promise<void> { throw new Error('SMTP 421 try later') }
  }

  t.test('a mail sent in the background fails', async t => {
    const lines: LogLine[] = []
    const app = appWithLog(lines)
    t.teardown(() => app.close())
    await app.register(accounts, base({ mailer: new FailingMailer(), store: { users: new MemoryUserStore(), tokens: new MemoryTokenStore() } }))
    await activeUser(app)
    const res = await app.inject({ method: 'POST', url: '/auth/users/reset_password/', payload: { email: 'alice@example.com' } })
    t.equal(res.statusCode, 204, 'the answer does not tell (the mail fails later)')
    await app.accounts.users.mailsSent()
    const failure = lines.find((line) => line.msg === 'fastify-accounts: sending mail failed')
    t.ok(failure, 'the failure is logged')
    const request = lines.find((line) => line.msg === 'incoming request' && (line.req as { url: string }).url === '/auth/users/reset_password/')
    t.ok(request?.reqId !== undefined)
    t.equal(failure?.reqId, request?.reqId, "with the request's id")
    t.match(failure?.err?.message, /SMTP 421/)
  })

  t.test('a mail the answer waits for fails: 503, logged once with the cause', async t => {
    const lines: LogLine[] = []
    const app = appWithLog(lines)
    t.teardown(() => app.close())
    await app.register(accounts, base({ mailer: new FailingMailer(), sendActivationEmail: true, store: { users: new MemoryUserStore(), tokens: new MemoryTokenStore() } }))
    await app.ready()
    const res = await app.inject({ method: 'POST', url: '/auth/users/', payload: { username: 'bob', email: 'bob@example.com', password: PASSWORD } })
    t.equal(res.statusCode, 503)
    t.same(res.json(), { detail: 'The mail could not be sent. Try again later.' })
    const errors = lines.filter((line) => line.level >= 50)
    t.equal(errors.length, 1, 'one error line')
    t.ok(errors[0].reqId !== undefined && errors[0].reqId === lines.find((line) => line.msg === 'incoming request')?.reqId, "with the request's id")
    t.match(errors[0].err?.stack, /SMTP 421/, 'and the mailer error as its cause')
  })
})
