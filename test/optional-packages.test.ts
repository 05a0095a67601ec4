// The optional peer dependencies (better-sqlite3, pg, ioredis, bcrypt, nodemailer) are loaded only by what
// needs them, and a missing one fails with its name and the command that installs it. Here they are all
// missing for real, as far as this process can tell: module hooks (fixtures/optional-packages/hide-packages.mjs)
// resolve each of them from an empty directory, so every import of one gets Node's own ERR_MODULE_NOT_FOUND.
// Everything under test is therefore imported dynamically, after the hooks are registered.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createRequire, register } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import t from 'tap'
import { isMissingPackage, loadOptional, MissingPackageError } from '../lib/optional-package.js'

const HIDDEN = ['better-sqlite3', 'pg', 'ioredis', 'bcrypt', 'nodemailer']
const empty = mkdtempSync(join(tmpdir(), 'fastify-accounts-nowhere-'))
t.teardown(() => { rmSync(empty, { recursive: true, force: true }) })
for (let dir = empty; ; dir = dirname(dir)) {
  if (existsSync(join(dir, 'node_modules'))) throw new Error(`${dir} has a node_modules: the hidden packages could be found there`)
  if (dirname(dir) === dir) break
}
register('./fixtures/optional-packages/hide-packages.mjs', import.meta.url, {
  data: { hide: HIDDEN, nowhere: pathToFileURL(join(empty, 'nowhere.mjs')).href }
})

const PG_URL = 'postgres://postgres@127.0.0.1:5432/test'
const REDIS_URL = 'redis://127.0.0.1:6379'
const ABSENT = 'fastify-accounts-absent-package'
const IMPORTS_ABSENT = new URL('./fixtures/optional-packages/imports-absent.mjs', import.meta.url).href

/** Django 3.2's BCryptSHA256PasswordHasher / BCryptPasswordHasher (rounds=4) and PBKDF2 (1000) of PASSWORD. */
const PASSWORD = 'lètmein-Ω 🙂'
const BCRYPT_SHA256 = 'bcrypt_sha256$$2b$04$TlluzJgknFSsTEQxbkvG..gl2HZDJfO/EHKeQMJjIkdBNlA3MMX4W'
const BCRYPT = 'bcrypt$$2b$04$5NGDIVhboDRUmXsD.eFFau0YiQ7ovL.O8qcvL3jM0UR8XJN2sMdOm'
const PBKDF2 = 'pbkdf2_sha256$1000$seasalt$QFTBoyCabI4PVOuBDS71452bRhBUqxw4IZYWIrkv32M='

function message (feature: string, name: string): string {
  return `fastify-accounts: ${feature} need the optional package ${name}: npm install ${name}`
}

t.test('the hooks hide the packages: importing one fails as an absent package does', async (t) => {
  for (const name of HIDDEN) {
    const error = await import(name).then(() => undefined, (e: unknown) => e)
    t.ok(isMissingPackage(error, name), `${name} is missing here (${(error as Error | undefined)?.message.split('\n')[0]})`)
  }
})

t.test('loadOptional: an absent package becomes a MissingPackageError naming it and how to install it', async (t) => {
  const error = await loadOptional(ABSENT, 'frobnication features', async () => await import(ABSENT)).catch((e: unknown) => e)
  t.ok(error instanceof MissingPackageError)
  t.match(error, {
    name: 'MissingPackageError',
    code: 'ACCOUNTS_MISSING_PACKAGE',
    packageName: ABSENT,
    message: message('frobnication features', ABSENT),
    cause: { message: new RegExp(`^Cannot find package '${ABSENT}' imported from `) }
  })
  // The same through our own module that imports the package, as the store factory loads a store module.
  const viaModule = await loadOptional('fastify-accounts-absent-dependency', 'widgets', async () => await import(IMPORTS_ABSENT)).catch((e: unknown) => e)
  t.match(viaModule, { packageName: 'fastify-accounts-absent-dependency', message: message('widgets', 'fastify-accounts-absent-dependency') })
})

t.test('loadOptional passes on every other failure unchanged', async (t) => {
  // The module loads, but a package it needs (not the one asked about) is missing: a broken install.
  const other = await loadOptional(ABSENT, 'x', async () => await import(IMPORTS_ABSENT)).catch((e: unknown) => e)
  t.notOk(other instanceof MissingPackageError)
  t.match(other, { message: /^Cannot find package 'fastify-accounts-absent-dependency'/ })
  const thrown = new TypeError('boom')
  t.equal(await loadOptional(ABSENT, 'x', async () => { throw thrown }).catch((e: unknown) => e), thrown, 'any other error as it was')
  t.equal(await loadOptional(ABSENT, 'x', async () => 42), 42, 'and the loaded value when it loads')
})

t.test('isMissingPackage: ESM and CommonJS "not found" for that package only', async (t) => {
  const esm = await import(ABSENT).catch((e: unknown) => e)
  let cjs: unknown
  try {
    createRequire(import.meta.url)(ABSENT)
  } catch (error) {
    cjs = error
  }
  t.match(cjs, { code: 'MODULE_NOT_FOUND' })
  t.ok(isMissingPackage(esm, ABSENT), 'ESM: Cannot find package')
  t.ok(isMissingPackage(cjs, ABSENT), 'CommonJS: Cannot find module')
  t.notOk(isMissingPackage(esm, 'fastify-accounts-absent'), 'not for a package whose name is a prefix of the missing one')
  t.notOk(isMissingPackage(esm, `${ABSENT}-too`), 'nor for a longer name')
  t.notOk(isMissingPackage(Object.assign(new Error(`Cannot find package '${ABSENT}'`), { code: 'EACCES' }), ABSENT), 'other codes are other failures')
  // Node's own errors carry the code; off-thread resolver hooks (the TypeScript loader's, here) may hand them back without.
  t.ok(isMissingPackage(Object.assign(new Error(`Cannot find package '${ABSENT}' imported from /x.js`), { code: 'ERR_MODULE_NOT_FOUND' }), ABSENT))
  t.notOk(isMissingPackage(`Cannot find package '${ABSENT}'`, ABSENT), 'not an Error')
  // A file missing inside an installed package is a broken package, not a missing one.
  const inside = await import(new URL('../node_modules/kysely/no-such-file.js', import.meta.url).href).catch((e: unknown) => e)
  t.match(inside, { message: /^Cannot find module '.*kysely\/no-such-file\.js'/ })
  t.notOk(isMissingPackage(inside, 'kysely'))
})

t.test('importing the main entry, fastify-accounts/stores/memory and /testing needs none of the optional packages', async (t) => {
  const main = await import('../lib/index.js')
  t.type(main.default, 'function')
  t.type(main.createStores, 'function')
  t.type(main.DjangoPasswordHasher, 'function')
  t.equal(main.MissingPackageError, MissingPackageError)
  t.type((await import('../lib/stores/memory.js')).MemoryUserStore, 'function')
  t.type((await import('../lib/testing/index.js')).storeContract, 'function')
  t.type((await import('../lib/import-django.js')).importDjango, 'function', 'the importer loads its source driver only when it opens a source')
})

t.test('the store and mailer subpaths fail on import with the name of their package', async (t) => {
  const cases: Array<[string, () => Promise<unknown>]> = [
    ['better-sqlite3', async () => await import('../lib/stores/sqlite.js')],
    ['pg', async () => await import('../lib/stores/postgres.js')],
    ['ioredis', async () => await import('../lib/stores/redis.js')],
    ['nodemailer', async () => await import('../lib/mail/smtp.js')]
  ]
  for (const [name, load] of cases) {
    const error = await load().then(() => undefined, (e: unknown) => e)
    t.ok(isMissingPackage(error, name), `${name}: ${(error as Error | undefined)?.message.split('\n')[0]}`)
  }
})

t.test('createStores: the driver a URL needs, missing, is named; nothing is opened', async (t) => {
  const { createStores } = await import('../lib/stores/factory.js')
  const file = join(empty, 'accounts.db')
  await t.rejects(createStores({ databaseUrl: `sqlite:${file}` }), { name: 'MissingPackageError', packageName: 'better-sqlite3', message: message('sqlite: URLs', 'better-sqlite3') })
  await t.rejects(createStores({ databaseUrl: 'sqlite::memory:' }), { message: 'fastify-accounts: sqlite: URLs need the optional package better-sqlite3: npm install better-sqlite3' })
  await t.rejects(createStores({ databaseUrl: PG_URL }), { packageName: 'pg', message: message('postgres:// URLs', 'pg') })
  await t.rejects(createStores({ databaseUrl: `sqlite:${file}`, redisUrl: REDIS_URL }), { packageName: 'ioredis', message: message('redis:// URLs', 'ioredis') })
  t.notOk(existsSync(file), 'no database file was created')
  // URL mistakes are still reported as such, before any driver is looked for.
  await t.rejects(createStores({ databaseUrl: 'mysql://x@y/z' }), { name: 'TypeError', message: /unsupported database URL scheme "mysql:"/ })
  await t.rejects(createStores({ databaseUrl: PG_URL, redisUrl: 'http://x' }), { name: 'TypeError', message: /unsupported Redis URL/ })
})

t.test('the CLIs print the package to install', async (t) => {
  const { main: migrateMain } = await import('../bin/migrate.js')
  const { main: importMain } = await import('../bin/import-django.js')
  const errors: string[] = []
  const original = console.error
  console.error = (...args: unknown[]) => { errors.push(args.join(' ')) }
  const env = process.env.DATABASE_URL
  try {
    process.env.DATABASE_URL = PG_URL
    await migrateMain()
    t.equal(process.exitCode, 1)
    process.exitCode = undefined
    const fixture = fileURLToPath(new URL('./fixtures/django.sqlite3', import.meta.url))
    t.equal(await importMain(['--from', fixture], { DATABASE_URL: 'sqlite::memory:' }), 1)
  } finally {
    console.error = original
    if (env === undefined) delete process.env.DATABASE_URL
    else process.env.DATABASE_URL = env
  }
  t.same(errors, [
    'fastify-accounts: migrating failed: postgres:// URLs need the optional package pg: npm install pg',
    'import-django: failed: sqlite: URLs need the optional package better-sqlite3: npm install better-sqlite3'
  ])
})

t.test('importDjango loads the driver of its source only, and names it when missing', async (t) => {
  const { importDjango } = await import('../lib/import-django.js')
  const { MemoryTokenStore, MemoryUserStore } = await import('../lib/stores/memory.js')
  const store = { users: new MemoryUserStore(), tokens: new MemoryTokenStore() }
  const fixture = fileURLToPath(new URL('./fixtures/django.sqlite3', import.meta.url))
  await t.rejects(importDjango({ from: fixture, store }), { packageName: 'better-sqlite3', message: message('Django SQLite sources', 'better-sqlite3') })
  await t.rejects(importDjango({ from: PG_URL, store }), { packageName: 'pg', message: message('Django PostgreSQL sources', 'pg') })
})

t.test('DjangoPasswordHasher: without bcrypt, a bcrypt hash fails closed with the package named; the others verify', async (t) => {
  const { DjangoPasswordHasher } = await import('../lib/passwords/django.js')
  const { fastHasher } = await import('./helpers/app.js')
  const hasher = new DjangoPasswordHasher(fastHasher)
  const expected = { name: 'MissingPackageError', packageName: 'bcrypt', message: message("Django's bcrypt and bcrypt_sha256 password hashes", 'bcrypt') }
  await t.rejects(hasher.verify(BCRYPT_SHA256, PASSWORD), expected, 'bcrypt_sha256: an error, never true')
  await t.rejects(hasher.verify(BCRYPT, PASSWORD), expected, 'bcrypt: the same')
  await t.rejects(hasher.verify(BCRYPT, 'wrong'), expected, 'whatever the password')
  t.equal(await hasher.verify(PBKDF2, PASSWORD), true, 'pbkdf2 needs no optional package')
  t.equal(await hasher.verify(PBKDF2, 'wrong'), false)
  t.equal(await hasher.verify(await hasher.hash(PASSWORD), PASSWORD), true, 'nor does argon2id')
  t.equal(await hasher.verify('bcrypt$$2b$04$short', PASSWORD), false, 'a malformed bcrypt hash is no match, without loading bcrypt')
})

t.test('the plugin: a login on a bcrypt hash without bcrypt answers 503 and logs the package to install', async (t) => {
  const { default: Fastify } = await import('fastify')
  const { default: accounts, DjangoPasswordHasher, MemoryMailer, MemoryTokenStore, MemoryUserStore } = await import('../lib/index.js')
  const { fastHasher, SECRET } = await import('./helpers/app.js')
  const users = new MemoryUserStore()
  await users.createUser({ username: 'bea', email: 'bea@example.com', password: BCRYPT_SHA256, isActive: true })
  await users.createUser({ username: 'pia', email: 'pia@example.com', password: PBKDF2, isActive: true })
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'error', stream: { write: (line: string) => { lines.push(line) } } } })
  t.teardown(async () => { await app.close() })
  await app.register(accounts, {
    prefix: '/auth',
    store: { users, tokens: new MemoryTokenStore() },
    mailer: new MemoryMailer(),
    passwordHasher: new DjangoPasswordHasher(fastHasher),
    rateLimit: false,
    jwt: { signingKey: SECRET }
  })
  const login = async (username: string): Promise<{ statusCode: number, body: string }> =>
    await app.inject({ method: 'POST', url: '/auth/jwt/create/', payload: { username, password: PASSWORD } })

  const refused = await login('bea')
  t.equal(refused.statusCode, 503, 'not a 500, and not a wrong "bad credentials" either')
  t.match(JSON.parse(refused.body), { detail: String })
  t.notMatch(refused.body, /bcrypt/, 'the client is not told about the server\'s packages')
  t.ok(lines.some((line) => line.includes('npm install bcrypt')), 'the log says what to install')
  t.equal((await login('pia')).statusCode, 200, 'other users log in')
})
