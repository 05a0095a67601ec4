import { createHash, pbkdf2, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import { loadOptional, MissingPackageError } from '../optional-package.js'
import type { PasswordHasher } from '../ports.js'
import { Argon2Hasher, type Argon2Options } from './argon2.js'

/** The part of the native `bcrypt` package used here (it ships no types); its work runs on libuv's threadpool. */
interface Bcrypt {
  compare (data: string, encrypted: string): Promise<boolean>
}
/** A variable, not a literal: the package ships no types (and is an optional peer dependency). */
const BCRYPT_PACKAGE = 'bcrypt'
let bcryptModule: Promise<Bcrypt> | undefined

/** The native module is installed but cannot be loaded (a broken build); verify rethrows it. */
class BcryptUnavailableError extends Error {}

/**
 * Loaded on the first bcrypt hash seen, so a deployment without bcrypt users never needs the package. Not
 * installed: a MissingPackageError naming it; installed but broken: a BcryptUnavailableError. A failed load
 * is tried again on the next bcrypt hash (the package may have been installed meanwhile).
 */
async function bcrypt (): Promise<Bcrypt> {
  bcryptModule ??= loadOptional(BCRYPT_PACKAGE, "Django's bcrypt and bcrypt_sha256 password hashes", async () => {
    const loaded = await import(BCRYPT_PACKAGE) as { default?: Bcrypt } & Bcrypt
    return loaded.default ?? loaded
  }).catch((error: unknown) => {
    bcryptModule = undefined
    if (error instanceof MissingPackageError) throw error
    throw new BcryptUnavailableError(`fastify-accounts: the bcrypt package cannot be loaded: ${(error as Error).message}`, { cause: error })
  })
  return await bcryptModule
}

function pbkdf2Async (password: Buffer, salt: Buffer, iterations: number, keylen: number, digest: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(password, salt, iterations, keylen, digest, (error, key) => { error === null ? resolve(key) : reject(error) })
  })
}

function scryptAsync (password: Buffer, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keylen, options, (error, key) => { error === null ? resolve(key) : reject(error) })
  })
}

/** Standard base64 as Python's base64.b64encode writes it (padded); null unless it round-trips exactly. */
function strictBase64 (text: string): Buffer | null {
  const bytes = Buffer.from(text, 'base64')
  return bytes.length > 0 && bytes.toString('base64') === text ? bytes : null
}

/** Equal lengths are public (they follow from the algorithm); the contents are compared in constant time. */
function sameBytes (a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b)
}

// Upper bounds on the costs read from a stored hash, so one bad row cannot tie a threadpool thread up for
// minutes. Each is far above what Django has ever written (pbkdf2 1 200 000 in Django 6, bcrypt 12,
// scrypt N=2^14 r=8 p=1).
const MAX_PBKDF2_ITERATIONS = 10_000_000
const MAX_BCRYPT_COST = 17
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024

const PBKDF2 = /^(pbkdf2_sha256|pbkdf2_sha1)\$([1-9][0-9]{0,7})\$([^$]+)\$([A-Za-z0-9+/]+={0,2})$/
const BCRYPT = /^(bcrypt_sha256|bcrypt)\$(\$2[aby]\$([0-9]{2})\$[./A-Za-z0-9]{53})$/
const SCRYPT = /^scrypt\$([1-9][0-9]{0,9})\$([^$]+)\$([1-9][0-9]{0,2})\$([1-9][0-9]{0,2})\$([A-Za-z0-9+/]+={0,2})$/
const DJANGO_ARGON2 = /^argon2(\$argon2(?:id|i|d)\$.+)$/
/** The algorithm names of Django's hashers that this class reads: such a hash is always replaced on login. */
const LEGACY = /^(pbkdf2_sha256|pbkdf2_sha1|argon2|bcrypt_sha256|bcrypt|scrypt)\$/

/** The Django hasher algorithms DjangoPasswordHasher reads. */
export const DJANGO_HASH_ALGORITHMS = ['pbkdf2_sha256', 'pbkdf2_sha1', 'argon2', 'bcrypt_sha256', 'bcrypt', 'scrypt'] as const

/**
 * A PasswordHasher for a user table moved from Django: new hashes come from the wrapped hasher (argon2id by
 * default), and the formats Django stores are verified too, so every user keeps their password:
 *
 * - `pbkdf2_sha256$<iterations>$<salt>$<base64>` and `pbkdf2_sha1$…` (Django's default and its SHA-1 variant)
 * - `argon2$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>` (Django's Argon2PasswordHasher; also its older argon2i)
 * - `bcrypt_sha256$$2b$<cost>$…` (bcrypt over the hex SHA-256 of the password) and `bcrypt$$2b$…`
 * - `scrypt$<n>$<salt>$<r>$<p>$<base64>` (Django 4.0+'s ScryptPasswordHasher)
 * - `!…` (Django's unusable password, set_unusable_password()): never matches
 *
 * Every check is constant-time and runs off the main thread (node:crypto's async pbkdf2 and scrypt, the
 * native `bcrypt` and `argon2` packages). `needsRehash` is true for every one of these, so with
 * `rehashOnLogin` (the default) a user's Django hash becomes argon2id on their next successful login.
 * A wrong password, an unusable or unreadable hash all answer false, after spending about one hash of
 * work (so an unusable password does not answer faster than a wrong one); verify does not throw for any
 * input, except for a bcrypt hash when the optional `bcrypt` package is not installed (a MissingPackageError
 * naming it) or cannot be loaded: the plugin then answers 503 (never a wrong "bad password") and logs why.
 * Django's salted/unsalted MD5 and SHA-1 and crypt hashers (legacy, not among Django 3.2's defaults) are not read.
 */
export class DjangoPasswordHasher implements PasswordHasher {
  /** Writes new hashes and verifies its own. */
  readonly inner: PasswordHasher
  /** Reads Django's argon2 hashes (whatever their parameters) when `inner` is not an Argon2Hasher. */
  readonly #argon2: Argon2Hasher
  #dummy: Promise<string> | undefined

  /** `inner`: the hasher of new passwords, or the argon2id parameters of one (default: OWASP's minimum). */
  constructor (inner: PasswordHasher | Argon2Options = {}) {
    this.inner = isHasher(inner) ? inner : new Argon2Hasher(inner)
    this.#argon2 = this.inner instanceof Argon2Hasher ? this.inner : new Argon2Hasher()
  }

  async hash (password: string): Promise<string> {
    return await this.inner.hash(password)
  }

  async verify (encoded: string, password: string): Promise<boolean> {
    if (typeof encoded !== 'string' || typeof password !== 'string') return false
    try {
      const result = await this.#verifyLegacy(encoded, password)
      if (result !== undefined) return result
      if (encoded === '' || encoded.startsWith('!') || LEGACY.test(encoded)) {
        // Unusable, or a Django format this hash is malformed for: no match, at the cost of one check.
        await this.#spend(password)
        return false
      }
      return await this.inner.verify(encoded, password)
    } catch (error) {
      // Fail closed and say why: the plugin answers 503 and logs this error, which names the package.
      if (error instanceof BcryptUnavailableError || error instanceof MissingPackageError) throw error
      return false
    }
  }

  needsRehash (encoded: string): boolean {
    if (typeof encoded !== 'string' || encoded === '' || encoded.startsWith('!') || LEGACY.test(encoded)) return true
    return this.inner.needsRehash(encoded)
  }

  /** The outcome for a well-formed Django hash; undefined when `encoded` is not one. */
  async #verifyLegacy (encoded: string, password: string): Promise<boolean | undefined> {
    let m = PBKDF2.exec(encoded)
    if (m !== null) {
      const [, algorithm, iterationsText, salt, digestText] = m
      const iterations = Number(iterationsText)
      const expected = strictBase64(digestText)
      const [digest, length] = algorithm === 'pbkdf2_sha256' ? ['sha256', 32] : ['sha1', 20]
      if (iterations > MAX_PBKDF2_ITERATIONS || expected === null || expected.length !== length) return undefined
      const derived = await pbkdf2Async(Buffer.from(password, 'utf8'), Buffer.from(salt, 'utf8'), iterations, length, digest)
      return sameBytes(derived, expected)
    }

    m = BCRYPT.exec(encoded)
    if (m !== null) {
      const [, algorithm, inner, costText] = m
      const cost = Number(costText)
      if (cost < 4 || cost > MAX_BCRYPT_COST) return undefined
      // $2y$ (PHP's name) and $2b$ are the same algorithm; the bcrypt package knows only $2a$ and $2b$.
      const hash = inner.replace(/^\$2y\$/, '$2b$')
      if (algorithm === 'bcrypt_sha256') {
        return await (await bcrypt()).compare(createHash('sha256').update(password, 'utf8').digest('hex'), hash)
      }
      // Python's bcrypt refuses a NUL byte (so Django never matched one); C strings would cut the password there.
      if (password.includes('\0')) {
        await (await bcrypt()).compare('', hash)
        return false
      }
      return await (await bcrypt()).compare(password, hash)
    }

    m = SCRYPT.exec(encoded)
    if (m !== null) {
      const [, nText, salt, rText, pText, digestText] = m
      const [N, r, p] = [Number(nText), Number(rText), Number(pText)]
      const expected = strictBase64(digestText)
      const memory = 128 * N * r * p
      // Django writes 64-byte digests; N must be a power of two above 1.
      if (N < 2 || (N & (N - 1)) !== 0 || memory > MAX_SCRYPT_MEMORY || expected === null || expected.length !== 64) return undefined
      const derived = await scryptAsync(Buffer.from(password, 'utf8'), Buffer.from(salt, 'utf8'), 64, { N, r, p, maxmem: 2 * memory + 1024 * 1024 })
      return sameBytes(derived, expected)
    }

    m = DJANGO_ARGON2.exec(encoded)
    if (m !== null) {
      // Django's wrapper is `argon2` + the PHC string argon2-cffi wrote (parameters in m,t,p order).
      return await this.#argon2.verify(m[1], password)
    }
    return undefined
  }

  /** One verification of a random password's hash, to answer in about the time of a real check. */
  async #spend (password: string): Promise<void> {
    this.#dummy ??= this.inner.hash(randomBytes(16).toString('hex')).catch((error: unknown) => {
      this.#dummy = undefined
      throw error
    })
    await this.inner.verify(await this.#dummy, password)
  }
}

function isHasher (value: PasswordHasher | Argon2Options): value is PasswordHasher {
  const candidate = value as Partial<PasswordHasher>
  return typeof candidate.hash === 'function' && typeof candidate.verify === 'function' && typeof candidate.needsRehash === 'function'
}
