import type { FastifyError } from 'fastify'
import type { TokenMessage } from '../authenticate.js'
import { isAccountsError } from '../errors.js'
import { StoreUnavailableError } from '../ports.js'
import { fieldErrorsFromValidation } from './validation.js'
import type { WireError } from './wire.js'


/** simplejwt's `code` for each of our errors that carries one on the wire. */
const SIMPLEJWT_CODES: Record<string, string> = {
  ACCOUNTS_TOKEN_NOT_VALID: 'token_not_valid',
  ACCOUNTS_BAD_AUTHORIZATION_HEADER: 'bad_authorization_header',
  ACCOUNTS_USER_INACTIVE: 'user_inactive',
  ACCOUNTS_USER_NOT_FOUND: 'user_not_found'
}

/** Fastify's own request errors, in DRF's words where DRF has them. */
function fastifyError (error: FastifyError): WireError | null {
  const status = error.statusCode
  if (status === undefined || status < 400 || status >= 500) return null
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { statusCode: 400, body: { detail: `JSON parse error - ${error.message}` } }
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { statusCode: 413, body: { detail: 'Request body is too large.' } }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { statusCode: 415, body: { detail: 'Unsupported media type in request.' } }
    default:
      return { statusCode: status, body: { detail: error.message } }
  }
}

/** DRF's shapes for every error, without a challenge: the DRF-based dialects build on it. */
export function formatDrfError (error: unknown, body?: unknown): WireError | null {
  const validation = (error as Partial<FastifyError> | null)?.validation
  if (validation !== undefined) {
    const context = (error as FastifyError).validationContext
    if (context === 'params') return { statusCode: 404, body: { detail: 'Not found.' } }
    if (context === 'body') return { statusCode: 400, body: fieldErrorsFromValidation(validation, body) }
    return { statusCode: 400, body: { detail: (error as Error).message } }
  }
  if (error instanceof StoreUnavailableError) {
    return { statusCode: 503, body: { detail: 'The service is temporarily unavailable. Try again later.' } }
  }
  if (isAccountsError(error)) {
    if ('fields' in error && error.fields !== undefined) return { statusCode: 400, body: error.fields }
    const payload: Record<string, unknown> = { detail: error.message }
    const code = SIMPLEJWT_CODES[error.code]
    if (code !== undefined) payload.code = code
    const messages = (error as { tokenMessages?: TokenMessage[] }).tokenMessages
    if (messages !== undefined) payload.messages = messages
    return { statusCode: error.statusCode, body: payload }
  }
  if (error instanceof Error && typeof (error as FastifyError).code === 'string') return fastifyError(error as FastifyError)
  return null
}
