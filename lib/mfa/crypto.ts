import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto'

/**
 * The MFA keys, each derived from the plugin's `secretKey` by HKDF-SHA256 with its own label, so one
 * secret serves several purposes without one use weakening another (a key that encrypts TOTP secrets
 * never signs anything, and vice versa). Rotating `secretKey` makes stored TOTP secrets unreadable: the
 * users concerned must set MFA up again (README).
 */
export class MfaKeys {
  readonly #secretAtRest: Buffer
  readonly #tokens: Buffer
  readonly #hashing: Buffer

  constructor (secretKey: string) {
    const ikm = Buffer.from(secretKey, 'utf8')
    const derive = (label: string): Buffer => Buffer.from(hkdfSync('sha256', ikm, Buffer.alloc(0), `fastify-accounts mfa ${label}`, 32))
    this.#secretAtRest = derive('totp secret at rest v1')
    this.#tokens = derive('activation token v1')
    this.#hashing = derive('code and token hashing v1')
  }

  /** A TOTP secret (base32) encrypted for the database: `v1.<iv>.<ciphertext+tag>`, AES-256-GCM bound to the user id. */
  encryptSecret (secret: string, userId: number): string {
    return seal(this.#secretAtRest, secret, `totp:${userId}`)
  }

  /** The secret back, or null when it was not encrypted under this key for this user (moved rows fail here too). */
  decryptSecret (sealed: string, userId: number): string | null {
    return open(this.#secretAtRest, sealed, `totp:${userId}`)
  }

  /** An encrypted, authenticated token carrying `payload` (the activation token: the pending secret never travels in clear). */
  sealToken (payload: object, purpose: string): string {
    return seal(this.#tokens, JSON.stringify(payload), purpose)
  }

  openToken (token: string, purpose: string): unknown {
    const text = open(this.#tokens, token, purpose)
    if (text === null) return null
    try {
      return JSON.parse(text) as unknown
    } catch {
      return null
    }
  }

  /**
   * HMAC-SHA256 of a recovery code or an ephemeral token, for the store. These are random values of 60+
   * bits (recovery codes) or 256 bits (tokens), so a slow password hash buys nothing: nobody can try
   * enough guesses against a keyed hash, and a leaked table without `secretKey` cannot even be checked
   * offline. A fast hash also lets the store find a code by its hash in one indexed step.
   */
  hash (value: string, purpose: string): string {
    return createHmac('sha256', this.#hashing).update(`${purpose}\0${value}`).digest('base64url')
  }
}

const IV_BYTES = 12

function seal (key: Buffer, text: string, aad: string): string {
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(Buffer.from(aad, 'utf8'))
  const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final(), cipher.getAuthTag()])
  return `v1.${iv.toString('base64url')}.${body.toString('base64url')}`
}

function open (key: Buffer, sealed: string, aad: string): string | null {
  const parts = typeof sealed === 'string' ? sealed.split('.') : []
  if (parts.length !== 3 || parts[0] !== 'v1') return null
  const iv = Buffer.from(parts[1], 'base64url')
  const body = Buffer.from(parts[2], 'base64url')
  if (iv.length !== IV_BYTES || body.length < 16) return null
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv)
    decipher.setAAD(Buffer.from(aad, 'utf8'))
    decipher.setAuthTag(body.subarray(body.length - 16))
    return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString('utf8')
  } catch {
    return null
  }
}

/** `bytes` random bytes as base64url. */
export function randomToken (bytes = 32): string {
  return randomBytes(bytes).toString('base64url')
}
