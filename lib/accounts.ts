import type { FastifyBaseLogger } from 'fastify'
import { fieldError, fieldErrors, InvalidCredentialsError, NotFoundError, PermissionDeniedError, type FieldErrors } from './errors.js'
import type { AccountsEventEmitter } from './events.js'
import { AccountCredentials } from './account-credentials.js'
import { AccountFields } from './account-fields.js'
import { AccountMails } from './account-mail.js'
import { AccountPasswords } from './account-passwords.js'
import { MESSAGES, normalizeEmail, normalizeUsername, WIRE_NAMES, type ProfileChanges, type ProfileUpdateContext, type RegistrationRules, type UsernameMatching } from './account-rules.js'
import { decodeUid, type OneTimeLinks } from './one-time-links.js'
import type { LoginField, ResolvedOptions } from './options.js'
import { type AccountUser, type Mailer, type PasswordHasher, type User, type UserPatch, type UserStore } from './ports.js'
import { contextOf, type Caller } from './request-context.js'
import type { RequestAuth, TokenService } from './tokens.js'

export { normalizeEmail, normalizeUsername, type ProfileChanges, type ProfileUpdateContext, type RegistrationRules, type UsernameMatching } from './account-rules.js'

export interface AccountServiceDeps {
  users: UserStore
  tokens: TokenService
  hasher: PasswordHasher
  validatePassword: (password: string, user: { username?: string, email?: string }) => Promise<string[]>
  links: OneTimeLinks
  mailer: Mailer
  events: AccountsEventEmitter
  log: FastifyBaseLogger
  options: ResolvedOptions
}

/**
 * The account use cases of djoser's UserViewSet and TokenCreateView, free of HTTP: dialects map their
 * wire shapes onto these calls and the errors these throw onto their wire shapes.
 */
export class AccountService {
  readonly #d: AccountServiceDeps
  readonly #passwords: AccountPasswords
  readonly #mails: AccountMails
  readonly #fields: AccountFields
  readonly #credentials: AccountCredentials

  constructor (deps: AccountServiceDeps) {
    this.#d = deps
    this.#mails = new AccountMails(deps)
    this.#fields = new AccountFields(deps.users)
    this.#passwords = new AccountPasswords(deps)
    this.#credentials = new AccountCredentials({ ...deps, passwords: this.#passwords, mails: this.#mails, fields: this.#fields })
    // Folded into the session cut-off (revokeTokensOnPasswordChange): read loosely, so this keeps compiling once the option is gone.
    if ((deps.options as { revokeAccessOnPasswordChange?: unknown }).revokeAccessOnPasswordChange === true) {
      deps.log.warn('fastify-accounts: revokeAccessOnPasswordChange is deprecated and has no effect: a password change now ends the ' +
        "user's other sessions, access tokens included, in every dialect (revokeTokensOnPasswordChange, on by default). Remove the option.")
    }
  }

  get loginField (): LoginField {
    return this.#d.options.loginField
  }

  /** The field a user may change through `me` (the login field is read-only there, as in djoser). */
  get editableField (): LoginField {
    return this.#d.options.loginField === 'username' ? 'email' : 'username'
  }

  // ---- mail -----------------------------------------------------------------------------------------

  /** Resolves once every mail sent in the background so far has been handed to the mailer (or failed). */
  async mailsSent (): Promise<void> {
    await this.#mails.sent()
  }

  // ---- use cases ------------------------------------------------------------------------------------

  async findUser (id: number): Promise<User | null> {
    return this.#d.users.findUserById(id)
  }

  /**
   * POST /users/: all field errors together, then the password rules (djoser's order), or as `rules` say
   * (dj-rest-auth's registration follows allauth's).
   */
  async register (
    input: { username: string, email: string, password: string, rePassword?: string }, retype = this.#d.options.userCreatePasswordRetype,
    rules: RegistrationRules = {}, caller?: Caller
  ): Promise<User> {
    const o = this.#d.options
    const allauth = rules.passwordChecks === 'allauth'
    const email = normalizeEmail(input.email)
    const errors: FieldErrors = {}
    const username = normalizeUsername(input.username)
    const usernameErrors = this.#fields.checkUsername(username)
    if (usernameErrors.length === 0 && await this.#fields.isTaken('username', username, undefined, rules.usernames)) usernameErrors.push(MESSAGES.usernameTaken)
    if (usernameErrors.length > 0) errors.username = usernameErrors
    const emailErrors = this.#fields.checkEmail(email)
    if (emailErrors.length === 0 && await this.#fields.isTaken('email', email)) emailErrors.push(MESSAGES.emailTaken)
    if (emailErrors.length > 0) errors.email = emailErrors
    if (allauth) {
      // allauth's clean_password(password) with no user yet: a field validator, reported with the other fields.
      const passwordErrors = await this.#passwords.errors(input.password, {})
      if (passwordErrors.length > 0) errors.password = passwordErrors
    }
    this.#fields.throwIfAny(errors)
    if (!allauth) {
      const passwordErrors = await this.#passwords.errors(input.password, { username, email })
      if (passwordErrors.length > 0) throw fieldErrors({ password: passwordErrors })
    }
    if (retype && input.password !== input.rePassword) throw fieldError('non_field_errors', MESSAGES.passwordMismatch)
    if (allauth) {
      // RegisterSerializer.save(): clean_password(password, user=<the would-be user>); only the validators
      // that need the user can fail now, and DRF reports a DjangoValidationError raised there as non_field_errors.
      const userErrors = await this.#passwords.errors(input.password, { username, email })
      if (userErrors.length > 0) throw fieldErrors({ non_field_errors: userErrors })
    }

    const password = await this.#passwords.hash(input.password)
    let user: User
    try {
      user = await this.#d.users.createUser({ username, email, password, isActive: !o.sendActivationEmail })
    } catch (error) {
      this.#fields.duplicate(error)
    }
    this.#d.events.emit('user.created', { userId: user.id }, contextOf(caller))
    if (o.sendActivationEmail) await this.#mails.sendActivation(user)
    else if (o.sendConfirmationEmail) await this.#mails.send('confirmation', user)
    return user
  }

  /** POST /users/activation/: 403 when the link is for an account that is already active. */
  async activate (uid: string, token: string, caller?: Caller): Promise<void> {
    const id = decodeUid(uid)
    const user = id === null ? null : await this.#d.users.findUserById(id)
    if (user === null) throw fieldError('uid', MESSAGES.invalidUid)
    if (user.isActive && this.#d.links.check('activation', { ...user, isActive: false }, token)) {
      this.#d.events.emit('permission.denied', { userId: user.id, reason: 'already-active' }, contextOf(caller))
      throw new PermissionDeniedError(MESSAGES.staleToken)
    }
    if (!this.#d.links.check('activation', user, token)) throw fieldError('token', MESSAGES.invalidToken)
    const activated = await this.#d.users.updateUser(user.id, { isActive: true }, { isActive: false, password: user.password, email: user.email })
    if (activated === null) throw fieldError('token', MESSAGES.invalidToken)
    this.#d.events.emit('user.activated', { userId: activated.id }, contextOf(caller))
    if (this.#d.options.sendConfirmationEmail) await this.#mails.send('confirmation', activated)
  }

  /**
   * POST /users/resend_activation/: false when activation is off (djoser's 400). Otherwise the same
   * answer whether or not an inactive account has this email, so it cannot be used to probe addresses.
   * `caller`: a failure of the mail sent in the background is logged on its logger (default the app's).
   */
  async resendActivation (email: string, caller?: Caller): Promise<boolean> {
    this.#fields.requireValidEmail(email)
    if (!this.#d.options.sendActivationEmail) return false
    const user = await this.#d.users.findUserByEmail(email)
    if (user !== null && !user.isActive) this.#mails.inBackground('activation', user, this.#mails.link('activation', this.#d.options.activationUrl, user), caller?.log)
    return true
  }

  /** GET /users/: self only when hideUsers, everyone for staff. */
  async listUsers (viewer: AccountUser): Promise<User[]> {
    if (this.#d.options.hideUsers && !viewer.isStaff) {
      const self = await this.#d.users.findUserById(viewer.id)
      return self === null ? [] : [self]
    }
    return this.#d.users.listUsers()
  }

  /** GET /users/{id}/: another user is 404 when hidden, 403 otherwise, unless the viewer is staff. */
  async userFor (viewer: AccountUser, id: number, caller?: Caller): Promise<User> {
    const isSelf = viewer.id === id
    if (!isSelf && !viewer.isStaff && this.#d.options.hideUsers) throw new NotFoundError(MESSAGES.notFound)
    const user = await this.#d.users.findUserById(id)
    if (user === null) throw new NotFoundError(MESSAGES.notFound)
    if (!isSelf && !viewer.isStaff) {
      this.#d.events.emit('permission.denied', { userId: viewer.id, reason: 'not-staff' }, contextOf(caller))
      throw new PermissionDeniedError('You do not have permission to perform this action.')
    }
    return user
  }

  /**
   * PUT/PATCH /users/me/: by default only the non-login field is writable (djoser); a dialect names its
   * own writable fields. With activation on, a new email deactivates the account and mails a fresh
   * activation link (djoser's UserSerializer.update). Every field's errors are reported together.
   */
  async updateProfile (
    current: AccountUser, changes: ProfileChanges, writable: Array<keyof ProfileChanges> = [this.editableField], usernames: UsernameMatching = 'exact',
    context: ProfileUpdateContext = {}
  ): Promise<User> {
    const user = await this.#d.users.findUserById(current.id)
    if (user === null) throw new NotFoundError(MESSAGES.notFound)
    const patch: UserPatch = {}
    const errors: FieldErrors = {}
    for (const field of writable) {
      const raw = changes[field]
      if (raw === undefined) continue
      const value = field === 'email' ? normalizeEmail(raw) : field === 'username' ? normalizeUsername(raw) : raw
      if (value === user[field]) continue
      const fieldErrors = field === 'firstName' || field === 'lastName'
        ? (value.length > 150 ? [MESSAGES.usernameTooLong] : [])
        : this.#fields.checkField(field, value)
      if (fieldErrors.length === 0 && (field === 'username' || field === 'email') && await this.#fields.isTaken(field, value, user.id, usernames)) {
        fieldErrors.push(this.#fields.takenMessage(field))
      }
      if (fieldErrors.length > 0) errors[WIRE_NAMES[field]] = fieldErrors
      else patch[field] = value
    }
    // With emailChangeRequiresPassword, a new email (valid or not) needs the password, reported with the fields' errors.
    const newEmail = changes.email !== undefined && writable.includes('email') && normalizeEmail(changes.email).toLowerCase() !== user.email.toLowerCase()
    if (newEmail && this.#d.options.emailChangeRequiresPassword) {
      if (context.currentPassword === undefined) errors.current_password = [MESSAGES.required]
      else if (!(await this.#credentials.isCurrentPassword(user, context.currentPassword, 'change-email', context.caller))) errors.current_password = [MESSAGES.invalidPassword]
    }
    this.#fields.throwIfAny(errors)
    if (Object.keys(patch).length === 0) return user

    const emailChanged = patch.email !== undefined && patch.email.toLowerCase() !== user.email.toLowerCase()
    if (emailChanged && this.#d.options.sendActivationEmail) patch.isActive = false
    const checked = newEmail && this.#d.options.emailChangeRequiresPassword ? { password: user.password } : undefined
    let updated: User | null
    try {
      // With the password checked, the write is conditional on it: a password changed meanwhile is a wrong one.
      updated = await this.#d.users.updateUser(user.id, patch, checked)
    } catch (error) {
      this.#fields.duplicate(error)
    }
    if (updated === null && checked !== undefined) throw fieldError('current_password', MESSAGES.invalidPassword)
    if (updated === null) throw new NotFoundError(MESSAGES.notFound)
    const fields = Object.keys(patch).map((field) => WIRE_NAMES[field as keyof ProfileChanges] ?? field)
    this.#d.events.emit('user.updated', { userId: updated.id, fields }, contextOf(context.caller))
    if (emailChanged) this.#mails.noticeEmailChange(user.email, updated, context.caller?.log)
    // Tokens are kept, as in djoser: authentication refuses the inactive user until the new link is used.
    if (patch.isActive === false) await this.#mails.sendActivation(updated)
    return updated
  }

  /** DELETE /users/me/ */
  async deleteAccount (current: AccountUser, currentPassword: string, caller?: Caller): Promise<void> {
    const user = await this.#d.users.findUserById(current.id)
    if (user === null) throw new NotFoundError(MESSAGES.notFound)
    await this.#credentials.requireCurrentPassword(user, currentPassword, 'delete-account', caller)
    const context = contextOf(caller)
    await this.#d.tokens.revokeUserTokens(user.id, 'user-deleted', context ?? undefined)
    await this.#d.users.deleteUser(user.id)
    this.#d.events.emit('user.deleted', { userId: user.id }, context)
  }

  // ---- passwords and login field (AccountCredentials) ---------------------------------------------

  /**
   * POST /users/set_password/ (and dj-rest-auth's password/change/). With `revokeTokensOnPasswordChange` (the
   * default) every other session of the user ends: refresh families, opaque tokens and the access tokens of
   * every dialect. `session` is how the request authenticated (`request.auth`): that session goes on working,
   * so the frontend that changed the password stays logged in; without it (or with `logoutOnPasswordChange`,
   * djoser's LOGOUT_ON_PASSWORD_CHANGE) every session ends. Without `currentPassword` the old password is not
   * asked (dj-rest-auth's default); `options.retype` overrides `setPasswordRetype`.
   */
  async setPassword (
    current: AccountUser, input: { newPassword: string, currentPassword?: string, reNewPassword?: string }, session?: RequestAuth | null,
    options: { retype?: boolean } = {}, caller?: Caller
  ): Promise<void> {
    await this.#credentials.setPassword(current, input, session, options, caller)
  }

  /**
   * POST /users/reset_password/: false only when the email is unknown and the option says to tell.
   * `caller`: a failure of the mail sent in the background is logged on its logger (default the app's).
   */
  async requestPasswordReset (email: string, caller?: Caller): Promise<boolean> {
    return await this.#credentials.requestPasswordReset(email, caller)
  }

  /**
   * POST /users/reset_password_confirm/: the link dies with the new password and the new last login. A reset
   * comes with no session: with `revokeTokensOnPasswordChange` every session of the user ends.
   */
  async confirmPasswordReset (input: { uid: string, token: string, newPassword: string, reNewPassword?: string }, retype = this.#d.options.passwordResetConfirmRetype, caller?: Caller): Promise<void> {
    await this.#credentials.confirmPasswordReset(input, retype, caller)
  }

  /**
   * POST /users/set_username/: changes the login field (`new_<loginField>` on the wire).
   * `caller`: a failure of the mail sent in the background (an email change's notice) is logged on its logger.
   */
  async setUsername (current: AccountUser, input: { newValue: string, currentPassword: string, reNewValue?: string }, caller?: Caller): Promise<void> {
    await this.#credentials.setUsername(current, input, caller)
  }

  /**
   * POST /users/reset_username/
   * `caller`: a failure of the mail sent in the background is logged on its logger (default the app's).
   */
  async requestUsernameReset (email: string, caller?: Caller): Promise<boolean> {
    return await this.#credentials.requestUsernameReset(email, caller)
  }

  /** POST /users/reset_username_confirm/ */
  async confirmUsernameReset (input: { uid: string, token: string, newValue: string, reNewValue?: string }, caller?: Caller): Promise<void> {
    await this.#credentials.confirmUsernameReset(input, caller)
  }

  /**
   * Checks credentials for a login (token or JWT). Unknown user, wrong password and inactive account
   * are one error, and all three spend one password hash. Upgrades an outdated hash on success.
   * With `usernames: 'ignoreCase'`, a username that matches several accounts and none exactly is an
   * unknown user (see #findByUsername).
   */
  async authenticateCredentials (
    login: string, password: string, by: LoginField | 'usernameOrEmail' = this.loginField, usernames: UsernameMatching = 'exact', caller?: Caller
  ): Promise<User> {
    const users = this.#d.users
    // The session this login opens starts when the row it checks the password against was read.
    const readAt = Date.now()
    const user = by === 'email' || (by === 'usernameOrEmail' && login.includes('@'))
      ? await users.findUserByEmail(login)
      : await this.#fields.findByUsername(login, usernames)
    const valid = await this.#passwords.verify(user, password)
    if (user === null || !valid || !user.isActive) {
      const reason = user === null ? 'unknown-user' : !valid ? 'wrong-password' : 'inactive'
      this.#d.events.emit('login.failed', { login, userId: user?.id ?? null, reason }, contextOf(caller))
      throw new InvalidCredentialsError(MESSAGES.badCredentials)
    }
    this.#d.events.emit('login.succeeded', { userId: user.id }, contextOf(caller))
    let result = user
    if (this.#d.options.rehashOnLogin && this.#d.hasher.needsRehash(user.password)) {
      result = await users.updateUser(user.id, { password: await this.#passwords.hash(password) }, { password: user.password }) ?? user
    }
    this.#d.tokens.credentialsChecked(result, readAt)
    return result
  }

  async recordLogin (user: User): Promise<void> {
    await this.#d.users.updateUser(user.id, { lastLogin: new Date() })
  }
}
