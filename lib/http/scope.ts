import formbody from '@fastify/formbody'
import type { FastifyInstance } from 'fastify'
import { NotFoundError } from '../errors.js'
import { createValidatorCompiler } from './validation.js'
import { sendWire, type ErrorFormatter } from './wire.js'

export interface DialectScopeOptions {
  bodyLimit: number
  formatError: ErrorFormatter
  /** The body of a 500, in the dialect's shape. */
  serverError: unknown
}

/** DRF's CharField takes a number as its text (and refuses booleans, which the schema then does). */
function numbersToText (body: unknown): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return
  const fields = body as Record<string, unknown>
  for (const key of Object.keys(fields)) {
    const value = fields[key]
    if (typeof value === 'number' && Number.isFinite(value)) fields[key] = String(value)
  }
}

/**
 * What every dialect's encapsulated scope shares: JSON and form bodies (an empty JSON body reads as {},
 * as DRF does), a validator that reports every field at once, and one error formatter for all its errors.
 */
export async function prepareDialectScope (app: FastifyInstance, o: DialectScopeOptions): Promise<void> {
  await app.register(formbody, { bodyLimit: o.bodyLimit })
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser(['application/json', 'text/plain'])
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: o.bodyLimit }, (request, body, done) => {
    const text = body.toString()
    if (text.trim() === '') return done(null, {})
    parseJson(request, text, done)
  })
  app.setValidatorCompiler(createValidatorCompiler())
  app.addHook('preValidation', async (request) => {
    // A missing body reads as {}: every required field is then reported, not "body must be object".
    if (request.body === undefined) request.body = {}
    else numbersToText(request.body)
  })
  if (app.prefix !== '') {
    // An unknown path under the dialect's prefix answers in the dialect's shape (at the root it is the host's).
    app.setNotFoundHandler(async (request, reply) => {
      const wire = o.formatError(new NotFoundError('Not found.'), request.body)
      return wire === null ? reply.code(404).send(o.serverError) : sendWire(reply, wire)
    })
  }
  app.setErrorHandler((error, request, reply) => {
    const wire = o.formatError(error, request.body)
    if (wire === null) {
      request.log.error({ err: error }, 'fastify-accounts: unexpected error')
      return reply.code(500).send(o.serverError)
    }
    if (wire.statusCode >= 500) request.log.error({ err: error }, 'fastify-accounts: a service failed')
    return sendWire(reply, wire)
  })
}
