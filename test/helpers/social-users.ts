import type { NewUser, User } from '../../lib/ports.js'
import type { SocialUsers } from '../../lib/social/login.js'
import { MemoryUserStore } from '../../lib/stores/memory.js'

/**
 * The SocialUsers port over the real MemoryUserStore, as AccountService is to implement it: a social
 * sign-up gets an unusable password ('') and is active when the provider verified the email, else as the
 * activation setting says; with activation on, an active user proved their email by the mailed link.
 */
export class StoreSocialUsers implements SocialUsers {
  readonly store = new MemoryUserStore()
  /** Users an administrator disabled: a verified email does not reopen them. */
  readonly disabled = new Set<number>()
  /** Activation links that would have been mailed (user ids). */
  readonly activationMails: number[] = []
  readonly activation: boolean

  constructor (options: { activation: boolean }) {
    this.activation = options.activation
  }

  async findUserById (id: number): Promise<User | null> { return await this.store.findUserById(id) }
  async findUserByEmail (email: string): Promise<User | null> { return await this.store.findUserByEmail(email) }

  async createSocialUser (data: { username: string, email: string, firstName: string, lastName: string, emailVerified: boolean }): Promise<User> {
    const user = await this.store.createUser({
      username: data.username, email: data.email, firstName: data.firstName, lastName: data.lastName, password: '', isActive: data.emailVerified || !this.activation
    })
    if (!user.isActive) this.activationMails.push(user.id)
    return user
  }

  isEmailVerified (user: User): boolean {
    return this.activation && user.isActive
  }

  async makePasswordUnusable (user: User): Promise<User> {
    return await this.store.updateUser(user.id, { password: '' }) ?? user
  }

  async markEmailVerified (user: User): Promise<User> {
    if (user.isActive || this.disabled.has(user.id)) return user
    return await this.store.updateUser(user.id, { isActive: true }) ?? user
  }

  /** A local account made by registration (a usable password). */
  async register (username: string, extra: Partial<NewUser> = {}): Promise<User> {
    return await this.store.createUser({ username, email: `${username}@example.com`, password: 'argon2$usable-hash', isActive: true, ...extra })
  }
}
