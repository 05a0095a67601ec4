import { pbkdf2Sync } from 'node:crypto'
import { readFileSync } from 'node:fs'
import SQLite from 'better-sqlite3'
import t from 'tap'
import { Argon2Hasher } from '../lib/passwords/argon2.js'
import { DjangoPasswordHasher } from '../lib/passwords/django.js'
import { buildApp, fastHasher, json } from './helpers/app.js'

const FIXTURE_DB = new URL('./fixtures/django.sqlite3', import.meta.url)
const FIXTURE = JSON.parse(readFileSync(new URL('./fixtures/django-tokens.json', import.meta.url), 'utf8')) as {
  users: Array<{ id: number, username: string, password: string, hasher: string }>
}

/** Hashes made by Django 3.2 (Debian 12's python3-django) for PASSWORD with cheap parameters (see below). */
const PASSWORD = 'lètmein-Ω 🙂'
const VECTORS: Record<string, string> = {
  // PBKDF2PasswordHasher().encode(PASSWORD, 'seasalt', 1000), and its SHA-1 sibling
  pbkdf2_sha256: 'pbkdf2_sha256$1000$seasalt$QFTBoyCabI4PVOuBDS71452bRhBUqxw4IZYWIrkv32M=',
  pbkdf2_sha1: 'pbkdf2_sha1$1000$seasalt$jLltmQ9EULM9qA6oHBAalzSD1GA=',
  // Argon2PasswordHasher with time_cost=1, memory_cost=256, parallelism=2
  argon2id: 'argon2$argon2id$v=19$m=256,t=1,p=2$c2Vhc2FsdHNlYXNhbHQ$NwCME4B1EvRfBWAcQt7PuQ',
  // what Django before 3.2 wrote (argon2i)
  argon2i: 'argon2$argon2i$v=19$m=512,t=2,p=2$c2Vhc2FsdHNlYXNhbHQ$s5zXIulgpr6fmTIiV2giuw',
  // BCryptSHA256PasswordHasher / BCryptPasswordHasher with rounds=4
  bcrypt_sha256: 'bcrypt_sha256$$2b$04$TlluzJgknFSsTEQxbkvG..gl2HZDJfO/EHKeQMJjIkdBNlA3MMX4W',
  bcrypt: 'bcrypt$$2b$04$5NGDIVhboDRUmXsD.eFFau0YiQ7ovL.O8qcvL3jM0UR8XJN2sMdOm',
  // Django 4's ScryptPasswordHasher encoding (hashlib.scrypt, n=1024, r=8, p=1, dklen=64)
  scrypt: 'scrypt$1024$seasalt$8$1$o8UILhJ1rGIjCk7B9snJDtIFOPBRotj6b8ClKlyj7/Li2BCBUNEJx2ooQlS48ub5H+BuxF6z5hxj/URZIE03Lg=='
}
/** BCryptPasswordHasher and BCryptSHA256PasswordHasher (rounds=4) of 'x' * 100. */
const LONG = 'x'.repeat(100)
const BCRYPT_LONG = 'bcrypt$$2b$04$Xlh/lQTtoz/NcWMcPhAO8eOB2qPDPGf03.JdUboQW2H8/HgVYwnFe'
const BCRYPT_SHA256_LONG = 'bcrypt_sha256$$2b$04$vJmI.TnSuatscNL0R1xVTeG/5dKcMwJeN67YpObqwT3ooNHAPaAnC'

const hasher = new DjangoPasswordHasher(fastHasher)

t.test('verifies each Django format, and nothing else', async (t) => {
  for (const [name, encoded] of Object.entries(VECTORS)) {
    t.equal(await hasher.verify(encoded, PASSWORD), true, `${name}: right password`)
    t.equal(await hasher.verify(encoded, PASSWORD + ' '), false, `${name}: wrong password`)
    t.equal(await hasher.verify(encoded, PASSWORD.normalize('NFD')), false, `${name}: the password's bytes count, not its look`)
    t.equal(await hasher.verify(encoded, ''), false, `${name}: empty password`)
    t.equal(hasher.needsRehash(encoded), true, `${name}: replaced on the next login`)
  }
})

t.test('bcrypt: $2a$ and $2y$ spellings; plain bcrypt reads 72 bytes, bcrypt_sha256 all of them', async (t) => {
  t.equal(await hasher.verify(VECTORS.bcrypt.replace('$2b$', '$2a$'), PASSWORD), true, '$2a$')
  t.equal(await hasher.verify(VECTORS.bcrypt.replace('$2b$', '$2y$'), PASSWORD), true, '$2y$')
  t.equal(await hasher.verify(BCRYPT_LONG, LONG), true)
  t.equal(await hasher.verify(BCRYPT_LONG, 'x'.repeat(72) + 'different tail'), true, 'as Django: bcrypt ignores bytes after the 72nd')
  t.equal(await hasher.verify(BCRYPT_SHA256_LONG, LONG), true)
  t.equal(await hasher.verify(BCRYPT_SHA256_LONG, 'x'.repeat(72) + 'different tail'), false, 'bcrypt_sha256 sees the whole password')
  t.equal(await hasher.verify(VECTORS.bcrypt, PASSWORD + '\0'), false, 'a NUL byte never matches (Python bcrypt refuses it)')
})

t.test('unusable passwords never match', async (t) => {
  for (const encoded of ['!', '!cx4KxOKqG3Qcbg5wW8NsMFj3s61XNrKDZwBYOOBH', '!' + VECTORS.pbkdf2_sha256]) {
    t.equal(await hasher.verify(encoded, ''), false)
    t.equal(await hasher.verify(encoded, encoded), false)
    t.equal(await hasher.verify(encoded, encoded.slice(1)), false)
    t.equal(await hasher.verify(encoded, PASSWORD), false)
  }
})

t.test('malformed or unknown hashes answer false and never throw', async (t) => {
  const salted = pbkdf2Sync(PASSWORD, 'seasalt', 1000, 32, 'sha256').toString('base64')
  const bad = [
    '', 'pbkdf2_sha256', 'pbkdf2_sha256$', 'pbkdf2_sha256$1000$seasalt$', 'pbkdf2_sha256$0$seasalt$' + salted,
    'pbkdf2_sha256$-1$seasalt$' + salted, 'pbkdf2_sha256$x$seasalt$' + salted,
    'pbkdf2_sha256$99999999$seasalt$' + salted, // above the iteration cap: refused without computing
    'pbkdf2_sha256$1000$seasalt$' + salted.slice(0, -4), // short digest
    'pbkdf2_sha256$1000$seasalt$' + salted.replace('=', ''), // not Python's base64
    'pbkdf2_sha256$1000$seasalt$' + salted + '$', 'pbkdf2_sha1$1000$seasalt$' + salted, // sha1 wants 20 bytes
    'PBKDF2_SHA256$1000$seasalt$' + salted,
    'bcrypt$$2b$04$short', 'bcrypt$$2b$31$' + VECTORS.bcrypt.slice(-53), 'bcrypt$$2x$04$' + VECTORS.bcrypt.slice(-53),
    'bcrypt_sha256$2b$04$' + VECTORS.bcrypt.slice(-53), 'bcrypt$' + VECTORS.bcrypt.slice(7).replace('$04$', '$03$'),
    'scrypt$1000$seasalt$8$1$' + VECTORS.scrypt.split('$')[5], // N not a power of two
    'scrypt$1073741824$seasalt$8$1$' + VECTORS.scrypt.split('$')[5], // far too much memory
    'scrypt$1024$seasalt$8$1$AAAA', 'scrypt$1024$seasalt$0$1$' + VECTORS.scrypt.split('$')[5],
    'argon2$argon2id$v=19$m=256,t=1,p=2$c2Vh$NwCME4B1EvRfBWAcQt7PuQ', 'argon2$argon2x$v=19$m=256,t=1,p=2$c2Vhc2FsdHNlYXNhbHQ$NwCME4B1EvRfBWAcQt7PuQ',
    'argon2$$argon2id$v=19$m=256,t=1,p=2$c2Vhc2FsdHNlYXNhbHQ$NwCME4B1EvRfBWAcQt7PuQ',
    'argon2$argon2id$v=19$m=999999999999,t=1,p=2$c2Vhc2FsdHNlYXNhbHQ$NwCME4B1EvRfBWAcQt7PuQ',
    // Django hashers this class does not read (off by default since Django 1.x)
    'md5$seasalt$' + 'a'.repeat(32), 'sha1$seasalt$' + 'a'.repeat(40), 'unsalted_md5$$' + 'a'.repeat(32), 'crypt$$ab1234567890',
    '$2b$04$' + VECTORS.bcrypt.slice(-53), // a bare bcrypt string is not a Django hash
    '$argon2id$v=19$m=256,t=1,p=2$c2Vh$x', 'not a hash at all', '\u0000', 'x'.repeat(100_000)
  ]
  for (const encoded of bad) {
    t.equal(await hasher.verify(encoded, PASSWORD), false, JSON.stringify(encoded.slice(0, 60)))
    t.equal(hasher.needsRehash(encoded), true)
  }
  t.equal(await hasher.verify(undefined as unknown as string, PASSWORD), false)
  t.equal(await hasher.verify(VECTORS.pbkdf2_sha256, undefined as unknown as string), false)
  t.equal(await hasher.verify(VECTORS.pbkdf2_sha256, 42 as unknown as string), false)
})

t.test('new hashes are argon2id PHC strings (m,t,p order), verified and kept', async (t) => {
  const encoded = await hasher.hash(PASSWORD)
  t.match(encoded, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/)
  t.equal(await hasher.verify(encoded, PASSWORD), true)
  t.equal(await hasher.verify(encoded, 'nope'), false)
  t.equal(hasher.needsRehash(encoded), false)
  t.equal(hasher.needsRehash(encoded.replace('$argon2id$', '$argon2i$')), true, 'argon2i is upgraded')
  t.equal(hasher.needsRehash(encoded.replace('m=1024', 'm=512')), true, 'weaker parameters are upgraded')

  const defaults = new DjangoPasswordHasher()
  t.ok(defaults.inner instanceof Argon2Hasher)
  t.same((defaults.inner as Argon2Hasher).memoryCost, 19456, 'default: the OWASP minimum')
  t.equal((new DjangoPasswordHasher({ memoryCost: 2048, timeCost: 1 }).inner as Argon2Hasher).memoryCost, 2048)
  t.equal(await defaults.verify(VECTORS.argon2id, PASSWORD), true, 'Django argon2 with its own (any) parameters')
})

t.test('every user of the Django-made fixture database, with Django 3.2\'s real costs', async (t) => {
  const db = new SQLite(new URL(FIXTURE_DB).pathname, { readonly: true })
  t.teardown(() => db.close())
  const rows = db.prepare('select id, username, password from auth_user').all() as Array<{ id: number, username: string, password: string }>
  t.equal(rows.length, FIXTURE.users.length)
  const seen = new Set<string>()
  for (const user of FIXTURE.users) {
    const row = rows.find((r) => r.id === user.id)
    if (row === undefined) throw new Error(`user ${user.id} is not in the fixture database`)
    const expected = user.hasher !== 'unusable'
    seen.add(row.password.split('$')[0].replace(/^!.*/, '!'))
    t.equal(await hasher.verify(row.password, user.password), expected, `${user.username} (${user.hasher})`)
    t.equal(await hasher.verify(row.password, user.password.toUpperCase()), false, `${user.username}: wrong password`)
    t.equal(hasher.needsRehash(row.password), true)
  }
  t.same([...seen].sort(), ['!', 'argon2', 'bcrypt', 'bcrypt_sha256', 'pbkdf2_sha1', 'pbkdf2_sha256', 'scrypt'], 'every format is in the fixture')
})

t.test('verification runs off the main thread', async (t) => {
  // Real costs: Django 3.2's pbkdf2 (260000 iterations), scrypt N=2^14, bcrypt 12 (from the fixture).
  const db = new SQLite(new URL(FIXTURE_DB).pathname, { readonly: true })
  const hashes = db.prepare("select username, password from auth_user where password like 'pbkdf2_sha256$%' or password like 'scrypt$%' or password like 'bcrypt$%'").all() as Array<{ username: string, password: string }>
  db.close()
  for (const { username, password } of hashes) {
    let ticks = 0
    const timer = setInterval(() => { ticks++ }, 2)
    const started = performance.now()
    await hasher.verify(password, 'wrong password')
    const elapsed = performance.now() - started
    clearInterval(timer)
    // A computation on the main thread would let no timer fire before it ends.
    t.ok(ticks >= Math.min(3, Math.floor(elapsed / 10)), `${username}: ${ticks} timer ticks during ${elapsed.toFixed(0)} ms`)
    t.ok(elapsed > 20, `${username}: a real cost (${elapsed.toFixed(0)} ms)`)
  }
})

t.test('in the plugin: a Django hash logs in and becomes argon2id; rehashOnLogin: false keeps it', async (t) => {
  for (const rehashOnLogin of [true, false]) {
    const app = await buildApp({ passwordHasher: new DjangoPasswordHasher(fastHasher), rehashOnLogin, sendActivationEmail: false })
    t.teardown(() => app.app.close())
    const user = await app.users.createUser({ id: 41, username: 'dj', email: 'dj@example.com', password: VECTORS.pbkdf2_sha256, isActive: true })
    const login = async (password: string): Promise<number> => (await app.app.inject({ method: 'POST', url: '/auth/jwt/create/', payload: { username: 'dj', password } })).statusCode
    t.equal(await login('wrong'), 401)
    t.equal((await app.users.findUserById(user.id))?.password, VECTORS.pbkdf2_sha256, 'a failed login changes nothing')
    t.equal(await login(PASSWORD), 200)
    const after = (await app.users.findUserById(user.id))?.password ?? ''
    if (rehashOnLogin) t.match(after, /^\$argon2id\$/, 'rehashed')
    else t.equal(after, VECTORS.pbkdf2_sha256, 'kept')
    t.equal(await login(PASSWORD), 200, 'and the password still works')
    const token = await app.app.inject({ method: 'POST', url: '/auth/token/login/', payload: { username: 'dj', password: PASSWORD } })
    t.equal(token.statusCode, 200)
    t.match(json(token), { auth_token: /^[0-9a-f]{40}$/ })
  }
})
