import { randomInt } from 'node:crypto'

/**
 * Usernames for users created by a social sign-up: the provider's username when it is a valid Django
 * username, else one cleaned as allauth's generate_unique_username does (ASCII, lower case, `\w@+.-` only,
 * the part before an `@`) from the provider's username, first name, last name or email, else `user`; then
 * the same with suffixes until the store takes one.
 */

const MAX_LENGTH = 150
// Django's UnicodeUsernameValidator.
const VALID = /^[\p{L}\p{N}_.@+-]+$/u

export function isValidUsername (username: string): boolean {
  return username.length > 0 && username.length <= MAX_LENGTH && VALID.test(username)
}

/** allauth's _generate_unique_username_base: the first text that cleans to something, else 'user'. */
export function usernameBase (texts: Array<string | undefined>): string {
  for (const text of texts) {
    if (text === undefined) continue
    let name = text.normalize('NFKD').replace(/[^\x00-\x7F]/g, '')
    name = name.replace(/[^\w\s@+.-]/g, '').toLowerCase()
    name = name.split('@')[0].trim().replace(/\s+/g, '_')
    if (name !== '') return name.slice(0, MAX_LENGTH)
  }
  return 'user'
}

/**
 * The usernames to try, in order (at most 16): the base (the provider's username when it is valid as it is,
 * else one cleaned from the provider's username, first name, last name or email), the base with 2…6, then
 * with random six-digit suffixes; each at most 150 characters.
 */
export function usernameCandidates (profile: { username?: string, firstName?: string, lastName?: string, email?: string }): string[] {
  const own = profile.username?.normalize('NFKC')
  const base = own !== undefined && isValidUsername(own)
    ? own
    : usernameBase([profile.username, profile.firstName, profile.lastName, profile.email, 'user'])
  const withSuffix = (suffix: string): string => base.slice(0, MAX_LENGTH - suffix.length) + suffix
  const candidates = [base]
  for (let n = 2; n <= 6; n++) candidates.push(withSuffix(String(n)))
  for (let i = 0; i < 10; i++) candidates.push(withSuffix(String(randomInt(100_000, 1_000_000))))
  return [...new Set(candidates)]
}
