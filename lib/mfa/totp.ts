import { createRequire } from 'node:module'

/**
 * RFC 6238 through otpauth (30 s steps, 6 digits, SHA-1: what every authenticator app reads from an
 * otpauth:// URI), and the QR code through qrcode. Both load on first use, so an app without MFA never
 * loads them.
 */

export const TOTP_PERIOD = 30
export const TOTP_DIGITS = 6
/** Steps of clock drift accepted either side of now (pyotp's valid_window=1, dj-rest-auth's MFA_TOTP_VALID_WINDOW). */
export const TOTP_WINDOW = 1

type OtpAuth = typeof import('otpauth')
let otpauth: Promise<OtpAuth> | undefined
const load = async (): Promise<OtpAuth> => await (otpauth ??= import('otpauth'))

/** A new random secret of 160 bits (RFC 4226's recommended length), base32 as authenticator apps take it. */
export async function newTotpSecret (): Promise<string> {
  const { Secret } = await load()
  return new Secret({ size: 20 }).base32
}

/** The otpauth:// URI an authenticator app scans: issuer and account name as the app shows them. */
export async function totpUri (secret: string, account: string, issuer: string): Promise<string> {
  const { TOTP, Secret } = await load()
  return new TOTP({ issuer, label: account, secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: TOTP_DIGITS, period: TOTP_PERIOD }).toString()
}

/** The time step (RFC 6238's T) of `now`. */
export function stepAt (now: number): number {
  return Math.floor(now / 1000 / TOTP_PERIOD)
}

/**
 * The time step `code` belongs to when it is valid at `now` (within one step of drift), else null. The
 * caller stores the step so the same code (or one of an earlier step) is never accepted twice.
 */
export async function matchTotp (secret: string, code: string, now: number): Promise<number | null> {
  if (!new RegExp(`^\\d{${TOTP_DIGITS}}$`).test(code)) return null
  const { TOTP, Secret } = await load()
  let parsed
  try {
    parsed = Secret.fromBase32(secret)
  } catch {
    return null
  }
  const delta = TOTP.validate({ token: code, secret: parsed, algorithm: 'SHA1', digits: TOTP_DIGITS, period: TOTP_PERIOD, timestamp: now, window: TOTP_WINDOW })
  return delta === null ? null : stepAt(now) + delta
}

/** The code of `secret` at `now` (tests, and nothing else: the server never needs to make one). */
export async function totpCode (secret: string, now: number): Promise<string> {
  const { TOTP, Secret } = await load()
  return TOTP.generate({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: TOTP_DIGITS, period: TOTP_PERIOD, timestamp: now })
}

interface QrCodeModule {
  toString: (text: string, options: { type: 'svg', errorCorrectionLevel?: 'L' | 'M' | 'Q' | 'H', margin?: number }) => Promise<string>
}
let qrcode: QrCodeModule | undefined

/** The URI as an SVG QR code in a data URI (`data:image/svg+xml;base64,…`, as dj-rest-auth's qr_code_data_uri). */
export async function qrCodeDataUri (uri: string): Promise<string> {
  // qrcode is CommonJS without types: required lazily, typed by what is called.
  qrcode ??= createRequire(import.meta.url)('qrcode') as QrCodeModule
  const svg = await qrcode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 })
  return `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`
}
