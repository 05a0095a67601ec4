import { Type, type Static } from '@sinclair/typebox'
import { expect, isRecord, Seconds } from '../option-checks.js'
import type { MfaSettings } from './service.js'
import { MFA_STORE_METHODS, type MfaStore } from './store.js'

/*
 * The `mfa` option: dj-rest-auth's REST_AUTH MFA_* settings and trench's TRENCH_AUTH, camelCased. Kept apart
 * from the service so lib/options.ts composes it without loading the service (or otpauth and qrcode).
 */

export const MfaSettingsSchema = Type.Object({
  issuer: Type.Optional(Type.String({
    minLength: 1,
    description: "The issuer authenticator apps show (REST_AUTH['MFA_TOTP_ISSUER'], TRENCH_AUTH['APPLICATION_ISSUER_NAME']). Default `siteName`."
  })),
  ephemeralTokenTimeout: Type.Optional(Seconds(1, {
    default: 300,
    description: "Seconds between the password and the code: the ephemeral token's lifetime, and the activation token's (REST_AUTH['MFA_EPHEMERAL_TOKEN_TIMEOUT'])."
  })),
  recoveryCodeCount: Type.Optional(Type.Integer({
    minimum: 1,
    maximum: 50,
    default: 10,
    errorMessage: 'must be a whole number from 1 to 50',
    description: "Recovery codes per set (REST_AUTH['MFA_RECOVERY_CODE_COUNT'], TRENCH_AUTH['BACKUP_CODES_QUANTITY'])."
  }))
}, { additionalProperties: false })

export const MfaOptionSchema = Type.Union([Type.Boolean(), MfaSettingsSchema], {
  default: false,
  description: 'Two-factor sign-in (TOTP and recovery codes): `true` or its settings `{ issuer, ephemeralTokenTimeout, recoveryCodeCount }`. ' +
    "In the djoser dialect it mounts django-trench's routes (the `app` method); in the dj-rest-auth dialect `djRestAuth.mfa` mounts " +
    "dj-rest-auth's `mfa/` routes and this gives the settings. Users with MFA on get no token from a password alone in any dialect. " +
    'The records live in `store.mfa` (default in memory; `createStores()` gives the SQL one).'
})

export type MfaOption = Static<typeof MfaOptionSchema>

/** The settings an `mfa` option (and djRestAuth.mfa) resolve to; null when MFA is off. */
export function resolveMfaSettings (option: MfaOption | undefined, djRestAuthMfa: boolean, siteName: string): MfaSettings | null {
  if ((option === undefined || option === false) && !djRestAuthMfa) return null
  const given = isRecord(option) ? option : {}
  return {
    issuer: typeof given.issuer === 'string' ? given.issuer : siteName,
    ephemeralTokenTimeout: typeof given.ephemeralTokenTimeout === 'number' ? given.ephemeralTokenTimeout : 300,
    recoveryCodeCount: typeof given.recoveryCodeCount === 'number' ? given.recoveryCodeCount : 10
  }
}

/** `store.mfa`, when given, implements the port. */
export function checkMfaStore (store: unknown): asserts store is MfaStore | undefined {
  if (store === undefined) return
  expect(isRecord(store), 'store.mfa must be an MfaStore')
  const missing = MFA_STORE_METHODS.filter((m) => typeof store[m] !== 'function')
  expect(missing.length === 0, `store.mfa must implement MfaStore: missing ${missing.join(', ')}`)
}
