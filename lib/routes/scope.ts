import formbody from '@fastify/formbody'
import type { SwaggerOptions } from '@fastify/swagger'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Authenticator } from '../authenticate.js'
import { NotFoundError } from '../errors.js'
import { createValidatorCompiler } from './validation.js'

/** The OpenAPI security schemes the routes name when `openApiSecurity` is on; spread into @fastify/swagger's `components`. */
export const securitySchemes = {
  jwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Authorization: Bearer <access token>' },
  token: { type: 'apiKey', in: 'header', name: 'Authorization', description: 'Token <key>: an opaque token from a token login' }
} as const

/**
 * @fastify/swagger options for a document of these routes: OpenAPI 3, the security schemes, and each
 * shared schema named after its `$id` (DjoserUser, not def-0). Register it before the plugin.
 */
export function swaggerOptions (info: { title: string, version: string, description?: string }): SwaggerOptions {
  return {
    openapi: { openapi: '3.0.3', info, components: { securitySchemes: { ...securitySchemes } } },
    refResolver: {
      buildLocalReference (json, _baseUri, _fragment, i) {
        return typeof json.$id === 'string' && json.$id !== '' ? json.$id : `def-${i}`
      }
    }
  }
}

/** A route's `security`, or nothing when the host's OpenAPI document does not define the schemes. */
export function securityOf (openApiSecurity: boolean, schemes: Array<keyof typeof securitySchemes>): { security?: Array<Record<string, string[]>> } {
  return openApiSecurity ? { security: schemes.map((scheme) => ({ [scheme]: [] })) } : {}
}

/** An error as one dialect puts it on the wire. */
export interface WireError {
  statusCode: number
  body: unknown
  headers?: Record<string, string>
}

/** Maps any error to its dialect's wire shape; null for an error that is nobody's input (a bug: 500). */
export type ErrorFormatter = (error: unknown, body?: unknown) => WireError | null

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

function send (reply: FastifyReply, wire: WireError): FastifyReply {
  if (wire.headers !== undefined) reply.headers(wire.headers)
  return reply.code(wire.statusCode).send(wire.body)
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
      return wire === null ? reply.code(404).send(o.serverError) : send(reply, wire)
    })
  }
  app.setErrorHandler((error, request, reply) => {
    const wire = o.formatError(error, request.body)
    if (wire === null) {
      request.log.error({ err: error }, 'fastify-accounts: unexpected error')
      return reply.code(500).send(o.serverError)
    }
    if (wire.statusCode >= 500) request.log.error({ err: error }, 'fastify-accounts: a service failed')
    return send(reply, wire)
  })
}

/** `format`, with a 401 carrying the dialect's `WWW-Authenticate` challenge. */
export function withChallenge (format: ErrorFormatter, challenge: string): ErrorFormatter {
  const headers = { 'www-authenticate': challenge }
  return (error, body) => {
    const wire = format(error, body)
    return wire !== null && wire.statusCode === 401 ? { ...wire, headers } : wire
  }
}

/** An onRequest hook that fills request.user and request.auth, or answers in the dialect's shape. */
export function authenticateHook (authenticateRequest: Authenticator, formatError: ErrorFormatter) {
  return async function authenticate (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    try {
      const { user, auth } = await authenticateRequest(request)
      request.user = user
      request.auth = auth
    } catch (error) {
      const wire = formatError(error)
      if (wire === null) throw error
      await send(reply, wire)
    }
  }
}
