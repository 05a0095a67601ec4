import type { AnyReply } from './any-request.js'

/** An error as one dialect puts it on the wire. */
export interface WireError {
  statusCode: number
  body: unknown
  headers?: Record<string, string>
}

/** Maps any error to its dialect's wire shape; null for an error that is nobody's input (a bug: 500). */
export type ErrorFormatter = (error: unknown, body?: unknown) => WireError | null

/** Puts a wire error on the reply: its headers, status and body. */
export function sendWire (reply: AnyReply, wire: WireError): AnyReply {
  if (wire.headers !== undefined) reply.headers(wire.headers)
  return reply.code(wire.statusCode).send(wire.body)
}

/** `format`, with a 401 carrying the dialect's `WWW-Authenticate` challenge. */
export function withChallenge (format: ErrorFormatter, challenge: string): ErrorFormatter {
  const headers = { 'www-authenticate': challenge }
  return (error, body) => {
    const wire = format(error, body)
    return wire !== null && wire.statusCode === 401 ? { ...wire, headers } : wire
  }
}
