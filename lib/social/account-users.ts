import type { FastifyBaseLogger } from 'fastify'
import type { AccountService } from '../accounts.js'
import type { AccountsEventEmitter } from '../events.js'
import type { ResolvedOptions } from '../options.js'
import { DuplicateUserError, type User, type UserStore } from '../ports.js'
import type { RequestContext } from '../request-context.js'
import type { TokenService } from '../tokens.js'
import type { SocialUsers } from './login.js'

/**
 * The SocialUsers port over the core: the user store for reads and writes, AccountService for the activation
 * mail, TokenService to end the sessions of a password made unusable. What the core has no column for is
 * read from what it has:
 * - an email is verified when activation is on and the account is active (it followed the mailed link, or a
 *   provider vouched for it); with activation off nothing proves an address, so none is;
 * - an inactive account that never logged in is waiting for its activation link (a provider-verified email
 *   opens it, as allauth's verified EmailAddress would); one that logged in before was disabled on purpose
 *   and stays closed.
 */
export interface AccountSocialUsersDeps {
  users: UserStore
  accounts: Pick<AccountService, 'resendActivation'>
  tokens: Pick<TokenService, 'endSessions'>
  events: AccountsEventEmitter
  options: Pick<ResolvedOptions, 'sendActivationEmail' | 'dialect' | 'revokeTokensOnPasswordChange'>
  log: FastifyBaseLogger
}

export class AccountSocialUsers implements SocialUsers {
  readonly #d: AccountSocialUsersDeps

  constructor (deps: AccountSocialUsersDeps) {
    this.#d = deps
  }

  async findUserById (id: number): Promise<User | null> {
    return await this.#d.users.findUserById(id)
  }

  async findUserByEmail (email: string): Promise<User | null> {
    return await this.#d.users.findUserByEmail(email)
  }

  async createSocialUser (
    data: { username: string, email: string, firstName: string, lastName: string, emailVerified: boolean }, context: RequestContext | null = null
  ): Promise<User> {
    const { users, options } = this.#d
    // allauth's usernames (the dj-rest-auth dialect) are taken in any letter case; Django's (djoser) exactly.
    if (options.dialect === 'dj-rest-auth' && (await users.findUsersByUsernameIgnoringCase(data.username)).length > 0) {
      throw new DuplicateUserError('username')
    }
    const user = await users.createUser({
      username: data.username,
      email: data.email,
      firstName: data.firstName.slice(0, 150),
      lastName: data.lastName.slice(0, 150),
      // Django's set_unusable_password(): no password login, no password reset, until the user sets one.
      password: '',
      isActive: data.emailVerified || !options.sendActivationEmail
    })
    this.#d.events.emit('user.created', { userId: user.id }, context)
    if (!user.isActive) {
      // The address is unproven: the usual activation link goes out (in the background, as a resend does).
      try {
        await this.#d.accounts.resendActivation(user.email)
      } catch (error) {
        this.#d.log.warn({ err: error, userId: user.id }, 'fastify-accounts: the activation mail of a social sign-up could not be sent')
      }
    }
    return user
  }

  isEmailVerified (user: User): boolean {
    return this.#d.options.sendActivationEmail && user.isActive
  }

  /** Ends every session of the user, as a password reset does: whoever set the old password is out. */
  async makePasswordUnusable (user: User, context: RequestContext | null = null): Promise<User> {
    const cutoff = this.#d.options.revokeTokensOnPasswordChange ? { sessionsValidAfter: new Date(), keptSession: null } : {}
    const updated = await this.#d.users.updateUser(user.id, { password: '', ...cutoff }, { password: user.password })
    // Changed meanwhile (a password change won the race): read it again, and make that one unusable too.
    if (updated === null) {
      const fresh = await this.#d.users.findUserById(user.id)
      if (fresh === null) return user
      return fresh.password === '' ? fresh : await this.makePasswordUnusable(fresh, context)
    }
    // `token.revoked` (reason password-reset) says it in the audit log.
    await this.#d.tokens.endSessions(user.id, 'password-reset', null, context ?? undefined)
    return updated
  }

  async markEmailVerified (user: User, context: RequestContext | null = null): Promise<User> {
    if (user.isActive || !this.#d.options.sendActivationEmail || user.lastLogin !== null) return user
    const updated = await this.#d.users.updateUser(user.id, { isActive: true }, { isActive: false })
    if (updated === null) return await this.#d.users.findUserById(user.id) ?? user
    this.#d.events.emit('user.activated', { userId: user.id }, context)
    return updated
  }
}
