import t from 'tap'
import * as argon2 from 'argon2'
import { ARGON2_DEFAULTS, Argon2Hasher } from '../lib/passwords/argon2.js'
import { createPasswordValidator, MAX_PASSWORD_LENGTH } from '../lib/passwords/validators.js'

// Low costs keep the suite fast; only the defaults test pays the real price.
const FAST = { memoryCost: 1024, timeCost: 1, parallelism: 1 }

t.test('Argon2Hasher', async t => {
  const hasher = new Argon2Hasher(FAST)

  t.test('defaults are OWASP argon2id minimums, encoded in PHC m,t,p order', async t => {
    t.same(ARGON2_DEFAULTS, { memoryCost: 19456, timeCost: 2, parallelism: 1 })
    t.ok(Object.isFrozen(ARGON2_DEFAULTS))
    const strong = new Argon2Hasher()
    const encoded = await strong.hash('s3cret-pass')
    t.ok(encoded.startsWith('$argon2id$v=19$m=19456,t=2,p=1$'), encoded)
    t.equal(await strong.verify(encoded, 's3cret-pass'), true)
    t.equal(strong.needsRehash(encoded), false)
  })

  t.test('hash and verify round trip', async t => {
    const encoded = await hasher.hash('correct horse')
    t.match(encoded, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
    t.equal(await hasher.verify(encoded, 'correct horse'), true)
    t.equal(await hasher.verify(encoded, 'correct horsE'), false)
    t.equal(await hasher.verify(encoded, ''), false)
    t.not(await hasher.hash('correct horse'), encoded, 'salted')
    t.equal(await hasher.verify(await hasher.hash('pässwörd 😀'), 'pässwörd 😀'), true, 'unicode')
  })

  t.test('reads hashes written by node-argon2 itself (m,p,t order) and other argon2 variants', async t => {
    const native = await argon2.hash('pw', { ...FAST, type: argon2.argon2id })
    t.match(native, /m=1024,p=1,t=1/)
    t.equal(await hasher.verify(native, 'pw'), true)
    t.equal(hasher.needsRehash(native), false)
    const argon2i = await argon2.hash('pw', { ...FAST, type: argon2.argon2i })
    t.equal(await hasher.verify(argon2i, 'pw'), true)
    t.equal(hasher.needsRehash(argon2i), true, 'not argon2id')
  })

  t.test('unusable, malformed and foreign hashes verify false without throwing', async t => {
    const good = await hasher.hash('pw')
    const bad = [
      '',
      '!',
      'pbkdf2_sha256$600000$c2FsdHNhbHQ$aGFzaA==',
      'argon2' + good, // Django's prefixed form is for a Django-format hasher, not this one
      '$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA', // salt and digest too short
      '$argon2id$v=19$m=x,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA',
      '$argon2id$v=19$t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA', // no m
      '$argon2id$v=19$m=0,t=0,p=0$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA',
      '$scrypt$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA',
      good.slice(0, -10) + '$',
      good.replace('$v=19$', () => '$v=19$$')
    ]
    for (const encoded of bad) {
      t.equal(await hasher.verify(encoded, 'pw'), false, JSON.stringify(encoded))
      t.equal(hasher.needsRehash(encoded), true, JSON.stringify(encoded))
    }
  })

  t.test('needsRehash compares against the configured parameters', async t => {
    const encoded = await hasher.hash('pw')
    t.equal(hasher.needsRehash(encoded), false, 'equal parameters')
    t.equal(new Argon2Hasher({ ...FAST, memoryCost: 2048 }).needsRehash(encoded), true, 'lower memory')
    t.equal(new Argon2Hasher({ ...FAST, timeCost: 2 }).needsRehash(encoded), true, 'lower time')
    t.equal(new Argon2Hasher({ ...FAST, parallelism: 2 }).needsRehash(encoded), true, 'lower parallelism')
    const stronger = await new Argon2Hasher({ memoryCost: 2048, timeCost: 2, parallelism: 2 }).hash('pw')
    t.equal(hasher.needsRehash(stronger), false, 'a stronger hash is kept')
    const oldVersion = await argon2.hash('pw', { ...FAST, type: argon2.argon2id, version: 0x10 })
    t.equal(hasher.needsRehash(oldVersion), true, 'argon2 v1.0')
    const unversioned = oldVersion.replace('$v=16$', '$')
    t.equal(await hasher.verify(unversioned, 'pw'), true, 'v1.0 hashes without a version field still verify')
    t.equal(hasher.needsRehash(unversioned), true)
  })

  t.test('rejects unusable parameters up front', async t => {
    t.throws(() => new Argon2Hasher({ timeCost: 0 }), RangeError)
    t.throws(() => new Argon2Hasher({ parallelism: 1.5 }), RangeError)
    t.throws(() => new Argon2Hasher({ memoryCost: 8, parallelism: 2 }), RangeError)
  })
})

t.test('password validators', async t => {
  const validate = createPasswordValidator()
  const user = { username: 'alice', email: 'alice@example.com' }
  const similarUser = 'The password is too close to your username.'
  const similarEmail = 'The password is too close to your email address.'
  const tooShort = 'The password is too short: it must be at least 8 characters long.'
  const common = 'The password is one of the most commonly used passwords.'
  const numeric = 'The password consists only of digits.'

  t.test('a good password passes', async t => {
    t.same(validate('correct horse battery staple', user), [])
    t.same(validate('Zq7!kd0p', {}), [])
  })

  t.test('each rule', async t => {
    t.same(validate('Zq7!kd0', user), [tooShort])
    t.same(validate('Password ', user), [common], 'lower-cased and stripped')
    t.same(validate('iloveyou', user), [common])
    t.same(validate('83920174658', user), [numeric])
    t.same(validate('٣٨٤٧٢٩١٠٥٦٣', user), [numeric], 'any Unicode decimal digits, as str.isdigit')
  })

  t.test('whitespace: runs count as one character, and a password of spaces alone is refused (ASVS 2.1.1)', async t => {
    const spaces = 'The password cannot consist only of spaces.'
    t.same(validate('        ', user), [spaces], 'eight spaces')
    t.same(validate(' \t\n\u00a0\u3000 ', user), [spaces], 'any Unicode whitespace')
    t.same(validate('Zq7      k', user), [tooShort], '"Zq7      k" is five characters once its run of spaces is one')
    t.same(validate('Zq7 k d0p', user), [], 'single spaces count as characters')
    t.same(validate('Zq7!kd0p   ', user), [], 'a trailing run counts once too, and long enough stays fine')
    t.same(createPasswordValidator({ minLength: 0 })('   ', user), [spaces], 'even with no minimum length')
  })

  t.test('similarity to the username, the email and its parts', async t => {
    t.same(validate('jsmith_admin1', { username: 'jsmith_admin' }), [similarUser])
    t.same(validate('Jsmith-Admin', { username: 'jsmith_admin' }), [similarUser], 'case-insensitive')
    t.same(validate('zebrafinch9', { email: 'zebrafinch@example.com' }), [similarEmail], 'local part')
    t.same(validate('example.com!', { email: 'zebrafinch@example.com' }), [similarEmail], 'domain part')
    t.same(validate('garcía2024', { email: 'josé.garcía@example.com' }), [similarEmail], 'Unicode word characters')
    t.same(validate('aliceXq7!k', { username: 'alice' }), [], '5 of 10 characters: ratio 0.67 < 0.7')
    t.same(validate('alice' + 'Zq7!kd0p'.repeat(5), user), [], 'a long password merely containing it')
    t.same(validate('zebrafinch9', { username: 'zebrafinch', email: 'zebrafinch@example.com' }), [similarUser], 'one message, first attribute')
    t.same(validate('zebrafinch9', { username: '', email: undefined }), [], 'empty attributes are ignored')
  })

  t.test('all failures together, in Django order', async t => {
    t.same(validate('12345', { username: '12345' }), [similarUser, 'The password is too short: it must be at least 8 characters long.', common, numeric])
  })

  t.test('options', async t => {
    const none = createPasswordValidator({ minLength: 0, common: false, numeric: false, userAttributeSimilarity: false })
    t.same(none('12345', { username: '12345' }), [])
    t.same(none('', {}), [])
    t.same(createPasswordValidator({ minLength: 12 })('Zq7!kd0pQ', user), ['The password is too short: it must be at least 12 characters long.'])
    t.same(createPasswordValidator({ minLength: 1 })('', {}), ['The password is too short: it must be at least 1 character long.'])
    t.same(createPasswordValidator({ common: false })('password', user), [])
    t.same(createPasswordValidator({ numeric: false })('83920174658', user), [])
    const emailOnly = createPasswordValidator({ userAttributeSimilarity: { attributes: ['email'] } })
    t.same(emailOnly('jsmith_admin1', { username: 'jsmith_admin' }), [])
    t.same(emailOnly('jsmith_admin1', { email: 'jsmith_admin@example.com' }), [similarEmail])
    const lenient = createPasswordValidator({ userAttributeSimilarity: { maxSimilarity: 1 } })
    t.same(lenient('jsmith_admin1', { username: 'jsmith_admin' }), [])
    t.same(lenient('jsmith_admin', { username: 'jsmith_admin' }), [similarUser], 'identical still fails at 1')
    t.throws(() => createPasswordValidator({ userAttributeSimilarity: { maxSimilarity: 0.05 } }), RangeError)
    t.throws(() => createPasswordValidator({ minLength: -1 }), RangeError)
  })

  t.test('hard maximum length, in characters', async t => {
    const tooLong = [`The password is too long: it must not exceed ${MAX_PASSWORD_LENGTH} characters.`]
    t.equal(MAX_PASSWORD_LENGTH, 4096)
    t.same(validate('Zq7!'.repeat(1024), user), [])
    t.same(validate('Zq7!'.repeat(1024) + 'x', user), tooLong)
    t.same(validate('1'.repeat(10_000_000), user), tooLong, 'only that message, even when numeric')
    t.same(validate('😀'.repeat(MAX_PASSWORD_LENGTH), user), [], 'an emoji counts as one character')
    t.same(validate('😀'.repeat(MAX_PASSWORD_LENGTH + 1), user), tooLong)
    t.same(createPasswordValidator({ minLength: 0 })('x'.repeat(MAX_PASSWORD_LENGTH + 1), user), tooLong, 'not disabled with minLength')
  })
})
