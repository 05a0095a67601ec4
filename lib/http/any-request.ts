import type { FastifyReply, FastifyRequest, RawServerBase, RouteGenericInterface } from 'fastify'

/** A request of any route and any server (HTTP/1 or HTTP/2): what authentication reads (headers, cookies). */
export type AnyRequest = FastifyRequest<RouteGenericInterface, RawServerBase>

/** A reply of any route and any server. */
export type AnyReply = FastifyReply<RouteGenericInterface, RawServerBase>
