import { fieldError, fieldErrors, type FieldErrors } from './errors.js'
import { EMAIL_PATTERN } from './email.js'
import { MESSAGES, USERNAME_PATTERN, type UsernameMatching } from './account-rules.js'
import type { LoginField } from './options.js'
import { DuplicateUserError, type User, type UserStore } from './ports.js'

/** The checks of usernames and emails the account use cases share: format, uniqueness, and the 400s they give. */
export class AccountFields {
  readonly #users: UserStore

  constructor (users: UserStore) {
    this.#users = users
  }

  checkUsername (username: string): string[] {
    if (username.length > 150) return [MESSAGES.usernameTooLong]
    return USERNAME_PATTERN.test(username) ? [] : [MESSAGES.usernameInvalid]
  }

  checkEmail (email: string): string[] {
    return email.length <= 254 && EMAIL_PATTERN.test(email) ? [] : [MESSAGES.emailInvalid]
  }

  /** djoser's EmailField on the reset and resend bodies. */
  requireValidEmail (email: string): void {
    const errors = this.checkEmail(email)
    if (errors.length > 0) throw fieldErrors({ email: errors })
  }

  checkField (field: LoginField, value: string): string[] {
    return field === 'username' ? this.checkUsername(value) : this.checkEmail(value)
  }

  async isTaken (field: LoginField, value: string, exceptId?: number, usernames: UsernameMatching = 'exact'): Promise<boolean> {
    const users = this.#users
    if (field === 'username' && usernames === 'ignoreCase') {
      // allauth's clean_username, except that the user's own name (re-cased) is no clash: dj-rest-auth's issue 187.
      return (await users.findUsersByUsernameIgnoringCase(value)).some((other) => other.id !== exceptId)
    }
    const found = field === 'username' ? await users.findUserByUsername(value) : await users.findUserByEmail(value)
    return found !== null && found.id !== exceptId
  }

  /**
   * The account a username login names. Ignoring case, several accounts may match (`alice` and `Alice`,
   * created where usernames are exact): the exact one wins, as Django's ModelBackend answers before
   * allauth's backend; with none exact the login is ambiguous and names no account (allauth's `.get()`
   * fails with a 500 there), so a password never decides which account it opens.
   */
  async findByUsername (username: string, usernames: UsernameMatching): Promise<User | null> {
    if (usernames === 'exact') return await this.#users.findUserByUsername(username)
    const matches = await this.#users.findUsersByUsernameIgnoringCase(username)
    return matches.find((user) => user.username === username) ?? (matches.length === 1 ? matches[0] : null)
  }

  takenMessage (field: LoginField): string {
    return field === 'username' ? MESSAGES.usernameTaken : MESSAGES.emailTaken
  }

  /** Maps a store's uniqueness violation (a lost race) to the same 400 the pre-check gives. */
  duplicate (error: unknown, fieldName?: (field: LoginField) => string): never {
    if (error instanceof DuplicateUserError) {
      throw fieldError(fieldName?.(error.field) ?? error.field, this.takenMessage(error.field))
    }
    throw error
  }

  throwIfAny (errors: FieldErrors): void {
    if (Object.keys(errors).length > 0) throw fieldErrors(errors)
  }
}
