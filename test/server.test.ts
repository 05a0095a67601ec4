import { EventEmitter } from 'node:events'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { buildServer, type BuildServerOptions } from '../example/app.js'
import { closeOnSignals, start } from '../example/server.js'
import { deleteKeys, keysWithTtl, PG_URL, REDIS_URL, serviceTest, testSchema, uniqueName } from './helpers/services.js'
import { activationLink, smtpServer } from './helpers/smtp.js'

const PASSWORD = 'correct-horse-battery-staple'
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name: string, version: string }

/** buildServer, closed when the test ends (closing twice is harmless). */
async function build (t: Test, env: NodeJS.ProcessEnv, opts: BuildServerOptions = { logger: false }): Promise<FastifyInstance> {
  const app = await buildServer(env, opts)
  t.teardown(() => app.close())
  return app
}

function json (res: LightMyRequestResponse): any {
  return JSON.parse(res.body)
}

/** A JSON config file in `dir`; returns its path. */
function config (dir: string, options: unknown, name = 'accounts.json'): string {
  const path = join(dir, name)
  writeFileSync(path, typeof options === 'string' ? options : JSON.stringify(options))
  return path
}


async function register (app: FastifyInstance, username: string, prefix = '/auth'): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: `${prefix}/users/`, payload: { username, email: `${username}@example.com`, password: PASSWORD } })
}

async function login (app: FastifyInstance, username: string, prefix = '/auth'): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: `${prefix}/jwt/create/`, payload: { username, password: PASSWORD } })
}

async function me (app: FastifyInstance, authorization: string, prefix = '/auth'): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'GET', url: `${prefix}/users/me/`, headers: { authorization } })
}

t.test('a full session over SMTP: register, activate from the mailed link, log in, /users/me/', async t => {
  const dir = t.testdir()
  const smtp = await smtpServer(t)
  const app = await build(t, { DATA_DIR: dir, DATABASE_URL: `sqlite:${join(dir, 'x.db')}`, SMTP_URL: smtp.url })

  const created = await register(app, 'alice')
  t.equal(created.statusCode, 201, created.body)
  const alice = json(created)
  t.same(alice, { id: alice.id, username: 'alice', email: 'alice@example.com' })
  t.type(alice.id, 'number')

  t.equal(smtp.received.length, 1, 'one mail sent')
  const [mail] = smtp.received
  t.same(mail.to, ['alice@example.com'])
  t.equal(mail.from, 'webmaster@localhost', 'default From is webmaster@<domain without port>')
  t.match(mail.raw, /^Subject: Account activation on fastify-accounts\r$/m)

  const early = await login(app, 'alice')
  t.equal(early.statusCode, 401, 'an inactive account cannot log in')

  const activated = await app.inject({ method: 'POST', url: '/auth/users/activation/', payload: activationLink(mail.raw) })
  t.equal(activated.statusCode, 204, activated.body)
  t.equal(activated.body, '')

  const again = await app.inject({ method: 'POST', url: '/auth/users/activation/', payload: activationLink(mail.raw) })
  t.equal(again.statusCode, 403, 'the link works once')

  const pair = await login(app, 'alice')
  t.equal(pair.statusCode, 200, pair.body)
  const { access, refresh } = json(pair)
  t.type(access, 'string')
  t.type(refresh, 'string')

  const mine = await me(app, `Bearer ${access}`)
  t.equal(mine.statusCode, 200, mine.body)
  t.same(json(mine), alice)

  const anonymous = await app.inject({ method: 'GET', url: '/auth/users/me/' })
  t.equal(anonymous.statusCode, 401)
  t.type(json(anonymous).detail, 'string')

  const token = await app.inject({ method: 'POST', url: '/auth/token/login/', payload: { username: 'alice', password: PASSWORD } })
  t.equal(token.statusCode, 200, token.body)
  const viaToken = await me(app, `Token ${json(token).auth_token}`)
  t.same(json(viaToken), alice)
})

t.test('SMTP_FROM sets the From address', async t => {
  const dir = t.testdir()
  const smtp = await smtpServer(t)
  const app = await build(t, { DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:', SMTP_URL: smtp.url, SMTP_FROM: 'no-reply@example.org' })
  t.equal((await register(app, 'alice')).statusCode, 201)
  t.equal(smtp.received[0]?.from, 'no-reply@example.org')
  t.match(smtp.received[0]?.raw, /^From: no-reply@example.org\r$/m)
})

t.test('the From domain follows the configured domain', async t => {
  const dir = t.testdir()
  const smtp = await smtpServer(t)
  const app = await build(t, { DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:', SMTP_URL: smtp.url, ACCOUNTS_CONFIG: config(dir, { domain: 'accounts.example.com:8443' }) })
  t.equal((await register(app, 'alice')).statusCode, 201)
  t.equal(smtp.received[0]?.from, 'webmaster@accounts.example.com')
})

t.test('without SMTP_URL mail goes to the log (and /dev/mail, test/dev-mailbox.test.ts), with the link to copy', async t => {
  const dir = t.testdir()
  const lines: string[] = []
  const app = await build(t, { DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:' }, {
    logger: { level: 'info', stream: { write: (line: string) => { lines.push(line) } } }
  })
  t.equal((await register(app, 'alice')).statusCode, 201)
  const logged = lines.map(line => JSON.parse(line)).find(entry => entry.mail !== undefined)
  t.ok(logged, 'the mail is logged')
  t.equal(logged.level, 30, 'at info level')
  t.equal(logged.mail.to, 'alice@example.com')
  t.match(logged.msg, /^mail to alice@example\.com, "Account activation on fastify-accounts": http:\/\/localhost:3000\/#\/activate\/\S+ \(mailbox: http:\/\/localhost:3000\/dev\/mail\)$/)
  const activated = await app.inject({ method: 'POST', url: '/auth/users/activation/', payload: activationLink(logged.mail.links[0]) })
  t.equal(activated.statusCode, 204, activated.body)
  t.equal((await login(app, 'alice')).statusCode, 200)
})

t.test('JWT secret', async t => {
  t.test('generated once into DATA_DIR/jwt-secret with mode 0600, and reused on the next start', async t => {
    const dir = t.testdir()
    const env = { DATA_DIR: dir, DATABASE_URL: `sqlite:${join(dir, 'x.db')}`, ACCOUNTS_CONFIG: config(dir, { sendActivationEmail: false }) }
    const file = join(dir, 'jwt-secret')
    t.notOk(existsSync(file))

    const first = await build(t, env)
    t.ok(existsSync(file), 'created')
    t.equal(statSync(file).mode & 0o777, 0o600, 'readable by the owner only')
    const secret = readFileSync(file, 'utf8').trim()
    t.match(secret, /^[0-9a-f]{64}$/, '64 random hex characters')

    t.equal((await register(first, 'alice')).statusCode, 201)
    const { access, refresh } = json(await login(first, 'alice'))
    await first.close()

    const second = await build(t, env)
    t.equal(readFileSync(file, 'utf8').trim(), secret, 'not regenerated')
    t.equal((await me(second, `Bearer ${access}`)).statusCode, 200, 'an access token from before the restart still works')
    const refreshed = await second.inject({ method: 'POST', url: '/auth/jwt/refresh/', payload: { refresh } })
    t.equal(refreshed.statusCode, 200, refreshed.body)
  })

  t.test('two fresh data dirs get different secrets: tokens do not cross', async t => {
    const dir = t.testdir({ a: {}, b: {} })
    const cfg = config(dir, { sendActivationEmail: false })
    const a = await build(t, { DATA_DIR: join(dir, 'a'), DATABASE_URL: 'sqlite::memory:', ACCOUNTS_CONFIG: cfg })
    const b = await build(t, { DATA_DIR: join(dir, 'b'), DATABASE_URL: 'sqlite::memory:', ACCOUNTS_CONFIG: cfg })
    t.not(readFileSync(join(dir, 'a', 'jwt-secret'), 'utf8'), readFileSync(join(dir, 'b', 'jwt-secret'), 'utf8'))
    await register(a, 'alice')
    const { access } = json(await login(a, 'alice'))
    const verified = await b.inject({ method: 'POST', url: '/auth/jwt/verify/', payload: { token: access } })
    t.equal(verified.statusCode, 401)
    t.equal(json(verified).code, 'token_not_valid')
  })

  t.test('JWT_SECRET from the environment is used and nothing is written', async t => {
    const dir = t.testdir()
    const secret = 'an-environment-secret-that-is-long-enough-1234'
    const cfg = config(dir, { sendActivationEmail: false })
    const app = await build(t, { DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:', JWT_SECRET: secret, ACCOUNTS_CONFIG: cfg })
    t.notOk(existsSync(join(dir, 'jwt-secret')))
    await register(app, 'alice')
    const { access } = json(await login(app, 'alice'))

    const same = await build(t, { DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:', JWT_SECRET: secret })
    t.equal((await same.inject({ method: 'POST', url: '/auth/jwt/verify/', payload: { token: access } })).statusCode, 200, 'another instance with the same secret accepts the token')
    const other = await build(t, { DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:', JWT_SECRET: `${secret}-other` })
    t.equal((await other.inject({ method: 'POST', url: '/auth/jwt/verify/', payload: { token: access } })).statusCode, 401, 'one with another secret does not')
  })

  t.test('a DATA_DIR that cannot hold the secret is reported', async t => {
    const dir = t.testdir({ 'a-file': 'x' })
    await t.rejects(buildServer({ DATA_DIR: join(dir, 'a-file'), DATABASE_URL: 'sqlite::memory:' }, { logger: false }),
      { name: 'ConfigError', message: /JWT_SECRET is not set and .*a-file\/jwt-secret cannot be/ })
  })

  t.test('a secret file that is too short is refused, not silently used', async t => {
    const dir = t.testdir({ 'jwt-secret': 'short\n' })
    await t.rejects(buildServer({ DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:' }, { logger: false }), { message: /jwt-secret.*shorter than 32/ })
  })
})

t.test('ACCOUNTS_CONFIG moves the routes and sets options', async t => {
  const dir = t.testdir()
  const cfg = config(dir, { prefix: '/api/auth', hideUsers: false, sendActivationEmail: false, jwt: { rotateRefreshTokens: true } })
  const app = await build(t, { DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:', ACCOUNTS_CONFIG: cfg })

  t.equal((await register(app, 'alice')).statusCode, 404, 'nothing under /auth any more')
  t.equal((await register(app, 'alice', '/api/auth')).statusCode, 201)
  t.equal((await register(app, 'bob', '/api/auth')).statusCode, 201)

  const pair = await login(app, 'alice', '/api/auth')
  t.equal(pair.statusCode, 200)
  const { access, refresh } = json(pair)

  const list = await app.inject({ method: 'GET', url: '/api/auth/users/', headers: { authorization: `Bearer ${access}` } })
  t.equal(list.statusCode, 200)
  t.same(json(list).map((u: { username: string }) => u.username), ['alice', 'bob'], 'hideUsers: false lists everyone')

  const rotated = await app.inject({ method: 'POST', url: '/api/auth/jwt/refresh/', payload: { refresh } })
  t.equal(rotated.statusCode, 200, rotated.body)
  t.type(json(rotated).refresh, 'string', 'rotation returns a new refresh token')
  t.not(json(rotated).refresh, refresh)

  const doc = json(await app.inject({ method: 'GET', url: '/openapi.json' }))
  t.ok(doc.paths['/api/auth/users/'], 'the document follows the prefix')
  t.notOk(doc.paths['/auth/users/'])
})

t.test('the default config: routes under /auth, users hidden, no rotation', async t => {
  const dir = t.testdir()
  const app = await build(t, { DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:', ACCOUNTS_CONFIG: config(dir, { sendActivationEmail: false }) })
  await register(app, 'alice')
  await register(app, 'bob')
  const { access, refresh } = json(await login(app, 'alice'))
  const list = await app.inject({ method: 'GET', url: '/auth/users/', headers: { authorization: `Bearer ${access}` } })
  t.same(json(list).map((u: { username: string }) => u.username), ['alice'])
  const refreshed = await app.inject({ method: 'POST', url: '/auth/jwt/refresh/', payload: { refresh } })
  t.equal(refreshed.statusCode, 200)
  t.same(Object.keys(json(refreshed)), ['access'])
})

t.test('bad configuration makes buildServer reject with a message that says what to fix', async t => {
  const dir = t.testdir()
  const db = join(dir, 'never.db')
  const base = { DATA_DIR: dir, DATABASE_URL: `sqlite:${db}` }
  const rejects = async (env: NodeJS.ProcessEnv, message: RegExp, what: string): Promise<void> => {
    await t.rejects(buildServer({ ...base, ...env }, { logger: false }), { name: 'ConfigError', message }, what)
  }

  const missing = join(dir, 'missing.json')
  await rejects({ ACCOUNTS_CONFIG: missing }, new RegExp(`ACCOUNTS_CONFIG.*${missing}.*no such file`), 'missing file')
  const broken = config(dir, '{ "prefix": "/api", }', 'broken.json')
  await rejects({ ACCOUNTS_CONFIG: broken }, new RegExp(`${broken} is not valid JSON`), 'bad JSON')
  const unknown = config(dir, { hideUser: false }, 'unknown.json')
  await rejects({ ACCOUNTS_CONFIG: unknown }, new RegExp(`${unknown}.*unknown option "hideUser"`), 'unknown option')
  const unknownJwt = config(dir, { jwt: { rotate: true } }, 'unknown-jwt.json')
  await rejects({ ACCOUNTS_CONFIG: unknownJwt }, new RegExp(`${unknownJwt}.*unknown option "jwt.rotate"`), 'unknown jwt option')
  const wrongType = config(dir, { hideUsers: 'no' }, 'wrong-type.json')
  await rejects({ ACCOUNTS_CONFIG: wrongType }, new RegExp(`${wrongType}.*hideUsers must be a boolean`), 'wrong type')
  const array = config(dir, [{ prefix: '/api' }], 'array.json')
  await rejects({ ACCOUNTS_CONFIG: array }, new RegExp(`${array} must hold a JSON object`), 'not an object')
  const jwtArray = config(dir, { jwt: ['x'] }, 'jwt-array.json')
  await rejects({ ACCOUNTS_CONFIG: jwtArray }, /"jwt" must be an object/, 'jwt not an object')
  const store = config(dir, { store: { users: {} } }, 'store.json')
  await rejects({ ACCOUNTS_CONFIG: store }, new RegExp(`${store}: "store" cannot be set in the file; set DATABASE_URL`), 'store from JSON')
  const prefix = config(dir, { prefix: 'api' }, 'prefix.json')
  await rejects({ ACCOUNTS_CONFIG: prefix }, /"prefix" must be a path starting with \//, 'prefix without a slash')
  const proto = config(dir, '{ "__proto__": { "hideUsers": false } }', 'proto.json')
  await rejects({ ACCOUNTS_CONFIG: proto }, /unknown option "__proto__"/, '__proto__ is just an unknown key')
  t.equal(({} as Record<string, unknown>).hideUsers, undefined, 'no prototype pollution')

  await rejects({ DATABASE_URL: 'mysql://localhost/accounts' }, /DATABASE_URL: unsupported scheme "mysql:"/, 'mysql')
  await rejects({ DATABASE_URL: './accounts.db' }, /DATABASE_URL: unsupported value; use sqlite:/, 'a bare path')
  await rejects({ DATABASE_URL: 'sqlite:' }, /DATABASE_URL: sqlite: needs a file path/, 'sqlite: without a path')
  await rejects({ SMTP_URL: 'http://mail.example.com' }, /SMTP_URL: .*smtp:\/\//, 'SMTP_URL of another scheme')

  t.notOk(existsSync(db), 'no database was created by a failed start')
  t.notOk(existsSync(join(dir, 'jwt-secret')), 'nor a JWT secret')
})

t.test('a database error at start is not swallowed', async t => {
  const dir = t.testdir({ 'not-a-db.db': 'this is not a SQLite file, just text long enough to have a header.......' })
  await t.rejects(buildServer({ DATA_DIR: dir, DATABASE_URL: `sqlite:${join(dir, 'not-a-db.db')}` }, { logger: false }), /not a database/)
})

t.test('SQLite file: data survives a restart, and close() closes the file', async t => {
  const dir = t.testdir()
  const file = join(dir, 'x.db')
  const env = { DATA_DIR: dir, DATABASE_URL: `sqlite:${file}`, ACCOUNTS_CONFIG: config(dir, { sendActivationEmail: false }) }

  const first = await build(t, env)
  const created = json(await register(first, 'alice'))
  t.ok(existsSync(file))
  t.ok(existsSync(`${file}-wal`), 'open in WAL mode while running')
  await first.close()
  t.notOk(existsSync(`${file}-wal`), 'closing checkpointed and closed the database (the WAL file is gone)')

  const second = await build(t, env)
  const pair = await login(second, 'alice')
  t.equal(pair.statusCode, 200, 'the user from before the restart logs in')
  t.same(json(await me(second, `Bearer ${json(pair).access}`)), created)
  t.equal((await register(second, 'alice')).statusCode, 400, 'and still owns the username')
  t.same(json(await register(second, 'bob')).id, created.id + 1)
  await second.close()
  t.notOk(existsSync(`${file}-wal`))
})

t.test('DATABASE_URL forms', async t => {
  t.test('default: DATA_DIR/accounts.db', async t => {
    const dir = t.testdir()
    await build(t, { DATA_DIR: dir })
    t.ok(existsSync(join(dir, 'accounts.db')))
  })

  t.test('without DATA_DIR: ./data under the working directory', async t => {
    const dir = t.testdir()
    const cwd = process.cwd()
    process.chdir(dir)
    t.teardown(() => { process.chdir(cwd) })
    await build(t, {})
    t.ok(existsSync(join(dir, 'data', 'accounts.db')))
    t.ok(existsSync(join(dir, 'data', 'jwt-secret')))
  })

  t.test('a relative sqlite: path is taken from the working directory; parent folders are created', async t => {
    const dir = t.testdir()
    const cwd = process.cwd()
    process.chdir(dir)
    t.teardown(() => { process.chdir(cwd) })
    await build(t, { DATA_DIR: join(dir, 'secrets'), DATABASE_URL: 'sqlite:db/nested/rel.db' })
    t.ok(existsSync(join(dir, 'db', 'nested', 'rel.db')))
  })

  t.test('sqlite:/// with an absolute path', async t => {
    const dir = t.testdir()
    await build(t, { DATA_DIR: dir, DATABASE_URL: `sqlite://${join(dir, 'abs.db')}` })
    t.ok(existsSync(join(dir, 'abs.db')))
  })

  t.test('sqlite::memory: keeps nothing on disk but the secret', async t => {
    const dir = t.testdir({ data: {} })
    const app = await build(t, { DATA_DIR: join(dir, 'data'), DATABASE_URL: 'sqlite::memory:', ACCOUNTS_CONFIG: config(dir, { sendActivationEmail: false }) })
    t.equal((await register(app, 'alice')).statusCode, 201)
    t.same(readdirSync(join(dir, 'data')), ['jwt-secret'])
  })
})

t.test('/docs and /openapi.json', async t => {
  const dir = t.testdir()
  const app = await build(t, { DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:' })

  const docs = await app.inject({ method: 'GET', url: '/docs' })
  t.equal(docs.statusCode, 200)
  t.match(docs.headers['content-type'], /^text\/html/)
  t.match(docs.body, /<title>Swagger UI<\/title>/)

  const res = await app.inject({ method: 'GET', url: '/openapi.json' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  const doc = json(res)
  t.match(doc.openapi, /^3\./)
  t.same(doc.info, { title: pkg.name, version: pkg.version, description: doc.info.description })
  t.ok(doc.paths['/auth/users/']?.post, 'POST /auth/users/ is documented')
  t.ok(doc.paths['/auth/jwt/create/']?.post)
  t.notOk(doc.paths['/openapi.json'], 'the document does not list itself')
  t.notOk(Object.keys(doc.paths).some(path => path.startsWith('/docs')), 'nor the UI')
  t.same(doc, app.swagger(), 'the same document as app.swagger()')

  const ui = json(await app.inject({ method: 'GET', url: '/docs/json' }))
  t.same(ui.paths, doc.paths, 'the UI shows the same document')

  t.equal((await app.inject({ method: 'GET', url: '/nothing-here' })).statusCode, 404)
})

t.test('the account pages at /, and the mailed links lead to them', async t => {
  t.test('default: the pages at /, every mailed link a page of theirs', async t => {
    const dir = t.testdir()
    const smtp = await smtpServer(t)
    const app = await build(t, { DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:', SMTP_URL: smtp.url })
    const page = await app.inject({ method: 'GET', url: '/' })
    t.equal(page.statusCode, 200)
    t.match(page.headers['content-type'], /^text\/html/)
    t.match(page.headers['content-security-policy'], /^default-src 'self'; script-src 'self'; style-src 'self'/)
    const config = json(await app.inject({ method: 'GET', url: '/config.json' }))
    t.equal(config.api, '/auth')
    t.same(config.navLinks, [{ href: '/docs', label: 'API docs' }], 'with SMTP there is no mailbox to link to')

    t.equal((await register(app, 'alice')).statusCode, 201)
    t.match(smtp.received[0].raw, /http:\/\/localhost:3000\/#\/activate\/[\w-]+\/[\w-]+/)
    t.equal((await app.inject({ method: 'POST', url: '/auth/users/activation/', payload: activationLink(smtp.received[0].raw) })).statusCode, 204)
    await app.inject({ method: 'POST', url: '/auth/users/reset_password/', payload: { email: 'alice@example.com' } })
    await app.accounts.users.mailsSent()
    t.match(smtp.received[1]?.raw, /http:\/\/localhost:3000\/#\/password\/reset\/confirm\/[\w-]+\/[\w-]+/)
    await app.inject({ method: 'POST', url: '/auth/users/reset_username/', payload: { email: 'alice@example.com' } })
    await app.accounts.users.mailsSent()
    t.match(smtp.received[2]?.raw, /http:\/\/localhost:3000\/#\/username\/reset\/confirm\/[\w-]+\/[\w-]+/)

    const doc = json(await app.inject({ method: 'GET', url: '/openapi.json' }))
    t.same(Object.keys(doc.paths).filter((path) => !path.startsWith('/auth/')), [], 'the pages are not in the API document')
  })

  t.test('ACCOUNTS_CONFIG overrides a link, and moves the API the pages call', async t => {
    const dir = t.testdir()
    const smtp = await smtpServer(t)
    const cfg = config(dir, { prefix: '/api/auth', activationUrl: 'https://app.example.com/activate/{uid}/{token}', domain: 'accounts.example.com', protocol: 'https' })
    const app = await build(t, { DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:', SMTP_URL: smtp.url, ACCOUNTS_CONFIG: cfg })
    t.equal(json(await app.inject({ method: 'GET', url: '/config.json' })).api, '/api/auth')
    t.equal((await register(app, 'alice', '/api/auth')).statusCode, 201)
    t.match(smtp.received[0].raw, /https:\/\/app\.example\.com\/activate\//, 'the configured activation link')
    t.equal((await app.inject({ method: 'POST', url: '/api/auth/users/activation/', payload: activationLink(smtp.received[0].raw) })).statusCode, 204)
    await app.inject({ method: 'POST', url: '/api/auth/users/reset_password/', payload: { email: 'alice@example.com' } })
    await app.accounts.users.mailsSent()
    t.match(smtp.received[1]?.raw, /https:\/\/accounts\.example\.com\/#\/password\/reset\/confirm\//, 'the others still land on the pages, at the configured domain')
  })

  t.test('another dialect: no pages (they speak djoser), the dialect\'s own links', async t => {
    const dir = t.testdir()
    const app = await build(t, { DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:', ACCOUNTS_CONFIG: config(dir, { dialect: 'drf-jwt' }) })
    t.equal((await app.inject({ method: 'GET', url: '/' })).statusCode, 404)
    t.equal((await app.inject({ method: 'GET', url: '/config.json' })).statusCode, 404)
    t.equal((await app.inject({ method: 'GET', url: '/dev/mail' })).statusCode, 200, 'the mailbox is there all the same')
    t.equal(app.accounts.options.activationUrl, '#/activate/{uid}/{token}')
  })

  t.test('the start line says where the pages and the mailbox are', async t => {
    const dir = t.testdir()
    const lines: string[] = []
    const { app } = await start({ DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:', PORT: '0' }, { logStream: { write: (line: string) => { lines.push(line) } } })
    t.teardown(() => app.close())
    const started = lines.map((line) => JSON.parse(line) as { msg: string }).find((entry) => entry.msg.startsWith('fastify-accounts listening'))
    t.match(started?.msg, /^fastify-accounts listening on http:\/\/127\.0\.0\.1:\d+\. Account pages: http:\/\/localhost:3000\/, mails sent: http:\/\/localhost:3000\/dev\/mail \(API docs: /)
  })
})

t.test('npm start: listens on HOST:PORT and closes on SIGTERM / SIGINT', async t => {
  t.test('serves over HTTP, then a signal closes the app and exits 0', async t => {
    const dir = t.testdir()
    const file = join(dir, 'x.db')
    const { app, url } = await start({ DATA_DIR: dir, DATABASE_URL: `sqlite:${file}`, PORT: '0', HOST: '127.0.0.1' }, { logger: false })
    t.teardown(() => app.close())
    t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)

    const res = await fetch(`${url}/openapi.json`)
    t.equal(res.status, 200)
    t.equal(((await res.json()) as { info: { title: string } }).info.title, pkg.name)

    const signals = new EventEmitter()
    const exits: number[] = []
    const exited = new Promise<void>(resolve => {
      closeOnSignals(app, signals, code => { exits.push(code); resolve() })
    })
    signals.emit('SIGTERM', 'SIGTERM')
    await exited
    t.same(exits, [0])
    t.equal(app.server.listening, false, 'no longer listening')
    await t.rejects(fetch(`${url}/openapi.json`), 'connections are refused')
    t.notOk(existsSync(`${file}-wal`), 'the database was closed')
  })

  t.test('a second signal while closing exits 1 at once', async t => {
    const dir = t.testdir()
    const { app } = await start({ DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:', PORT: '0' }, { logger: false })
    t.teardown(() => app.close())
    const signals = new EventEmitter()
    const exits: number[] = []
    closeOnSignals(app, signals, code => { exits.push(code) })
    signals.emit('SIGINT', 'SIGINT')
    signals.emit('SIGINT', 'SIGINT')
    t.same(exits, [1], 'exits before the close finished')
    await new Promise(resolve => setTimeout(resolve, 200))
    t.same(exits, [1, 0], 'then the close completes')
  })

  t.test('the remover detaches the handlers', async t => {
    const dir = t.testdir()
    const app = await build(t, { DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:' })
    const signals = new EventEmitter()
    const remove = closeOnSignals(app, signals, () => { t.fail('must not exit') })
    t.equal(signals.listenerCount('SIGTERM'), 1)
    remove()
    t.equal(signals.listenerCount('SIGTERM'), 0)
    t.equal(signals.listenerCount('SIGINT'), 0)
  })

  t.test('a bad PORT is refused before anything starts', async t => {
    const dir = t.testdir()
    await t.rejects(start({ DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:', PORT: 'eighty' }, { logger: false }), { name: 'ConfigError', message: /PORT must be a number/ })
    await t.rejects(start({ DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:', PORT: '70000' }, { logger: false }), { name: 'ConfigError' })
    t.notOk(existsSync(join(dir, 'jwt-secret')), 'nothing was written')
  })

  t.test('a port in use: start rejects and closes what it opened', async t => {
    const dir = t.testdir()
    const file = join(dir, 'x.db')
    const first = await start({ DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:', PORT: '0' }, { logger: false })
    t.teardown(() => first.app.close())
    const port = new URL(first.url).port
    await t.rejects(start({ DATA_DIR: dir, DATABASE_URL: `sqlite:${file}`, PORT: port }, { logger: false }), { code: 'EADDRINUSE' })
    t.notOk(existsSync(`${file}-wal`), 'the database of the failed start is closed')
  })
})

t.test('PostgreSQL and Redis from DATABASE_URL and REDIS_URL: one session across two instances', async t => {
  await serviceTest(t, 'postgres + redis', ['postgres', 'redis'], async t => {
    const dir = t.testdir()
    const smtp = await smtpServer(t)
    const keyPrefix = `${uniqueName('fa-server')}:`
    t.teardown(async () => { await deleteKeys(keyPrefix) })
    const env = {
      DATA_DIR: dir, DATABASE_URL: PG_URL, DATABASE_SCHEMA: testSchema(t), REDIS_URL, REDIS_KEY_PREFIX: keyPrefix,
      SMTP_URL: smtp.url, JWT_SECRET: 'shared-secret-of-both-instances-0123456789', ACCOUNTS_CONFIG: config(dir, { jwt: { rotateRefreshTokens: true } })
    }
    const first = await build(t, env)
    const second = await build(t, env)

    t.equal((await register(first, 'alice')).statusCode, 201)
    const activated = await second.inject({ method: 'POST', url: '/auth/users/activation/', payload: activationLink(smtp.received[0].raw) })
    t.equal(activated.statusCode, 204, 'the link mailed by one instance works on the other')
    const pair = json(await login(second, 'alice'))
    t.equal((await me(first, `Bearer ${pair.access}`)).statusCode, 200, 'a token from one instance works on the other')

    const rotated = await first.inject({ method: 'POST', url: '/auth/jwt/refresh/', payload: { refresh: pair.refresh } })
    t.equal(rotated.statusCode, 200, rotated.body)
    const reused = await second.inject({ method: 'POST', url: '/auth/jwt/refresh/', payload: { refresh: pair.refresh } })
    t.equal(reused.statusCode, 401, 'the rotated-out token is refused on the other instance')
    t.equal(json(reused).code, 'token_not_valid')
    t.ok((await keysWithTtl(keyPrefix)).size > 0, 'refresh records are in Redis')
  })
})
