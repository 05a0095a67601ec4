import { createHmac, timingSafeEqual } from 'node:crypto'
import type { User } from './ports.js'

/** What a link is for; part of the MAC, so an activation link is never a reset link. */
export type LinkPurpose = 'activation' | 'password-reset' | 'username-reset'

/** Django counts link timestamps in seconds from 2001-01-01; so do we, so the format reads the same. */
const EPOCH_2001 = Date.UTC(2001, 0, 1) / 1000

/** djoser's `encode_uid`: base64url of the primary key's decimal string, unpadded. */
export function encodeUid (id: number): string {
  return Buffer.from(String(id)).toString('base64url')
}

/** The id in a uid, or null when it is not one. */
export function decodeUid (uid: string): number | null {
  if (typeof uid !== 'string' || !/^[A-Za-z0-9_-]{1,24}$/.test(uid)) return null
  const text = Buffer.from(uid, 'base64url').toString('utf8')
  if (!/^[1-9]\d{0,15}$/.test(text)) return null
  const id = Number(text)
  return Number.isSafeInteger(id) ? id : null
}

/**
 * Django's PasswordResetTokenGenerator, widened: the MAC covers the user's password hash, last login,
 * active flag, username and email, so a link dies as soon as any of them changes (which every use of a
 * link does), and after `timeoutSeconds`. Nothing is stored.
 */
export class OneTimeLinks {
  readonly #secret: string
  readonly #timeoutSeconds: number

  constructor (secret: string, timeoutSeconds: number) {
    this.#secret = secret
    this.#timeoutSeconds = timeoutSeconds
  }

  make (purpose: LinkPurpose, user: User, now = Date.now()): string {
    const timestamp = Math.floor(now / 1000 - EPOCH_2001)
    return `${timestamp.toString(36)}-${this.#mac(purpose, user, timestamp)}`
  }

  check (purpose: LinkPurpose, user: User, token: string, now = Date.now()): boolean {
    if (typeof token !== 'string' || token.length > 64) return false
    const match = /^([0-9a-z]{1,13})-([0-9a-f]{40})$/.exec(token)
    if (match === null) return false
    const timestamp = parseInt(match[1], 36)
    // Whole seconds on both sides, as Django: a link lives at least the full timeout.
    const age = Math.floor(now / 1000 - EPOCH_2001) - timestamp
    if (!(age >= 0 && age <= this.#timeoutSeconds)) return false
    return timingSafeEqual(Buffer.from(match[2]), Buffer.from(this.#mac(purpose, user, timestamp)))
  }

  #mac (purpose: LinkPurpose, user: User, timestamp: number): string {
    const state = [
      purpose, user.id, user.password, user.lastLogin?.getTime() ?? '', user.isActive ? 1 : 0,
      user.username, user.email.toLowerCase(), timestamp
    ].join('\u0000')
    return createHmac('sha256', this.#secret).update(state).digest('hex').slice(0, 40)
  }
}
