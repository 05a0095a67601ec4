import type { AuthenticatorType, MfaAuthenticator, MfaStore } from './store.js'

const copy = (a: MfaAuthenticator): MfaAuthenticator => ({
  ...a, createdAt: new Date(a.createdAt.getTime()), lastUsedAt: a.lastUsedAt === null ? null : new Date(a.lastUsedAt.getTime())
})
const key = (userId: number, type: AuthenticatorType): string => `${userId}:${type}`

/** Process-local MFA records, for tests and single-process development. Atomic: nothing awaits between check and write. */
export class MemoryMfaStore implements MfaStore {
  readonly #authenticators = new Map<string, MfaAuthenticator>()
  /** user id -> code hash -> used */
  readonly #codes = new Map<number, Map<string, boolean>>()
  readonly #ephemeral = new Map<string, { userId: number, expiresAt: number }>()

  async saveAuthenticator (data: { userId: number, type: AuthenticatorType, encryptedSecret: string, active: boolean, createdAt?: Date }): Promise<MfaAuthenticator> {
    const record: MfaAuthenticator = {
      userId: data.userId,
      type: data.type,
      encryptedSecret: data.encryptedSecret,
      active: data.active,
      lastUsedStep: null,
      createdAt: new Date((data.createdAt ?? new Date()).getTime()),
      lastUsedAt: null
    }
    this.#authenticators.set(key(data.userId, data.type), record)
    return copy(record)
  }

  async findAuthenticator (userId: number, type: AuthenticatorType): Promise<MfaAuthenticator | null> {
    const found = this.#authenticators.get(key(userId, type))
    return found === undefined ? null : copy(found)
  }

  async listActiveAuthenticators (userId: number): Promise<MfaAuthenticator[]> {
    return [...this.#authenticators.values()]
      .filter((a) => a.userId === userId && a.active)
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())
      .map(copy)
  }

  async claimStep (userId: number, type: AuthenticatorType, step: number, at: Date): Promise<boolean> {
    const found = this.#authenticators.get(key(userId, type))
    if (found === undefined || !found.active || (found.lastUsedStep !== null && step <= found.lastUsedStep)) return false
    found.lastUsedStep = step
    found.lastUsedAt = new Date(at.getTime())
    return true
  }

  async deleteAuthenticator (userId: number, type: AuthenticatorType): Promise<boolean> {
    return this.#authenticators.delete(key(userId, type))
  }

  async replaceRecoveryCodes (userId: number, hashes: string[]): Promise<void> {
    this.#codes.set(userId, new Map(hashes.map((hash) => [hash, false])))
  }

  async useRecoveryCode (userId: number, hash: string, at: Date): Promise<boolean> {
    const codes = this.#codes.get(userId)
    if (codes?.get(hash) !== false) return false
    codes.set(hash, true)
    for (const a of this.#authenticators.values()) if (a.userId === userId && a.active) a.lastUsedAt = new Date(at.getTime())
    return true
  }

  async countRecoveryCodes (userId: number): Promise<number> {
    return [...(this.#codes.get(userId)?.values() ?? [])].filter((used) => !used).length
  }

  async deleteRecoveryCodes (userId: number): Promise<void> {
    this.#codes.delete(userId)
  }

  async saveEphemeralToken (hash: string, userId: number, expiresAt: Date): Promise<void> {
    this.#ephemeral.set(hash, { userId, expiresAt: expiresAt.getTime() })
  }

  async findEphemeralToken (hash: string, now: Date): Promise<number | null> {
    const found = this.#ephemeral.get(hash)
    return found === undefined || found.expiresAt <= now.getTime() ? null : found.userId
  }

  async consumeEphemeralToken (hash: string, now: Date): Promise<number | null> {
    const found = this.#ephemeral.get(hash)
    if (found === undefined) return null
    this.#ephemeral.delete(hash)
    return found.expiresAt <= now.getTime() ? null : found.userId
  }

  async purgeExpiredEphemeralTokens (now: Date): Promise<number> {
    let count = 0
    for (const [hash, token] of this.#ephemeral) {
      if (token.expiresAt <= now.getTime()) {
        this.#ephemeral.delete(hash)
        count++
      }
    }
    return count
  }

  async deleteUserMfa (userId: number): Promise<void> {
    for (const [k, a] of this.#authenticators) if (a.userId === userId) this.#authenticators.delete(k)
    this.#codes.delete(userId)
    for (const [hash, token] of this.#ephemeral) if (token.userId === userId) this.#ephemeral.delete(hash)
  }
}
