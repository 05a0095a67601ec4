import createError from '@fastify/error'
import type { User } from '../ports.js'

/**
 * What two-factor sign-in can fail with, each a 4xx with a stable `code`. Each dialect's mfa.ts maps the
 * codes to its own wire (dj-rest-auth: `{field: [msg]}` / `{detail}`; trench: `{error}` / `{code: [msg]}`).
 */

type Message = [detail: string]

/** The ephemeral token is unknown, expired, used, or its user is gone or inactive. */
export const MfaEphemeralTokenError = createError<'ACCOUNTS_MFA_EPHEMERAL_TOKEN', 400, Message>('ACCOUNTS_MFA_EPHEMERAL_TOKEN', '%s', 400)
/** The code is not a valid TOTP code (wrong, reused, outside the window) nor an unused recovery code. */
export const MfaInvalidCodeError = createError<'ACCOUNTS_MFA_INVALID_CODE', 400, Message>('ACCOUNTS_MFA_INVALID_CODE', '%s', 400)
/** The activation token is missing, forged, expired, or another user's. */
export const MfaActivationTokenError = createError<'ACCOUNTS_MFA_ACTIVATION_TOKEN', 400, Message>('ACCOUNTS_MFA_ACTIVATION_TOKEN', '%s', 400)
export const MfaAlreadyEnabledError = createError<'ACCOUNTS_MFA_ALREADY_ENABLED', 400, Message>('ACCOUNTS_MFA_ALREADY_ENABLED', '%s', 400)
export const MfaNotEnabledError = createError<'ACCOUNTS_MFA_NOT_ENABLED', 400, Message>('ACCOUNTS_MFA_NOT_ENABLED', '%s', 400)
/** trench: a method name other than `app`, or a method that was never set up. */
export const MfaMethodNotFoundError = createError<'ACCOUNTS_MFA_METHOD_NOT_FOUND', 400, Message>('ACCOUNTS_MFA_METHOD_NOT_FOUND', '%s', 400)

/**
 * The password was right but the account has two-factor sign-in on: no token may be issued yet. Thrown by
 * every password login (MfaGuardedAccountService), so a route that knows MFA answers the second step and
 * any other (another dialect, a host route) refuses with a 403 `{detail}` instead of issuing tokens.
 */
export class MfaRequiredError extends Error {
  readonly code = 'ACCOUNTS_MFA_REQUIRED'
  readonly statusCode = 403
  /** The user the password matched, for the route that starts the second step (not enumerable: never serialized or logged). */
  declare readonly user: User

  constructor (user: User) {
    super('Two-factor authentication is required: complete the login with a code.')
    this.name = 'MfaRequiredError'
    Object.defineProperty(this, 'user', { value: user, enumerable: false })
  }
}

/** The default words, dj-rest-auth's and trench's where they have them. */
export const MFA_MESSAGES = {
  ephemeralToken: 'Invalid or expired token.',
  invalidCode: 'Invalid code.',
  activationInvalidCode: 'Invalid code. Please check your authenticator app and try again.',
  activationToken: 'Invalid or expired activation token.',
  alreadyEnabled: 'MFA is already enabled. Deactivate it before activating again.',
  notEnabled: 'MFA is not enabled.',
  deactivated: 'TOTP has been deactivated.',
  userDisabled: 'User account is disabled.',
  // trench
  methodNotFound: 'Requested MFA method does not exist.',
  methodAlreadyActive: 'MFA method already active.',
  trenchNotEnabled: '2FA is not enabled.',
  trenchInvalidCode: 'Invalid or expired code.',
  trenchCodeInvalidOrExpired: 'Code invalid or expired.',
  trenchUnauthenticated: 'Unable to login with provided credentials.',
  trenchPrimaryInactive: 'MFA Method selected as new primary method is not active',
  // Ours: trench's code/request/ answers the `app` method's otpauth:// URI again; an active secret is never shown twice here.
  trenchAppCodeRequested: 'Use the code your authenticator app shows.'
} as const

export type MfaError =
  | InstanceType<typeof MfaEphemeralTokenError>
  | InstanceType<typeof MfaInvalidCodeError>
  | InstanceType<typeof MfaActivationTokenError>
  | InstanceType<typeof MfaAlreadyEnabledError>
  | InstanceType<typeof MfaNotEnabledError>
  | InstanceType<typeof MfaMethodNotFoundError>

const MFA_CODES: ReadonlySet<string> = new Set([
  'ACCOUNTS_MFA_EPHEMERAL_TOKEN', 'ACCOUNTS_MFA_INVALID_CODE', 'ACCOUNTS_MFA_ACTIVATION_TOKEN', 'ACCOUNTS_MFA_ALREADY_ENABLED',
  'ACCOUNTS_MFA_NOT_ENABLED', 'ACCOUNTS_MFA_METHOD_NOT_FOUND'
])

export function isMfaError (error: unknown): error is MfaError {
  return error instanceof Error && MFA_CODES.has((error as { code?: unknown }).code as string)
}
