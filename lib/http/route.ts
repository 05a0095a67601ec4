import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type {
  FastifyBaseLogger, FastifyInstance, FastifySchema, HTTPMethods, onRequestAsyncHookHandler, preHandlerAsyncHookHandler, RawReplyDefaultExpression,
  RawRequestDefaultExpression, RawServerDefault, RouteGenericInterface, RouteHandlerMethod
} from 'fastify'

export type TypedInstance = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>

export type TypedHandler<S extends FastifySchema> = RouteHandlerMethod<
  RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, RouteGenericInterface, unknown, S, TypeBoxTypeProvider, FastifyBaseLogger
>

export interface RouteSpec<S extends FastifySchema> {
  method: HTTPMethods | HTTPMethods[]
  /** With its trailing slash, as Django writes it; the slash-less twin is registered too. */
  url: string
  schema: S
  onRequest?: onRequestAsyncHookHandler
  /** Runs after the body is parsed and validated (rate limits that count the account named in it). */
  preHandler?: preHandlerAsyncHookHandler[]
  handler: TypedHandler<S>
}

/**
 * Registers a route under its Django URL and, hidden from the OpenAPI document, without the trailing
 * slash (a plugin cannot set the router's ignoreTrailingSlash for its host app).
 */
export function route<S extends FastifySchema> (app: TypedInstance, spec: RouteSpec<S>): void {
  const { url, onRequest, preHandler, ...rest } = spec
  const hooks = { ...(onRequest === undefined ? {} : { onRequest }), ...(preHandler === undefined || preHandler.length === 0 ? {} : { preHandler }) }
  app.route({ ...rest, ...hooks, url })
  if (url.endsWith('/')) app.route({ ...rest, ...hooks, url: url.slice(0, -1), schema: { ...spec.schema, hide: true } })
}
