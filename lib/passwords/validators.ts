import { createRequire } from 'node:module'

/** Hard ceiling, always on: argon2's cost grows with input length, and nobody types more than this. */
export const MAX_PASSWORD_LENGTH = 4096

export type SimilarityAttribute = 'username' | 'email'

export interface PasswordValidationOptions {
  /** Minimum length in characters; 0 disables. Default 8. */
  minLength?: number
  /** Reject passwords from a list of ~49k common ones. Default true. */
  common?: boolean
  /** Reject passwords made only of digits. Default true. */
  numeric?: boolean
  /** Reject passwords too close to the user's username or email (or parts of them); false disables. */
  userAttributeSimilarity?: false | {
    /** Default: both. */
    attributes?: SimilarityAttribute[]
    /** From 0.1 to 1; a quick_ratio at or above it fails. Default 0.7. */
    maxSimilarity?: number
  }
  /**
   * Validators of your own (a breached-password lookup, a house rule), run after the built-in ones at
   * registration, password change and reset; their messages go under the password field. One that throws
   * makes the request a 503 (fail closed), never a password let through.
   */
  validators?: CustomPasswordValidator[]
}

/** A password validator of your own: the messages of what is wrong, [] when nothing is. */
export type CustomPasswordValidator = (password: string, user: PasswordOwner) => string[] | Promise<string[]>

export interface PasswordOwner {
  username?: string
  email?: string
}

export type PasswordValidator = (password: string, user: PasswordOwner) => string[]

/** The built-in validator followed by `custom` ones (only when the built-in ones pass the length ceiling). */
export function withCustomValidators (builtIn: PasswordValidator, custom: readonly CustomPasswordValidator[] = []): (password: string, user: PasswordOwner) => Promise<string[]> {
  return async (password, user) => {
    const errors = builtIn(password, user)
    if (custom.length === 0 || password.length > MAX_PASSWORD_LENGTH) return errors
    for (const validate of custom) errors.push(...await validate(password, user))
    return errors
  }
}

const ATTRIBUTE_LABELS: Record<SimilarityAttribute, string> = { username: 'username', email: 'email address' }

let commonPasswords: Set<string> | undefined

/** Loaded on first use: the list costs ~40 ms and a few MB, which apps that disable the rule never pay. */
function isCommon (password: string): boolean {
  if (commonPasswords === undefined) {
    const require = createRequire(import.meta.url)
    const { dictionary } = require('@zxcvbn-ts/language-common') as typeof import('@zxcvbn-ts/language-common')
    commonPasswords = new Set(dictionary['passwords-common'].map(p => p.toLowerCase()))
  }
  return commonPasswords.has(password.toLowerCase().trim())
}

/** Python's `len`: lengths are counted in code points, so an emoji is one character as in Django. */
function codePoints (s: string): string[] {
  return Array.from(s)
}

/** difflib.SequenceMatcher(a, b).quick_ratio(): an upper bound on ratio() from character counts alone. */
function quickRatio (a: string[], b: string[]): number {
  const total = a.length + b.length
  if (total === 0) return 1
  const available = new Map<string, number>()
  for (const c of b) available.set(c, (available.get(c) ?? 0) + 1)
  let matches = 0
  for (const c of a) {
    const n = available.get(c) ?? 0
    if (n > 0) {
      available.set(c, n - 1)
      matches++
    }
  }
  return (2 * matches) / total
}

/**
 * Django's shortcut: quick_ratio can never exceed 2 / (pwd_len / value_len), so a value at most a tenth
 * of the password's length and under max_similarity / 2 of it can be skipped without computing.
 */
function exceedsMaximumLengthRatio (passwordLength: number, maxSimilarity: number, valueLength: number): boolean {
  return passwordLength >= 10 * valueLength && valueLength < (maxSimilarity / 2) * passwordLength
}

/** Runs of whitespace, counted as one character (ASVS 2.1.1: a password's length after collapsing spaces). */
const WHITESPACE_RUN = /\s+/gu

// Python's `\W` on str is Unicode-aware; JS's is ASCII-only, hence the property classes.
const NON_WORD = /[^\p{L}\p{N}_]+/u
const ALL_DIGITS = /^\p{Nd}+$/u

/**
 * Builds a validator mirroring Django 4.2's default AUTH_PASSWORD_VALIDATORS (user attribute similarity,
 * minimum length, common password, numeric). It returns every failure message in that order, [] when valid.
 * A password over MAX_PASSWORD_LENGTH gets only the "too long" message: checking it further is wasted work.
 */
export function createPasswordValidator (options: PasswordValidationOptions = {}): PasswordValidator {
  const { minLength = 8, common = true, numeric = true, userAttributeSimilarity = {} } = options
  if (!Number.isInteger(minLength) || minLength < 0) throw new RangeError('minLength must be a non-negative integer')
  const similarity = userAttributeSimilarity === false
    ? null
    : { attributes: userAttributeSimilarity.attributes ?? ['username', 'email'], maxSimilarity: userAttributeSimilarity.maxSimilarity ?? 0.7 }
  if (similarity !== null && !(similarity.maxSimilarity >= 0.1)) throw new RangeError('maxSimilarity must be at least 0.1')

  function tooSimilarTo (password: string[], user: PasswordOwner): SimilarityAttribute | null {
    if (similarity === null) return null
    for (const attribute of similarity.attributes) {
      const value = user[attribute]
      if (typeof value !== 'string' || value === '') continue
      const lower = value.toLowerCase()
      for (const part of [...lower.split(NON_WORD), lower]) {
        const partChars = codePoints(part)
        if (exceedsMaximumLengthRatio(password.length, similarity.maxSimilarity, partChars.length)) continue
        if (quickRatio(password, partChars) >= similarity.maxSimilarity) return attribute
      }
    }
    return null
  }

  return (password, user) => {
    // Past twice the limit in UTF-16 units it is over the limit in code points too; spares splitting a huge string.
    const length = password.length > 2 * MAX_PASSWORD_LENGTH ? Infinity : codePoints(password).length
    if (length > MAX_PASSWORD_LENGTH) return [`The password is too long: it must not exceed ${MAX_PASSWORD_LENGTH} characters.`]
    const errors: string[] = []
    if (password.trim() === '' && password !== '') return ['The password cannot consist only of spaces.']
    const similarTo = tooSimilarTo(codePoints(password.toLowerCase()), user)
    if (similarTo !== null) errors.push(`The password is too close to your ${ATTRIBUTE_LABELS[similarTo]}.`)
    // Eight spaces, or 'a       b', are not eight characters of secret: runs of whitespace count once.
    if (codePoints(password.replace(WHITESPACE_RUN, ' ')).length < minLength) {
      errors.push(`The password is too short: it must be at least ${minLength} character${minLength === 1 ? '' : 's'} long.`)
    }
    if (common && isCommon(password)) errors.push('The password is one of the most commonly used passwords.')
    if (numeric && ALL_DIGITS.test(password)) errors.push('The password consists only of digits.')
    return errors
  }
}
