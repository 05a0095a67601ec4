import type { Caller } from './request-context.js'

// What AccountService checks and says, apart from how it does it: Django's username rule, djoser's and
// DRF's messages, the profile fields, and how a dialect matches usernames and checks a registration.

// Django's UnicodeUsernameValidator: Python's \w (letters, digits, underscore; no lone combining marks).
export const USERNAME_PATTERN = /^[\p{L}\p{N}_.@+-]+$/u
export const MESSAGES = {
  usernameInvalid: 'Enter a valid username. It may contain only letters, numbers, and @/./+/-/_ characters.',
  usernameTooLong: 'Ensure this field has no more than 150 characters.',
  usernameTaken: 'A user with that username already exists.',
  emailInvalid: 'Enter a valid email address.',
  emailTaken: 'A user with that email address already exists.',
  passwordMismatch: "The two password fields didn't match.",
  usernameMismatch: "The two {field} fields didn't match.",
  invalidPassword: 'Invalid password.',
  invalidUid: "Invalid user id or user doesn't exist.",
  invalidToken: 'Invalid token for given user.',
  staleToken: 'Stale token for given user.',
  emailNotFound: 'User with given email does not exist.',
  required: 'This field is required.',
  badCredentials: 'No active account found with the given credentials',
  notFound: 'Not found.'
} as const

/** The profile fields a user may change about themselves. */
export interface ProfileChanges {
  username?: string
  email?: string
  firstName?: string
  lastName?: string
}

/** What `updateProfile` takes beside the changes. */
export interface ProfileUpdateContext {
  /** The body's `current_password`, checked when the email changes and `emailChangeRequiresPassword` is on. */
  currentPassword?: string
  /** The request: for events, and its logger for a failure of the mail sent in the background (the old address's notice). */
  caller?: Caller
}

/**
 * How a dialect matches usernames. `'exact'`: Django's username field and ModelBackend (djoser, drf-jwt,
 * sanic-jwt): `alice` and `Alice` are two accounts. `'ignoreCase'`: allauth's (dj-rest-auth): a username
 * taken in any letter case is taken, and a login finds its account in any letter case.
 */
export type UsernameMatching = 'exact' | 'ignoreCase'

/** How `register` checks its input: djoser's rules (the default) or allauth's, as dj-rest-auth's RegisterSerializer. */
export interface RegistrationRules {
  /** Default `'exact'`. */
  usernames?: UsernameMatching
  /**
   * `'djoser'` (default): the fields, then the password validated with the user (errors under `password`),
   * then the retype. `'allauth'`: the password validated without the user beside the other fields (errors
   * under `password`), the retype after them, then the password validated again with the would-be user:
   * what fails only then (a validator that needs the user, such as the similarity one) is `non_field_errors`.
   */
  passwordChecks?: 'djoser' | 'allauth'
}

export const WIRE_NAMES: Record<keyof ProfileChanges, string> = { username: 'username', email: 'email', firstName: 'first_name', lastName: 'last_name' }

/** Django's normalize_username: NFKC, so 'ａｌｉｃｅ' (fullwidth) is stored as 'alice' and cannot sit beside it. */
export function normalizeUsername (username: string): string {
  return username.normalize('NFKC')
}

/** Django's normalize_email: the domain part is case-insensitive, so it is stored lower-cased. */
export function normalizeEmail (email: string): string {
  const at = email.lastIndexOf('@')
  return at < 0 ? email : email.slice(0, at) + email.slice(at).toLowerCase()
}
