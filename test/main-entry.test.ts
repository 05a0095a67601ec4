// Importing `fastify-accounts` must stay cheap for an app: no database driver, mailer, native password
// binding or SQL builder is loaded until something uses it (regression: the entry once loaded pg,
// better-sqlite3, ioredis and argon2, about 0.6 s, whatever store the app used).
import { register } from 'node:module'
import { MessageChannel } from 'node:worker_threads'
import t from 'tap'

const { port1, port2 } = new MessageChannel()
const resolved = new Set<string>()
port1.on('message', (name: string) => { resolved.add(name) })
port1.unref()
register('./fixtures/main-entry/record-packages.mjs', import.meta.url, { data: { port: port2 }, transferList: [port2] })

const SOCIAL_PACKAGES = ['openid-client', 'jose', 'oauth-1.0a']
const NOT_AT_IMPORT = ['argon2', 'better-sqlite3', 'pg', 'ioredis', 'bcrypt', 'nodemailer', 'kysely', '@fastify/swagger', '@fastify/swagger-ui']

t.test('the main entry loads none of the packages an app may not use', async (t) => {
  const main = await import('../lib/index.js')
  t.type(main.default, 'function')
  // Resolutions are reported by the hooks thread: give its messages a turn to arrive.
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.ok(resolved.has('fastify-plugin') && resolved.has('fast-jwt'), `the recorder sees what the entry loads (${[...resolved].sort().join(', ')})`)
  t.same(NOT_AT_IMPORT.filter((name) => resolved.has(name)), [], 'none of them')
  // Social login's providers load on the first social request (lib/social/runtime.ts), not with the plugin.
  t.same(SOCIAL_PACKAGES.filter((name) => resolved.has(name)), [], 'nor the social login packages')
})

t.test('they load when used: argon2 with the first hash', async (t) => {
  const { Argon2Hasher } = await import('../lib/passwords/argon2.js')
  await new Argon2Hasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 }).hash('correct-horse-battery-staple')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.ok(resolved.has('argon2'), 'argon2 resolved on first use')
})

t.test('the social packages load with the first social request', async (t) => {
  const { SocialLogin } = await import('../lib/social/runtime.js')
  const { resolveSocialOptions } = await import('../lib/social/options.js')
  const { MemorySocialAccountStore } = await import('../lib/social/memory-store.js')
  const { AccountsEventEmitter } = await import('../lib/events.js')
  const options = resolveSocialOptions({ providers: { keycloak: { type: 'oidc', issuer: 'http://127.0.0.1:9', clientId: 'app' }, twitter: { consumerKey: 'k', consumerSecret: 's' } } })
  const unused = async (): Promise<never> => { throw new Error('unused') }
  const login = new SocialLogin({
    options,
    accounts: new MemorySocialAccountStore(),
    users: { findUserById: unused, findUserByEmail: unused, createSocialUser: unused, isEmailVerified: () => false, makePasswordUnusable: unused, markEmailVerified: unused },
    events: new AccountsEventEmitter(() => {})
  })
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(SOCIAL_PACKAGES.filter((name) => resolved.has(name)), [], 'not when social login is set up')
  t.equal((await login.provider('keycloak')).name, 'keycloak')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(SOCIAL_PACKAGES.filter((name) => resolved.has(name)), SOCIAL_PACKAGES, 'all three at the first provider asked for')
})
