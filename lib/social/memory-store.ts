import type { NewSocialAccount, SocialAccount, SocialAccountStore } from './store.js'

const copy = (a: SocialAccount): SocialAccount => ({
  ...a, extraData: structuredClone(a.extraData), lastLogin: new Date(a.lastLogin.getTime()), dateJoined: new Date(a.dateJoined.getTime())
})
const key = (provider: string, uid: string): string => JSON.stringify([provider, uid])

/** Process-local social accounts, for tests and single-process development. Atomic: nothing awaits between check and write. */
export class MemorySocialAccountStore implements SocialAccountStore {
  #nextId = 1
  readonly #byId = new Map<number, SocialAccount>()
  readonly #idByKey = new Map<string, number>()

  async upsertSocialAccount (data: NewSocialAccount): Promise<SocialAccount> {
    const existingId = this.#idByKey.get(key(data.provider, data.uid))
    if (existingId !== undefined) {
      const existing = this.#byId.get(existingId) as SocialAccount
      if (existing.userId !== data.userId) return copy(existing)
      if (data.extraData !== undefined) existing.extraData = structuredClone(data.extraData)
      existing.lastLogin = data.lastLogin === undefined ? new Date() : new Date(data.lastLogin.getTime())
      return copy(existing)
    }
    if (data.id !== undefined && this.#byId.has(data.id)) throw new Error(`a social account with id ${data.id} already exists`)
    const id = data.id ?? this.#nextId
    this.#nextId = Math.max(this.#nextId, id + 1)
    const now = new Date()
    const account: SocialAccount = {
      id,
      provider: data.provider,
      uid: data.uid,
      userId: data.userId,
      extraData: structuredClone(data.extraData ?? {}),
      lastLogin: data.lastLogin === undefined ? now : new Date(data.lastLogin.getTime()),
      dateJoined: data.dateJoined === undefined ? now : new Date(data.dateJoined.getTime())
    }
    this.#byId.set(id, account)
    this.#idByKey.set(key(account.provider, account.uid), id)
    return copy(account)
  }

  async findSocialAccount (provider: string, uid: string): Promise<SocialAccount | null> {
    const id = this.#idByKey.get(key(provider, uid))
    return id === undefined ? null : copy(this.#byId.get(id) as SocialAccount)
  }

  async findSocialAccountById (id: number): Promise<SocialAccount | null> {
    const account = this.#byId.get(id)
    return account === undefined ? null : copy(account)
  }

  async listSocialAccounts (userId: number): Promise<SocialAccount[]> {
    return [...this.#byId.values()].filter((a) => a.userId === userId).sort((a, b) => a.id - b.id).map(copy)
  }

  async deleteSocialAccount (id: number, userId: number): Promise<boolean> {
    const account = this.#byId.get(id)
    if (account === undefined || account.userId !== userId) return false
    this.#byId.delete(id)
    this.#idByKey.delete(key(account.provider, account.uid))
    return true
  }

  async deleteUserSocialAccounts (userId: number): Promise<number> {
    let count = 0
    for (const account of [...this.#byId.values()]) {
      if (account.userId === userId && await this.deleteSocialAccount(account.id, userId)) count++
    }
    return count
  }
}
