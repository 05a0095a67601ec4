import { randomBytes } from 'node:crypto'
import { ServiceUnavailableError } from './errors.js'
import type { PasswordHasher, User } from './ports.js'

export interface AccountPasswordsDeps {
  hasher: PasswordHasher
  validatePassword: (password: string, user: { username?: string, email?: string }) => Promise<string[]>
}

/** A hasher or validator that fails (argon2 out of memory, a breach service down) is a 503, never a wrong answer. */
function unavailable (cause: unknown): InstanceType<typeof ServiceUnavailableError> {
  return new ServiceUnavailableError('Password checking is unavailable. Try again later.', { cause })
}

/** How AccountService hashes, verifies and validates passwords, failing closed. */
export class AccountPasswords {
  readonly #d: AccountPasswordsDeps
  #dummyHash: Promise<string> | undefined

  constructor (deps: AccountPasswordsDeps) {
    this.#d = deps
  }

  /** The validators' messages, [] when the password is acceptable. */
  async errors (password: string, user: { username?: string, email?: string }): Promise<string[]> {
    try {
      return await this.#d.validatePassword(password, user)
    } catch (error) {
      throw unavailable(error)
    }
  }

  /** Verifies a password; with no user, spends the same hashing time so unknown logins cannot be told apart. */
  async verify (user: User | null, password: string): Promise<boolean> {
    if (user === null || user.password === '') {
      // A random password nobody knows, hashed once; a failed hash is retried on the next login.
      this.#dummyHash ??= this.hash(randomBytes(16).toString('hex')).catch((error: unknown) => {
        this.#dummyHash = undefined
        throw error
      })
      const dummy = await this.#dummyHash
      await this.#hasherCall((hasher) => hasher.verify(dummy, password))
      return false
    }
    const encoded = user.password
    return this.#hasherCall((hasher) => hasher.verify(encoded, password))
  }

  async hash (password: string): Promise<string> {
    return this.#hasherCall((hasher) => hasher.hash(password))
  }

  async #hasherCall<T> (call: (hasher: PasswordHasher) => Promise<T>): Promise<T> {
    try {
      return await call(this.#d.hasher)
    } catch (error) {
      throw unavailable(error)
    }
  }
}
