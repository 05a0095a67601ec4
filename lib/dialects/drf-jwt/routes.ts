import { fastifyCookie } from '@fastify/cookie'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { requestContext } from '../../request-context.js'
import { fieldError, InvalidCredentialsError } from '../../errors.js'
import { secureCookie } from '../../http/cookies.js'
import { countingFailures } from '../../http/rate-limit.js'
import { withoutRegisterOptions } from '../../http/register-options.js'
import { route } from '../../http/route.js'
import { prepareDialectScope } from '../../http/scope.js'
import { toAccountUser, type User } from '../../ports.js'
import { dialectCore, dialectPlugin } from '../route-plugin.js'
import { drfJwtErrorFormatter, LOGIN_FAILED, SERIALIZER_MESSAGES } from './errors.js'
import { resolveDrfJwtOptions, type DrfJwtOptions } from './options.js'
import { DrfJwtCustomResponse, DrfJwtDetail, DrfJwtErrors, DrfJwtToken, DrfJwtTokenBody, drfJwtSchemas } from './schemas.js'
import { DrfJwtTokens, pythonFalsy } from './tokens.js'


/**
 * drf-jwt's three views on the services of `app.accounts`. Encapsulated: its parsers, validator, error
 * formatter and (with `authCookie`) @fastify/cookie apply to these routes only. Register it after the
 * core: `app.register(drfJwtRoutes, { prefix: '/api', allowRefresh: true })`.
 */
const routes: FastifyPluginAsync<DrfJwtOptions> = async (instance, opts) => {
  const o = resolveDrfJwtOptions(withoutRegisterOptions(opts))
  const decorator = dialectCore(instance, 'drfJwtRoutes')
  const { users: accounts, options: core } = decorator
  const tokens = new DrfJwtTokens(decorator, o)
  const login = core.loginField
  const app = instance.withTypeProvider<TypeBoxTypeProvider>()

  await prepareDialectScope(app, {
    bodyLimit: core.bodyLimit,
    formatError: drfJwtErrorFormatter(o.authHeaderPrefix),
    serverError: { detail: 'A server error occurred.' }
  })
  const cookie = o.authCookie
  if (cookie !== undefined && !app.hasReplyDecorator('setCookie')) await app.register(fastifyCookie)
  for (const schema of [DrfJwtErrors, DrfJwtDetail]) app.addSchema(schema)
  // The core's login budgets (rateLimit option): every attempt per address, failures per account; 429 {detail} + Retry-After.
  const limit = decorator.limit

  const s = drfJwtSchemas(login)
  const success = o.responsePayloadHandler === undefined ? DrfJwtToken : DrfJwtCustomResponse
  const responses = { 200: success, 400: DrfJwtErrors }
  const tags = ['drf-jwt']

  /** JSONWebTokenAPIView.post: the response payload handler's body, and the cookie when configured. */
  async function respond (request: FastifyRequest, reply: FastifyReply, token: string, user: User): Promise<object> {
    if (cookie !== undefined) {
      const now = Date.now()
      reply.setCookie(cookie, token, {
        httpOnly: true,
        path: o.authCookiePath,
        maxAge: o.expirationDelta,
        expires: new Date(now + o.expirationDelta * 1000),
        ...(o.authCookieDomain === undefined ? {} : { domain: o.authCookieDomain }),
        secure: secureCookie(o.authCookieSecure, request, core.protocol),
        sameSite: o.authCookieSameSite
      })
    }
    if (o.responsePayloadHandler === undefined) return { token }
    return await o.responsePayloadHandler(token, toAccountUser(user), request)
  }

  /** VerificationBaseSerializer._check_payload and _check_user. */
  async function checked (token: string): Promise<{ payload: Record<string, unknown>, user: User }> {
    const decoded = tokens.decode(token)
    if ('failure' in decoded) throw fieldError('non_field_errors', SERIALIZER_MESSAGES[decoded.failure])
    const found = await tokens.user(decoded.payload)
    if ('failure' in found) throw fieldError('non_field_errors', SERIALIZER_MESSAGES[found.failure])
    return { payload: decoded.payload, user: found.user }
  }

  route(app, {
    method: 'POST',
    url: '/api-token-auth/',
    schema: { tags, summary: `Log in with ${login} and password for a JWT (obtain_jwt_token)`, body: s.Login, response: { ...responses, 429: DrfJwtDetail } },
    preHandler: limit('login', (body) => body[login]),
    async handler (request, reply) {
      const b = request.body as Record<string, string>
      let user: User
      try {
        user = await countingFailures(request, accounts.authenticateCredentials(b[login], b.password, undefined, undefined, request))
      } catch (error) {
        // Django's ModelBackend refuses inactive users too: one answer for all three cases.
        if (error instanceof InvalidCredentialsError) throw fieldError('non_field_errors', LOGIN_FAILED)
        throw error
      }
      if (core.jwt.updateLastLogin) await accounts.recordLogin(user)
      return respond(request, reply, tokens.issue(user), user)
    }
  })

  route(app, {
    method: 'POST',
    url: '/api-token-refresh/',
    schema: { tags, summary: 'A new token for a valid one, up to refreshExpirationDelta after the password login (refresh_jwt_token)', body: DrfJwtTokenBody, response: responses },
    async handler (request, reply) {
      const { payload, user } = await checked(request.body.token)
      const origIat = payload.orig_iat
      if (pythonFalsy(origIat) || typeof origIat !== 'number' || !Number.isFinite(origIat)) {
        throw fieldError('non_field_errors', 'orig_iat field is required.')
      }
      if (Math.floor(Date.now() / 1000) > origIat + o.refreshExpirationDelta) throw fieldError('non_field_errors', 'Refresh has expired.')
      const renewed = tokens.payload(user)
      renewed.orig_iat = origIat
      decorator.events.emit('token.refreshed', { userId: user.id, rotated: false }, requestContext(request))
      return respond(request, reply, tokens.encode(renewed), user)
    }
  })

  route(app, {
    method: 'POST',
    url: '/api-token-verify/',
    schema: { tags, summary: 'Check a token; answers it back (verify_jwt_token)', body: DrfJwtTokenBody, response: responses },
    async handler (request, reply) {
      const token = request.body.token
      const { user } = await checked(token)
      return respond(request, reply, token, user)
    }
  })
}

export const drfJwtRoutes = dialectPlugin(routes, 'drf-jwt')
