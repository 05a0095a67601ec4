import { fieldError, fieldErrors, NotFoundError, type FieldErrors } from './errors.js'
import type { AccountsEventEmitter, WrongCurrentAction } from './events.js'
import type { AccountFields } from './account-fields.js'
import type { AccountMails } from './account-mail.js'
import type { AccountPasswords } from './account-passwords.js'
import { MESSAGES, normalizeEmail, normalizeUsername } from './account-rules.js'
import { decodeUid, type LinkPurpose, type OneTimeLinks } from './one-time-links.js'
import type { ResolvedOptions } from './options.js'
import type { AccountUser, User, UserPatch, UserStore } from './ports.js'
import { contextOf, type Caller } from './request-context.js'
import type { RequestAuth, RevokeReason, TokenService } from './tokens.js'

export interface AccountCredentialsDeps {
  users: UserStore
  tokens: TokenService
  links: OneTimeLinks
  events: AccountsEventEmitter
  options: ResolvedOptions
  passwords: AccountPasswords
  mails: AccountMails
  fields: AccountFields
}

/**
 * How AccountService checks and changes what a user signs in with: the current-password check the sensitive
 * changes ask for, and the password and login-field changes, by the signed-in user or through a mailed link.
 * Their contracts are documented on AccountService's methods of the same names.
 */
export class AccountCredentials {
  readonly #d: AccountCredentialsDeps

  constructor (deps: AccountCredentialsDeps) {
    this.#d = deps
  }

  /**
   * Whether `password` is the user's current one; a wrong one emits `password.wrongCurrent` (the route counts it
   * against the account's failure budget).
   */
  async isCurrentPassword (user: User, password: string, action: WrongCurrentAction, caller?: Caller): Promise<boolean> {
    if (await this.#d.passwords.verify(user, password)) return true
    this.#d.events.emit('password.wrongCurrent', { userId: user.id, action }, contextOf(caller))
    return false
  }

  async requireCurrentPassword (user: User, password: string, action: WrongCurrentAction, caller?: Caller): Promise<void> {
    if (!(await this.isCurrentPassword(user, password, action, caller))) throw fieldError('current_password', MESSAGES.invalidPassword)
  }

  /** The user a uid + token pair names, or the 400 djoser gives ({uid} first, then {token}). */
  async #userFromLink (purpose: LinkPurpose, uid: string, token: string): Promise<User> {
    const id = decodeUid(uid)
    const user = id === null ? null : await this.#d.users.findUserById(id)
    if (user === null) throw fieldError('uid', MESSAGES.invalidUid)
    if (!this.#d.links.check(purpose, user, token)) throw fieldError('token', MESSAGES.invalidToken)
    return user
  }

  // ---- passwords ------------------------------------------------------------------------------------

  /**
   * The patch that ends the user's sessions with a new password: a cut-off now (taken after the new hash was
   * computed, right before the write) sparing `kept`. Written with the password in one statement, so no
   * authenticator ever sees the new password with the old sessions. Empty when `revokeTokensOnPasswordChange` is off.
   */
  #sessionsCutoff (kept: string | null): UserPatch {
    return this.#d.options.revokeTokensOnPasswordChange ? { sessionsValidAfter: new Date(Date.now()), keptSession: kept } : {}
  }

  async #afterPasswordChange (user: User, reason: Extract<RevokeReason, 'password-change' | 'password-reset'>, caller?: Caller): Promise<void> {
    const context = contextOf(caller) ?? undefined
    if (this.#d.options.revokeTokensOnPasswordChange) await this.#d.tokens.endSessions(user.id, reason, user.keptSession ?? null, context)
    else if (this.#d.options.logoutOnPasswordChange) await this.#d.tokens.deleteUserAuthTokens(user.id, 'password-change', context)
    if (this.#d.options.passwordChangedEmailConfirmation) await this.#d.mails.send('passwordChanged', user)
  }

  async setPassword (
    current: AccountUser, input: { newPassword: string, currentPassword?: string, reNewPassword?: string }, session: RequestAuth | null | undefined,
    options: { retype?: boolean }, caller?: Caller
  ): Promise<void> {
    const retype = options.retype ?? this.#d.options.setPasswordRetype
    const user = await this.#d.users.findUserById(current.id)
    if (user === null) throw new NotFoundError(MESSAGES.notFound)
    if (input.currentPassword !== undefined) await this.requireCurrentPassword(user, input.currentPassword, 'set-password', caller)
    const errors = await this.#d.passwords.errors(input.newPassword, user)
    if (errors.length > 0) throw fieldErrors({ new_password: errors })
    if (retype && input.newPassword !== input.reNewPassword) {
      throw fieldError('non_field_errors', MESSAGES.passwordMismatch)
    }
    const password = await this.#d.passwords.hash(input.newPassword)
    const kept = this.#d.options.logoutOnPasswordChange ? null : this.#d.tokens.sessionIdOf(session)
    const updated = await this.#d.users.updateUser(user.id, { password, ...this.#sessionsCutoff(kept) }, { password: user.password })
    if (updated === null) throw fieldError('current_password', MESSAGES.invalidPassword)
    this.#d.events.emit('password.changed', { userId: updated.id }, contextOf(caller))
    await this.#afterPasswordChange(updated, 'password-change', caller)
  }

  async requestPasswordReset (email: string, caller?: Caller): Promise<boolean> {
    this.#d.fields.requireValidEmail(email)
    const user = await this.#d.users.findUserByEmail(email)
    if (user === null || !user.isActive || user.password === '') {
      if (this.#d.options.passwordResetShowEmailNotFound) throw fieldError('email', MESSAGES.emailNotFound)
      return false
    }
    this.#d.mails.inBackground('passwordReset', user, this.#d.mails.link('password-reset', this.#d.options.passwordResetConfirmUrl, user), caller?.log)
    return true
  }

  async confirmPasswordReset (input: { uid: string, token: string, newPassword: string, reNewPassword?: string }, retype: boolean, caller?: Caller): Promise<void> {
    const user = await this.#userFromLink('password-reset', input.uid, input.token)
    const errors = await this.#d.passwords.errors(input.newPassword, user)
    if (errors.length > 0) throw fieldErrors({ new_password: errors })
    if (retype && input.newPassword !== input.reNewPassword) {
      throw fieldError('non_field_errors', MESSAGES.passwordMismatch)
    }
    const password = await this.#d.passwords.hash(input.newPassword)
    const updated = await this.#d.users.updateUser(user.id, { password, lastLogin: new Date(), ...this.#sessionsCutoff(null) }, { password: user.password })
    if (updated === null) throw fieldError('token', MESSAGES.invalidToken)
    this.#d.events.emit('password.reset', { userId: updated.id }, contextOf(caller))
    await this.#afterPasswordChange(updated, 'password-reset', caller)
  }

  // ---- login field ----------------------------------------------------------------------------------

  async setUsername (current: AccountUser, input: { newValue: string, currentPassword: string, reNewValue?: string }, caller?: Caller): Promise<void> {
    const user = await this.#d.users.findUserById(current.id)
    if (user === null) throw new NotFoundError(MESSAGES.notFound)
    // DRF validates both fields before either fails: a wrong password and a taken name are both reported.
    const errors: FieldErrors = await this.isCurrentPassword(user, input.currentPassword, 'set-username', caller) ? {} : { current_password: [MESSAGES.invalidPassword] }
    await this.#changeLoginField(user, input.newValue, this.#d.options.setUsernameRetype, input.reNewValue, errors, caller)
  }

  async #changeLoginField (
    user: User, rawValue: string, retype: boolean, retyped: string | undefined, errors: FieldErrors = {}, caller?: Caller
  ): Promise<void> {
    const field = this.#d.options.loginField
    const wireField = `new_${field}`
    const value = field === 'email' ? normalizeEmail(rawValue) : normalizeUsername(rawValue)
    const valueErrors = this.#d.fields.checkField(field, value)
    if (valueErrors.length === 0 && await this.#d.fields.isTaken(field, value, user.id)) valueErrors.push(this.#d.fields.takenMessage(field))
    if (valueErrors.length > 0) errors[wireField] = valueErrors
    this.#d.fields.throwIfAny(errors)
    if (retype && rawValue !== retyped) throw fieldError('non_field_errors', MESSAGES.usernameMismatch.replace('{field}', field))
    let updated: User | null
    try {
      updated = await this.#d.users.updateUser(user.id, { [field]: value }, { [field]: user[field], password: user.password })
    } catch (error) {
      this.#d.fields.duplicate(error, () => wireField)
    }
    if (updated === null) throw fieldError('token', MESSAGES.invalidToken)
    this.#d.events.emit('username.changed', { userId: updated.id, field }, contextOf(caller))
    if (field === 'email' && updated.email.toLowerCase() !== user.email.toLowerCase()) this.#d.mails.noticeEmailChange(user.email, updated, caller?.log)
    if (this.#d.options.usernameChangedEmailConfirmation) await this.#d.mails.send('usernameChanged', updated)
  }

  async requestUsernameReset (email: string, caller?: Caller): Promise<boolean> {
    this.#d.fields.requireValidEmail(email)
    const user = await this.#d.users.findUserByEmail(email)
    if (user === null || !user.isActive) {
      if (this.#d.options.usernameResetShowEmailNotFound) throw fieldError('email', MESSAGES.emailNotFound)
      return false
    }
    this.#d.mails.inBackground('usernameReset', user, this.#d.mails.link('username-reset', this.#d.options.usernameResetConfirmUrl, user), caller?.log)
    return true
  }

  async confirmUsernameReset (input: { uid: string, token: string, newValue: string, reNewValue?: string }, caller?: Caller): Promise<void> {
    const user = await this.#userFromLink('username-reset', input.uid, input.token)
    await this.#changeLoginField(user, input.newValue, this.#d.options.usernameResetConfirmRetype, input.reNewValue, {}, caller)
  }
}
