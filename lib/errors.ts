import createError from '@fastify/error'

/**
 * Every error the services raise, with a stable `code`. The message is the human text (`detail` on the
 * wire); each dialect's formatter (lib/routes/<dialect>-errors.ts) maps these to its own wire shape.
 */

/** `{ field: [message, …] }`, DRF's validation error shape; `non_field_errors` for cross-field errors. */
export type FieldErrors = Record<string, string[]>

export interface AccountsErrorDetails {
  /** Per-field messages (validation errors). */
  fields?: FieldErrors
}

type Message = [detail: string]

export const ValidationError = createError<'ACCOUNTS_VALIDATION', 400, Message>('ACCOUNTS_VALIDATION', '%s', 400)
/** The credentials do not match an active account (deliberately one answer for all three cases). */
export const InvalidCredentialsError = createError<'ACCOUNTS_INVALID_CREDENTIALS', 401, Message>('ACCOUNTS_INVALID_CREDENTIALS', '%s', 401)
export const NotAuthenticatedError = createError<'ACCOUNTS_NOT_AUTHENTICATED', 401, Message>('ACCOUNTS_NOT_AUTHENTICATED', '%s', 401)
export const BadAuthorizationHeaderError = createError<'ACCOUNTS_BAD_AUTHORIZATION_HEADER', 401, Message>('ACCOUNTS_BAD_AUTHORIZATION_HEADER', '%s', 401)
/** A JWT that fails signature, expiry, claims, type or blacklist checks. */
export const TokenNotValidError = createError<'ACCOUNTS_TOKEN_NOT_VALID', 401, Message>('ACCOUNTS_TOKEN_NOT_VALID', '%s', 401)
/** An opaque `Token <key>` that is unknown. */
export const InvalidAuthTokenError = createError<'ACCOUNTS_INVALID_AUTH_TOKEN', 401, Message>('ACCOUNTS_INVALID_AUTH_TOKEN', '%s', 401)
export const UserInactiveError = createError<'ACCOUNTS_USER_INACTIVE', 401, Message>('ACCOUNTS_USER_INACTIVE', '%s', 401)
export const UserNotFoundError = createError<'ACCOUNTS_USER_NOT_FOUND', 401, Message>('ACCOUNTS_USER_NOT_FOUND', '%s', 401)
export const PermissionDeniedError = createError<'ACCOUNTS_PERMISSION_DENIED', 403, Message>('ACCOUNTS_PERMISSION_DENIED', '%s', 403)
export const NotFoundError = createError<'ACCOUNTS_NOT_FOUND', 404, Message>('ACCOUNTS_NOT_FOUND', '%s', 404)
/** Too many attempts from one address or at one account: wait `Retry-After` seconds. */
export const RateLimitedError = createError<'ACCOUNTS_RATE_LIMITED', 429, Message>('ACCOUNTS_RATE_LIMITED', '%s', 429)
/**
 * Thrown by a store adapter when its backing service is down, unreachable or too slow (a bounded timeout):
 * `new StoreUnavailableError(message, { cause })`. Every dialect answers 503; a host route calling the
 * services gets a 503 from Fastify's default error handler too. The adapter must recover by itself.
 */
export const StoreUnavailableError = createError<'ACCOUNTS_STORE_UNAVAILABLE', 503, [message: string, options?: { cause: unknown }]>('ACCOUNTS_STORE_UNAVAILABLE', '%s', 503)
/** A store or the mailer failed or timed out: retry later. */
export const ServiceUnavailableError = createError<'ACCOUNTS_SERVICE_UNAVAILABLE', 503, [detail: string, options?: { cause: unknown }]>('ACCOUNTS_SERVICE_UNAVAILABLE', '%s', 503)

export type AccountsError =
  | InstanceType<typeof ValidationError> & AccountsErrorDetails
  | InstanceType<typeof InvalidCredentialsError>
  | InstanceType<typeof NotAuthenticatedError>
  | InstanceType<typeof BadAuthorizationHeaderError>
  | InstanceType<typeof TokenNotValidError>
  | InstanceType<typeof InvalidAuthTokenError>
  | InstanceType<typeof UserInactiveError>
  | InstanceType<typeof UserNotFoundError>
  | InstanceType<typeof PermissionDeniedError>
  | InstanceType<typeof NotFoundError>
  | InstanceType<typeof RateLimitedError>
  | InstanceType<typeof ServiceUnavailableError>
  | InstanceType<typeof StoreUnavailableError>

const ACCOUNTS_CODES = new Set<string>([
  'ACCOUNTS_VALIDATION', 'ACCOUNTS_INVALID_CREDENTIALS', 'ACCOUNTS_NOT_AUTHENTICATED', 'ACCOUNTS_BAD_AUTHORIZATION_HEADER',
  'ACCOUNTS_TOKEN_NOT_VALID', 'ACCOUNTS_INVALID_AUTH_TOKEN', 'ACCOUNTS_USER_INACTIVE', 'ACCOUNTS_USER_NOT_FOUND',
  'ACCOUNTS_PERMISSION_DENIED', 'ACCOUNTS_NOT_FOUND', 'ACCOUNTS_RATE_LIMITED', 'ACCOUNTS_SERVICE_UNAVAILABLE', 'ACCOUNTS_STORE_UNAVAILABLE'
])

export function isAccountsError (error: unknown): error is AccountsError {
  return error instanceof Error && ACCOUNTS_CODES.has((error as { code?: unknown }).code as string)
}

/** A 400 carrying `{ field: [messages] }`. */
export function fieldErrors (fields: FieldErrors): InstanceType<typeof ValidationError> & Required<AccountsErrorDetails> {
  const error = new ValidationError(Object.entries(fields).map(([field, messages]) => `${field}: ${messages.join(' ')}`).join('; '))
  return Object.assign(error, { fields })
}

export function fieldError (field: string, message: string): ReturnType<typeof fieldErrors> {
  return fieldErrors({ [field]: [message] })
}

/** A mistake in the plugin's options, found at registration (`app.ready()` rejects with it); the message names the option. */
export class OptionsError extends Error {
  constructor (message: string) {
    super(`fastify-accounts: ${message}`)
    this.name = 'OptionsError'
  }
}
