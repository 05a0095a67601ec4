import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyRequest } from 'fastify'
import t from 'tap'
import accounts, { MemoryMailer, requireUser, type AccountsOptions, type AccountUser, type DecoratorsOption, type RequestAuth } from '../lib/index.js'
import { MemoryTokenStore, MemoryUserStore } from '../lib/stores/memory.js'
import { fastHasher, PASSWORD, SECRET } from './helpers/app.js'

// Imported by name at run time only: its type augmentation (request.user, jwtVerify) must not reach this
// program, whose request.user is the plugin's. test/types/renamed.tst.ts checks the types of the pairing.
const FASTIFY_JWT = '@fastify/jwt'
async function fastifyJwt (): Promise<FastifyPluginAsync<{ secret: string }>> {
  return ((await import(FASTIFY_JWT)) as { default: FastifyPluginAsync<{ secret: string }> }).default
}

interface HostJwt { sign (payload: object): string }
type Renamed = Record<string, unknown>

/** The runtime option for names this program's types do not declare (a consumer declares them in AccountsDecoratorNames). */
function names (given: Record<string, string>): DecoratorsOption {
  return given as unknown as DecoratorsOption
}

async function withPlugin (app: FastifyInstance, extra: Partial<AccountsOptions> = {}): Promise<{ users: MemoryUserStore, mailer: MemoryMailer }> {
  const users = new MemoryUserStore()
  const mailer = new MemoryMailer()
  await app.register(accounts, {
    prefix: '/auth',
    store: { users, tokens: new MemoryTokenStore() },
    mailer,
    passwordHasher: fastHasher,
    rateLimit: false,
    sendActivationEmail: false,
    ...extra,
    jwt: { signingKey: SECRET }
  })
  return { users, mailer }
}

async function loginPair (app: FastifyInstance, username = 'alice'): Promise<{ access: string }> {
  const created = await app.inject({ method: 'POST', url: '/auth/users/', payload: { username, email: `${username}@example.com`, password: PASSWORD } })
  if (created.statusCode !== 201) throw new Error(created.body)
  const login = await app.inject({ method: 'POST', url: '/auth/jwt/create/', payload: { username, password: PASSWORD } })
  return login.json()
}

t.test('a name another plugin took fails at registration, naming the option to set', async t => {
  t.test('@fastify/jwt registered first (its request.user)', async t => {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(await fastifyJwt(), { secret: SECRET })
    await t.rejects(withPlugin(app), { name: 'OptionsError', message: /request\.user is already decorated.*decorators\.user/ })
  })

  t.test("an app's own app.authenticate, as @fastify/jwt's README writes it", async t => {
    const app = Fastify()
    t.teardown(() => app.close())
    app.decorate('authenticate', async () => {})
    await t.rejects(withPlugin(app), { name: 'OptionsError', message: /app\.authenticate is already decorated.*decorators\.authenticate/ })
  })

  t.test('request.auth and app.accounts too', async t => {
    const a = Fastify()
    t.teardown(() => a.close())
    a.decorateRequest('auth', null)
    await t.rejects(withPlugin(a), { message: /request\.auth is already decorated.*decorators\.auth/ })
    const b = Fastify()
    t.teardown(() => b.close())
    b.decorate('accounts' as string, {})
    await t.rejects(withPlugin(b), { message: /app\.accounts is already decorated.*decorators\.accounts/ })
  })

  t.test('bad names', async t => {
    for (const [given, message] of [
      [{ nope: 'x' }, /unknown option "decorators\.nope"/],
      [{ user: 'not an identifier' }, /decorators\.user must be a JavaScript identifier/],
      [{ user: 'auth' }, /each name must differ/],
      [{ authenticate: 'accounts' }, /each name must differ/]
    ] as const) {
      const app = Fastify()
      t.teardown(() => app.close())
      await t.rejects(withPlugin(app, { decorators: names(given) }), { name: 'OptionsError', message }, JSON.stringify(given))
    }
  })
})

t.test('beside @fastify/jwt with renamed decorators, both work on their own tokens', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(await fastifyJwt(), { secret: 'the-host-apps-own-secret-0123456789' })
  await withPlugin(app, { decorators: names({ user: 'account', authenticate: 'authenticateAccount' }) })
  const host = app as unknown as Renamed & { jwt: HostJwt, authenticateAccount: (r: FastifyRequest) => Promise<void> }
  app.get('/host', async (request) => {
    await (request as unknown as { jwtVerify (): Promise<unknown> }).jwtVerify()
    return { user: request.user, account: (request as unknown as Renamed).account }
  })
  app.get('/mine', { onRequest: host.authenticateAccount }, async (request) => ({
    account: (request as unknown as Renamed).account, user: request.user, auth: ((request as unknown as Renamed).auth as RequestAuth).scheme
  }))
  await app.ready()
  t.equal(typeof host.authenticateAccount, 'function')
  t.notOk('authenticate' in app, 'no app.authenticate')
  const { access } = await loginPair(app)

  const mine = await app.inject({ url: '/mine', headers: { authorization: `Bearer ${access}` } })
  t.equal(mine.statusCode, 200)
  t.match(mine.json(), { account: { username: 'alice' }, auth: 'jwt' })
  t.equal(mine.json().user, null, "request.user stays @fastify/jwt's")

  const hostToken = host.jwt.sign({ sub: 'host-user' })
  const hostRes = await app.inject({ url: '/host', headers: { authorization: `Bearer ${hostToken}` } })
  t.equal(hostRes.statusCode, 200)
  t.match(hostRes.json(), { user: { sub: 'host-user' }, account: null })
  t.equal((await app.inject({ url: '/host', headers: { authorization: `Bearer ${access}` } })).statusCode, 401, "the host's verifier refuses the plugin's token (another secret)")
  t.equal((await app.inject({ url: '/mine', headers: { authorization: `Bearer ${hostToken}` } })).statusCode, 401, "and the plugin refuses the host's")

  // The dialect's own routes read the renamed decorators too.
  const me = await app.inject({ url: '/auth/users/me/', headers: { authorization: `Bearer ${access}` } })
  t.equal(me.statusCode, 200)
  t.equal(me.json().username, 'alice')
  const key = (await app.inject({ method: 'POST', url: '/auth/token/login/', payload: { username: 'alice', password: PASSWORD } })).json().auth_token
  t.equal((await app.inject({ method: 'POST', url: '/auth/token/logout/', headers: { authorization: `Token ${key}` } })).statusCode, 204)
  t.equal((await app.inject({ url: '/auth/users/me/', headers: { authorization: `Token ${key}` } })).statusCode, 401, 'the logged-out token is gone')
})

t.test('app.accounts renamed: the dialects still find the core', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  await withPlugin(app, { decorators: names({ accounts: 'identity' }) })
  await app.ready()
  t.notOk(app.hasDecorator('accounts'))
  t.equal(typeof ((app as unknown as Renamed).identity as { users: { register: unknown } }).users.register, 'function')
  const { access } = await loginPair(app)
  t.equal((await app.inject({ url: '/auth/users/me/', headers: { authorization: `Bearer ${access}` } })).statusCode, 200)
})

t.test('requireUser: the user behind app.authenticate, a 401 elsewhere', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  await withPlugin(app)
  app.get('/guarded', { onRequest: app.authenticate }, async (request) => {
    const user: AccountUser = requireUser(request)
    return { username: user.username }
  })
  app.get('/open', async (request) => ({ username: requireUser(request).username }))
  await app.ready()
  const { access } = await loginPair(app)
  const guarded = await app.inject({ url: '/guarded', headers: { authorization: `Bearer ${access}` } })
  t.same(guarded.json(), { username: 'alice' })
  const open = await app.inject({ url: '/open', headers: { authorization: `Bearer ${access}` } })
  t.equal(open.statusCode, 401, 'no hook ran: not authenticated, never a 500')
  t.match(open.json(), { code: 'ACCOUNTS_NOT_AUTHENTICATED' })
})

t.test('request decorators start as null on every request (no shared object)', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  await withPlugin(app)
  app.get('/peek', async (request) => ({ user: request.user, auth: request.auth }))
  app.get('/guarded', { onRequest: app.authenticate }, async (request) => ({ user: request.user?.username }))
  await app.ready()
  const { access } = await loginPair(app)
  t.same((await app.inject({ url: '/guarded', headers: { authorization: `Bearer ${access}` } })).json(), { user: 'alice' })
  t.same((await app.inject({ url: '/peek', headers: { authorization: `Bearer ${access}` } })).json(), { user: null, auth: null })
})
