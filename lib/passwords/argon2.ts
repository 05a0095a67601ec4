import { randomBytes } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { promisify } from 'node:util'
import type { PasswordHasher } from '../ports.js'

type Argon2 = typeof import('argon2')
let argon2Module: Promise<Argon2> | undefined
/** The native binding loads with the first hash or verify, not with the package: an app's start stays fast. */
async function loadArgon2 (): Promise<Argon2> {
  argon2Module ??= import('argon2')
  return await argon2Module
}

export interface Argon2Options {
  /** KiB of memory per hash. */
  memoryCost?: number
  timeCost?: number
  parallelism?: number
}

/** OWASP's minimum recommended argon2id configuration. */
export const ARGON2_DEFAULTS = Object.freeze({ memoryCost: 19456, timeCost: 2, parallelism: 1 })

const ARGON2_VERSION = 0x13
const SALT_BYTES = 16
const HASH_BYTES = 32
const randomBytesAsync = promisify(randomBytes)

interface Argon2Params { id: string, version: number, m: number, t: number, p: number }

/**
 * Reads the algorithm and cost parameters of a PHC-format argon2 string, in any parameter order;
 * null when unreadable. Salt and digest must reach argon2's minimums (8 and 4 bytes, in unpadded base64).
 */
function parseArgon2 (encoded: string): Argon2Params | null {
  const match = /^\$(argon2(?:id|i|d))\$(?:v=(\d+)\$)?([^$]+)\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{6,}$/.exec(encoded)
  if (match === null) return null
  const params = new Map(match[3].split(',').map(pair => pair.split('=') as [string, string]))
  const [m, t, p] = ['m', 't', 'p'].map(key => /^\d+$/.test(params.get(key) ?? '') ? Number(params.get(key)) : NaN)
  if (Number.isNaN(m) || Number.isNaN(t) || Number.isNaN(p)) return null
  // No version field means Argon2 1.0 (0x10), as written by early implementations.
  return { id: match[1], version: match[2] === undefined ? 0x10 : Number(match[2]), m, t, p }
}

/** PHC strings use unpadded standard base64. */
function b64 (bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '')
}

/**
 * At most `size` jobs at once. libuv runs 4 threads; more argon2 jobs than cores only share the cores
 * and make every login slower (measured in bench/), so the rest wait their turn.
 */
class Slots {
  #free: number
  readonly #waiting: Array<() => void> = []

  constructor (size: number) {
    this.#free = size
  }

  async run<T> (job: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--
    else await new Promise<void>((resolve) => this.#waiting.push(resolve))
    try {
      return await job()
    } finally {
      const next = this.#waiting.shift()
      if (next === undefined) this.#free++
      else next()
    }
  }
}

export class Argon2Hasher implements PasswordHasher {
  readonly memoryCost: number
  readonly timeCost: number
  readonly parallelism: number
  readonly #slots = new Slots(availableParallelism())

  constructor (options: Argon2Options = {}) {
    const { memoryCost, timeCost, parallelism } = { ...ARGON2_DEFAULTS, ...options }
    // Fail at startup rather than on the first signup.
    if (!Number.isInteger(parallelism) || parallelism < 1) throw new RangeError('argon2 parallelism must be an integer >= 1')
    if (!Number.isInteger(timeCost) || timeCost < 1) throw new RangeError('argon2 timeCost must be an integer >= 1')
    if (!Number.isInteger(memoryCost) || memoryCost < 8 * parallelism) throw new RangeError('argon2 memoryCost must be an integer >= 8 * parallelism')
    this.memoryCost = memoryCost
    this.timeCost = timeCost
    this.parallelism = parallelism
  }

  async hash (password: string): Promise<string> {
    const salt = await randomBytesAsync(SALT_BYTES)
    const argon2 = await loadArgon2()
    const digest = await this.#slots.run(async () => await argon2.hash(password, {
      type: argon2.argon2id,
      version: ARGON2_VERSION,
      memoryCost: this.memoryCost,
      timeCost: this.timeCost,
      parallelism: this.parallelism,
      hashLength: HASH_BYTES,
      salt,
      raw: true
    }))
    // Serialized here because node-argon2 0.45 writes `m=,p=,t=`, which the reference C library
    // (hence argon2-cffi, i.e. Django, and PHP) refuses: the PHC spec fixes the order m,t,p.
    const params = `m=${this.memoryCost},t=${this.timeCost},p=${this.parallelism}`
    return `$argon2id$v=${ARGON2_VERSION}$${params}$${b64(salt)}$${b64(digest)}`
  }

  async verify (encoded: string, password: string): Promise<boolean> {
    if (parseArgon2(encoded) === null) return false
    // Outside the try: a binding that cannot load is a hasher failure (503), not a wrong password.
    const argon2 = await loadArgon2()
    try {
      return await this.#slots.run(async () => await argon2.verify(encoded, password))
    } catch {
      // A readable-looking but broken hash (bad salt length, absurd costs…) is just a failed login.
      return false
    }
  }

  needsRehash (encoded: string): boolean {
    const params = parseArgon2(encoded)
    if (params === null || params.id !== 'argon2id' || params.version !== ARGON2_VERSION) return true
    // argon2.needsRehash is not used: it flags any difference (so it would downgrade stronger hashes) and throws on bad input.
    return params.m < this.memoryCost || params.t < this.timeCost || params.p < this.parallelism
  }
}

