import type { FastifyError } from 'fastify'
import { isAccountsError, StoreUnavailableError } from '../../errors.js'
import { fieldErrorsFromValidation } from '../../http/validation.js'
import type { ErrorFormatter, WireError } from '../../http/wire.js'

/** sanic-jwt's exception classes (exceptions.py) that reach the wire, and Sanic's own for request errors. */
export type SanicJwtExceptionName =
  | 'AuthenticationFailed' | 'Unauthorized' | 'InvalidToken' | 'MissingAuthorizationHeader'
  | 'MissingAuthorizationCookie' | 'InvalidAuthorizationHeader'
  | 'BadRequest' | 'Forbidden' | 'NotFound' | 'MethodNotSupported' | 'PayloadTooLarge' | 'TooManyRequests' | 'ServiceUnavailable'
  | 'SanicException'

/** One of sanic-jwt's exceptions, with the status code and reasons it answers with. */
export class SanicJwtException extends Error {
  readonly exception: SanicJwtExceptionName
  readonly statusCode: number
  readonly reasons: string[]
  /** Set on /verify's answer for a token that is present but not valid: `{valid: false, reasons, exception}`. */
  readonly valid: false | undefined

  constructor (exception: SanicJwtExceptionName, statusCode: number, reasons: string | string[], valid?: false) {
    const list = Array.isArray(reasons) ? reasons : [reasons]
    super(list.join(' '))
    this.name = 'SanicJwtException'
    this.exception = exception
    this.statusCode = statusCode
    this.reasons = list
    this.valid = valid
  }
}

/** exceptions.py's default messages, and PyJWT's (with the final '.' sanic-jwt adds) for the claim checks. */
export const MESSAGES = {
  authenticationFailed: 'Authentication failed.',
  missingHeader: 'Authorization header not present.',
  missingCookie: 'Authorization cookie not present.',
  invalidHeader: 'Authorization header is invalid.',
  authRequired: 'Auth required.',
  expired: 'Signature has expired.',
  immatureNbf: 'The token is not yet valid (nbf).',
  immatureIat: 'The token is not yet valid (iat).',
  iatNotInteger: 'Issued At claim (iat) must be an integer.',
  invalidAudience: 'Invalid audience.',
  invalidIssuer: 'Invalid issuer.',
  userGone: 'User not found or inactive.',
  /** A token of a session a password change ended (beyond sanic-jwt, which has no revocation). */
  revoked: 'Token has been revoked.'
} as const

/** Sanic's exception class for a status code it raises on its own. */
function sanicExceptionFor (status: number): SanicJwtExceptionName {
  switch (status) {
    case 400: return 'BadRequest'
    case 401: return 'Unauthorized'
    case 403: return 'Forbidden'
    case 404: return 'NotFound'
    case 405: return 'MethodNotSupported'
    case 413: return 'PayloadTooLarge'
    case 429: return 'TooManyRequests'
    case 503: return 'ServiceUnavailable'
    default: return 'SanicException'
  }
}

function wire (statusCode: number, exception: string, reasons: string[], valid?: false): WireError {
  // /verify: sanic-jwt 1.8 answers `reasons`; its docs (and older releases) `reason`: both are given.
  return { statusCode, body: valid === false ? { valid, reason: reasons[0] ?? '', reasons, exception } : { reasons, exception } }
}

/**
 * The one formatter of the sanic-jwt dialect: `{reasons: [..], exception: '<class>'}` with the status
 * code the exception carries (Responses.exception_response). The plugin's own errors map onto the
 * nearest sanic-jwt exception; a malformed body is Sanic's BadRequest.
 */
export function sanicJwtErrorFormatter (): ErrorFormatter {
  return (error, body) => {
    if (error instanceof SanicJwtException) return wire(error.statusCode, error.exception, error.reasons, error.valid)
    const validation = (error as Partial<FastifyError> | null)?.validation
    if (validation !== undefined) {
      // Only the login and refresh bodies are validated; sanic-jwt compares whatever it is given and fails
      // the authentication, so a value of the wrong type or size is AuthenticationFailed.
      const fields = fieldErrorsFromValidation(validation, body)
      const reasons = Object.entries(fields).flatMap(([field, messages]) => messages.map((m) => `${field}: ${m}`))
      return wire(401, 'AuthenticationFailed', reasons.length > 0 ? reasons : [MESSAGES.authenticationFailed])
    }
    if (error instanceof StoreUnavailableError) {
      return wire(503, 'ServiceUnavailable', ['The service is temporarily unavailable. Try again later.'])
    }
    if (isAccountsError(error)) {
      switch (error.code) {
        case 'ACCOUNTS_INVALID_CREDENTIALS': return wire(401, 'AuthenticationFailed', [MESSAGES.authenticationFailed])
        case 'ACCOUNTS_VALIDATION': {
          const fields = (error as { fields?: Record<string, string[]> }).fields ?? {}
          const reasons = Object.entries(fields).flatMap(([field, messages]) => messages.map((m) => `${field}: ${m}`))
          return wire(400, 'BadRequest', reasons.length > 0 ? reasons : [error.message])
        }
        // sanic-jwt's @scoped answers a missing scope as Unauthorized with 403.
        case 'ACCOUNTS_PERMISSION_DENIED': return wire(403, 'Unauthorized', [error.message])
        default: return wire(error.statusCode, sanicExceptionFor(error.statusCode), [error.message])
      }
    }
    if (error instanceof Error && typeof (error as FastifyError).code === 'string') {
      const status = (error as FastifyError).statusCode
      if (status === undefined || status < 400 || status >= 500) return null
      const code = (error as FastifyError).code
      if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
        return wire(400, 'BadRequest', ['Failed when parsing body as json'])
      }
      return wire(status, sanicExceptionFor(status), [error.message])
    }
    return null
  }
}
