import { Secret, TOTP } from 'otpauth'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { AccountsEventName } from '../../lib/events.js'
import type { MfaService } from '../../lib/mfa/service.js'

/** A fixed clock for the MFA service, in the middle of a 30 s step, moved by hand. */
export const T0 = Date.UTC(2026, 0, 2, 3, 4, 15)
export const STEP = 30_000

export interface Clock { now: number }

/** Sets the app's MFA service on a fixed clock; returns it to move. */
export function fixClock (app: FastifyInstance, at = T0): Clock {
  const clock = { now: at }
  const mfa = app.accounts.mfa as MfaService | null
  if (mfa === null) throw new Error('MFA is off in this app')
  mfa.useClock(() => clock.now)
  return clock
}

/** The TOTP code of `secret` at `at`, computed here from the secret (RFC 6238: SHA-1, 6 digits, 30 s) with otpauth directly. */
export function codeAt (secret: string, at: number): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30, timestamp: at })
}

/** The base32 secret in an otpauth:// URI. */
export function secretOf (uri: string): string {
  const secret = new URL(uri).searchParams.get('secret')
  if (secret === null) throw new Error(`no secret in ${uri}`)
  return secret
}

export function body (res: LightMyRequestResponse): Record<string, unknown> {
  return JSON.parse(res.body) as Record<string, unknown>
}

/** Every mfa.* event the app emits, with its payload. */
export function recordMfaEvents (app: FastifyInstance): Array<{ name: AccountsEventName, payload: Record<string, unknown> }> {
  const seen: Array<{ name: AccountsEventName, payload: Record<string, unknown> }> = []
  for (const name of ['mfa.activated', 'mfa.deactivated', 'mfa.verified', 'mfa.failed', 'mfa.recoveryCodesRegenerated'] as const) {
    app.accounts.events.on(name, (payload) => { seen.push({ name, payload: payload as unknown as Record<string, unknown> }) })
  }
  return seen
}
