import type { FastifyError } from 'fastify'
import { InvalidCredentialsError, isAccountsError, StoreUnavailableError } from '../../errors.js'
import { formatDrfError } from '../../http/drf-errors.js'
import { fieldErrorsFromValidation } from '../../http/validation.js'
import { withChallenge, type ErrorFormatter, type WireError } from '../../http/wire.js'
import { DRF_JWT_DEFAULTS } from './options.js'
import type { DecodeFailure, UserFailure } from './tokens.js'

export const NO_CREDENTIALS = 'Authentication credentials were not provided.'
export const LOGIN_FAILED = 'Unable to log in with provided credentials.'

/** The serializers' messages (VerificationBaseSerializer), as 400 {non_field_errors}. */
export const SERIALIZER_MESSAGES: Record<DecodeFailure | UserFailure, string> = {
  expired: 'Signature has expired.',
  decode: 'Error decoding signature.',
  // PyJWT's other InvalidTokenErrors (audience, issuer, algorithm) escape drf-jwt's serializers as a 500.
  invalid: 'Error decoding signature.',
  payload: 'Invalid payload.',
  missing: "User doesn't exist.",
  // A token of a session a password change ended: the maintained drf-jwt fork's words for a revoked token.
  revoked: 'Token is blacklisted.',
  inactive: 'User account is disabled.'
}

/** JSONWebTokenAuthentication's messages, as 401 {detail}. */
export const AUTHENTICATION_MESSAGES: Record<DecodeFailure | UserFailure, string> = {
  expired: 'Signature has expired.',
  decode: 'Error decoding signature.',
  invalid: 'Incorrect authentication credentials.',
  payload: 'Invalid payload.',
  missing: 'Invalid signature.',
  revoked: 'Token is blacklisted.',
  inactive: 'User account is disabled.'
}

/**
 * DRF's shapes as drf-jwt answers: serializer failures 400 `{field: [..]}` / `{non_field_errors: [..]}`,
 * authentication failures 401 `{detail}` with `WWW-Authenticate: <prefix> realm="api"`. No `code` keys
 * (drf-jwt has none). Fastify's own request errors (bad JSON, too large, media type) as the core words them.
 */
export function drfJwtErrorFormatter (authHeaderPrefix: string = DRF_JWT_DEFAULTS.authHeaderPrefix): ErrorFormatter {
  return withChallenge((error, body) => formatDrfJwtError(error, body) ?? formatDrfError(error, body), `${authHeaderPrefix} realm="api"`)
}

function formatDrfJwtError (error: unknown, body?: unknown): WireError | null {
  const validation = (error as Partial<FastifyError> | null)?.validation
  if (validation !== undefined) {
    if ((error as FastifyError).validationContext === 'body') return { statusCode: 400, body: fieldErrorsFromValidation(validation, body) }
    return { statusCode: 400, body: { detail: (error as Error).message } }
  }
  if (error instanceof StoreUnavailableError) {
    return { statusCode: 503, body: { detail: 'The service is temporarily unavailable. Try again later.' } }
  }
  if (isAccountsError(error)) {
    if ('fields' in error && error.fields !== undefined) return { statusCode: 400, body: error.fields }
    if (error instanceof InvalidCredentialsError) return { statusCode: 400, body: { non_field_errors: [LOGIN_FAILED] } }
    return { statusCode: error.statusCode, body: { detail: error.message } }
  }
  return null
}
