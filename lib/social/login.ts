import { DuplicateUserError, type User } from '../ports.js'
import {
  SOCIAL_MESSAGES, SocialAccountNotFoundError, SocialAlreadyConnectedError, SocialDisconnectRefusedError, SocialEmailRequiredError,
  SocialEmailTakenError, SocialInactiveError, SocialProviderError, SocialSignupClosedError
} from './errors.js'
import type { RequestContext } from '../request-context.js'
import type { SocialAccount, SocialAccountStore } from './store.js'
import type { SocialProfile } from './types.js'
import { usernameCandidates } from './username.js'

/**
 * Who signs in with a verified social profile: allauth's rules (socialaccount/internal/flows/login.py and
 * the dj-rest-auth serializers on top), free of HTTP. The users side is the {@link SocialUsers} port, which
 * AccountService implements; the social accounts side is the {@link SocialAccountStore} port.
 */

/** What social login needs from the accounts side. */
export interface SocialUsers {
  findUserById (id: number): Promise<User | null>
  /** Case-insensitive, as UserStore.findUserByEmail. */
  findUserByEmail (email: string): Promise<User | null>
  /**
   * Creates the user of a social sign-up with an unusable password: active at once when `emailVerified`,
   * else as the activation setting says (and then mails the activation link); emits `user.created`.
   * Throws DuplicateUserError('username') when the username is taken (in the dialect's letter-case
   * matching) and DuplicateUserError('email') when the email is.
   */
  createSocialUser (data: { username: string, email: string, firstName: string, lastName: string, emailVerified: boolean }, context?: RequestContext | null): Promise<User>
  /** True when the user's local email is known to be verified (say, an account activated by its emailed link). */
  isEmailVerified (user: User): boolean
  /** Django's set_unusable_password(); also ends the user's sessions as a password change does. Returns the updated user. */
  makePasswordUnusable (user: User, context?: RequestContext | null): Promise<User>
  /**
   * The provider verified the user's email: activates an account that was waiting for its activation link
   * (an account disabled on purpose may stay inactive). Returns the updated user.
   */
  markEmailVerified (user: User, context?: RequestContext | null): Promise<User>
}

export interface SocialLoginOptions {
  /** allauth's SOCIALACCOUNT_EMAIL_AUTHENTICATION: a provider-verified email signs in the local user that has it. Default false. */
  emailAuthentication?: boolean
  /** allauth's SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT: that sign-in also links the provider account. Default false. */
  emailAuthenticationAutoConnect?: boolean
  /** allauth's SOCIALACCOUNT_AUTO_SIGNUP: an unknown person gets a new account. Default true. */
  autoSignup?: boolean
}

/** What happened, for audit logs (`login.succeeded` with `method: 'social'`, `social.connected`, `social.disconnected`). */
export interface SocialEvents {
  'login.succeeded': { userId: number, method: 'social', provider: string }
  'social.connected': { userId: number, provider: string, accountId: number }
  'social.disconnected': { userId: number, provider: string, accountId: number }
}
/** `context`: the request behind the event (null outside a request), as AccountsEventEmitter.emit takes it. */
export type SocialEmit = <K extends keyof SocialEvents>(event: K, payload: SocialEvents[K], context: RequestContext | null) => void

export interface SocialLoginDeps {
  users: SocialUsers
  accounts: SocialAccountStore
  options?: SocialLoginOptions
  emit?: SocialEmit
}

export interface SocialLoginResult {
  user: User
  /** The link used or made; null when an email sign-in did not record one (no auto-connect). */
  account: SocialAccount | null
  /** How the user was found: a known link, a verified email, or a new account. */
  via: 'account' | 'email' | 'signup'
}

/** Django's has_usable_password(): '' and `!…` are unusable. */
export function hasUsablePassword (user: Pick<User, 'password'>): boolean {
  return user.password !== '' && !user.password.startsWith('!')
}

function inactive (user: User): Error {
  return Object.assign(new SocialInactiveError(SOCIAL_MESSAGES.inactive), { userId: user.id })
}

export class SocialLoginService {
  readonly #users: SocialUsers
  readonly #accounts: SocialAccountStore
  readonly #o: Required<SocialLoginOptions>
  readonly #emit: SocialEmit

  constructor (deps: SocialLoginDeps) {
    this.#users = deps.users
    this.#accounts = deps.accounts
    this.#o = { emailAuthentication: false, emailAuthenticationAutoConnect: false, autoSignup: true, ...deps.options }
    this.#emit = deps.emit ?? (() => {})
  }

  /**
   * Signs in with a verified profile:
   * 1. a known (provider, uid) signs in its user;
   * 2. else, with `emailAuthentication`, a provider-verified email signs in the local user with that email
   *    (whose password is made unusable first when its own email was never verified: account pre-hijacking);
   *    `emailAuthenticationAutoConnect` records the link;
   * 3. else, with `autoSignup`, a new user (an email another account has: SocialEmailTakenError).
   * An inactive user is refused (SocialInactiveError, with `userId`), after any account was created and linked.
   */
  async login (profile: SocialProfile, context: RequestContext | null = null): Promise<SocialLoginResult> {
    const known = await this.#accounts.findSocialAccount(profile.provider, profile.uid)
    if (known !== null) {
      const user = await this.#users.findUserById(known.userId)
      if (user !== null) {
        if (!user.isActive) throw inactive(user)
        const account = await this.#link(profile, user.id)
        return this.#signedIn({ user, account, via: 'account' }, profile, context)
      }
      // A link whose user is gone (a store without cascading deletes): forget it.
      await this.#accounts.deleteSocialAccount(known.id, known.userId)
    }

    if (this.#o.emailAuthentication && profile.emailVerified && profile.email !== '') {
      let user = await this.#users.findUserByEmail(profile.email)
      if (user !== null) {
        if (!this.#users.isEmailVerified(user)) {
          // Someone may have signed up with this email without owning it: their password must not survive
          // the owner's sign-in (allauth's wipe_password).
          if (hasUsablePassword(user)) user = await this.#users.makePasswordUnusable(user, context)
          user = await this.#users.markEmailVerified(user, context)
        }
        if (!user.isActive) throw inactive(user)
        const account = this.#o.emailAuthenticationAutoConnect ? await this.#link(profile, user.id) : null
        if (account !== null) this.#emit('social.connected', { userId: user.id, provider: profile.provider, accountId: account.id }, context)
        return this.#signedIn({ user, account, via: 'email' }, profile, context)
      }
    }

    if (!this.#o.autoSignup) throw new SocialSignupClosedError(SOCIAL_MESSAGES.signupClosed)
    if (profile.email === '') throw new SocialEmailRequiredError(SOCIAL_MESSAGES.emailRequired)
    if (await this.#users.findUserByEmail(profile.email) !== null) throw new SocialEmailTakenError(SOCIAL_MESSAGES.emailTaken)
    const user = await this.#createUser(profile, context)
    const account = await this.#link(profile, user.id)
    this.#emit('social.connected', { userId: user.id, provider: profile.provider, accountId: account.id }, context)
    if (!user.isActive) throw inactive(user)
    return this.#signedIn({ user, account, via: 'signup' }, profile, context)
  }

  /** Links the profile to a signed-in user (dj-rest-auth's connect views); an account linked to someone else is refused. */
  async connect (userId: number, profile: SocialProfile, context: RequestContext | null = null): Promise<SocialAccount> {
    const existing = await this.#accounts.findSocialAccount(profile.provider, profile.uid)
    if (existing !== null && existing.userId !== userId) throw new SocialAlreadyConnectedError(SOCIAL_MESSAGES.alreadyConnected)
    const account = await this.#link(profile, userId)
    if (existing === null) this.#emit('social.connected', { userId, provider: profile.provider, accountId: account.id }, context)
    return account
  }

  /** dj-rest-auth's SocialAccountListView. */
  async list (userId: number): Promise<SocialAccount[]> {
    return await this.#accounts.listSocialAccounts(userId)
  }

  /**
   * dj-rest-auth's SocialAccountDisconnectView: 404 unless the account is the caller's; refused when it is
   * the last way in of a user without a usable password (allauth's validate_disconnect).
   */
  async disconnect (userId: number, accountId: number, context: RequestContext | null = null): Promise<void> {
    const account = await this.#accounts.findSocialAccountById(accountId)
    if (account === null || account.userId !== userId) throw new SocialAccountNotFoundError(SOCIAL_MESSAGES.accountNotFound)
    const user = await this.#users.findUserById(userId)
    if (user === null) throw new SocialAccountNotFoundError(SOCIAL_MESSAGES.accountNotFound)
    if (!hasUsablePassword(user)) {
      const accounts = await this.#accounts.listSocialAccounts(userId)
      if (accounts.filter((a) => a.id !== accountId).length === 0) throw new SocialDisconnectRefusedError(SOCIAL_MESSAGES.noPassword)
    }
    if (!await this.#accounts.deleteSocialAccount(accountId, userId)) throw new SocialAccountNotFoundError(SOCIAL_MESSAGES.accountNotFound)
    this.#emit('social.disconnected', { userId, provider: account.provider, accountId }, context)
  }

  /** Upserts the link; a link that turns out to be someone else's (a race) is refused. */
  async #link (profile: SocialProfile, userId: number): Promise<SocialAccount> {
    const account = await this.#accounts.upsertSocialAccount({ provider: profile.provider, uid: profile.uid, userId, extraData: profile.extra })
    if (account.userId !== userId) throw new SocialAlreadyConnectedError(SOCIAL_MESSAGES.alreadyConnected)
    return account
  }

  async #createUser (profile: SocialProfile, context: RequestContext | null): Promise<User> {
    for (const username of usernameCandidates(profile)) {
      try {
        return await this.#users.createSocialUser({
          username, email: profile.email, firstName: profile.firstName ?? '', lastName: profile.lastName ?? '', emailVerified: profile.emailVerified
        }, context)
      } catch (error) {
        if (!(error instanceof DuplicateUserError)) throw error
        if (error.field === 'email') throw new SocialEmailTakenError(SOCIAL_MESSAGES.emailTaken)
      }
    }
    throw new SocialProviderError(`${profile.provider}: no free username could be made for this account`)
  }

  #signedIn (result: SocialLoginResult, profile: SocialProfile, context: RequestContext | null): SocialLoginResult {
    this.#emit('login.succeeded', { userId: result.user.id, method: 'social', provider: profile.provider }, context)
    return result
  }
}
