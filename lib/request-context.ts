import type { FastifyBaseLogger } from 'fastify'

/**
 * Who asked: what audit events and session records say of the request behind them. Services never see a
 * Fastify request; the routes pass this small record instead (AsyncLocalStorage would carry it for free to
 * the eye, but costs a promise hook on every await on Node 20).
 */
export interface RequestContext {
  /** Fastify's request id (`request.id`, from `requestIdHeader` when the app trusts one). */
  requestId: string
  /** The client address as Fastify sees it (`trustProxy` decides whether X-Forwarded-For counts). */
  ip: string
  /** The User-Agent header, cut to 512 characters; null when absent. */
  userAgent: string | null
}

/** The parts of a request a context is taken from; a FastifyRequest fits. */
export interface RequestLike {
  id: string
  ip: string
  headers: { 'user-agent'?: string | string[] | undefined }
}

const USER_AGENT_MAX = 512

export function requestContext (request: RequestLike): RequestContext {
  const header = request.headers['user-agent']
  const userAgent = Array.isArray(header) ? header[0] : header
  return {
    requestId: request.id,
    ip: request.ip,
    userAgent: userAgent === undefined || userAgent === '' ? null : userAgent.slice(0, USER_AGENT_MAX)
  }
}

/**
 * A request as the account services take it: where it came from (for events) and its logger (so a line
 * logged for it, a mail failing in the background, carries its request id). A FastifyRequest fits.
 */
export interface Caller extends RequestLike {
  log: FastifyBaseLogger
}

/** The context of `caller`; null without one (a service called from a script). */
export function contextOf (caller: RequestLike | undefined): RequestContext | null {
  return caller === undefined ? null : requestContext(caller)
}
