import { fastifyCookie } from '@fastify/cookie'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, FastifySchema } from 'fastify'
import { requestContext } from '../../request-context.js'
import { authOf, setAuth } from '../../core.js'
import { secureCookie } from '../../http/cookies.js'
import { securityOf } from '../../http/openapi.js'
import { countingFailures } from '../../http/rate-limit.js'
import { withoutRegisterOptions } from '../../http/register-options.js'
import { route, type RouteSpec, type TypedInstance } from '../../http/route.js'
import { prepareDialectScope } from '../../http/scope.js'
import type { LoginField } from '../../options.js'
import type { TokenClaims } from '../../tokens.js'
import { dialectCore, dialectPlugin } from '../route-plugin.js'
import { MESSAGES, SanicJwtException, sanicJwtErrorFormatter } from './errors.js'
import { resolveSanicJwtOptions, type ResolvedSanicJwtOptions, type SanicJwtOptions } from './options.js'
import { SanicJwtError, SanicJwtInvalid, SanicJwtValid, sanicJwtSchemas } from './schemas.js'
import { createSanicJwtCore } from './tokens.js'

/** Responses.get_token_response: the access token (split or whole) and, on login, the refresh token. */
function setTokenCookies (request: FastifyRequest, reply: FastifyReply, o: ResolvedSanicJwtOptions, protocol: 'http' | 'https', access: string, refresh?: string): void {
  const base = {
    path: o.cookiePath,
    secure: secureCookie(o.cookieSecure, request, protocol),
    ...(o.cookieDomain === '' ? {} : { domain: o.cookieDomain }),
    ...(o.cookieMaxAge === 0 ? {} : { maxAge: o.cookieMaxAge }),
    ...(o.cookieSamesite === undefined ? {} : { sameSite: o.cookieSamesite.toLowerCase() as 'strict' | 'lax' | 'none' })
  }
  if (o.cookieSplit) {
    const dot = access.lastIndexOf('.')
    reply.setCookie(o.cookieAccessTokenName, access.slice(0, dot), { ...base, httpOnly: false })
    reply.setCookie(o.cookieSplitSignatureName, access.slice(dot + 1), { ...base, httpOnly: true })
  } else {
    reply.setCookie(o.cookieAccessTokenName, access, { ...base, httpOnly: o.cookieHttponly })
  }
  if (refresh !== undefined) reply.setCookie(o.cookieRefreshTokenName, refresh, { ...base, httpOnly: o.cookieHttponly })
}


/**
 * A sanic-jwt path under the prefix, documented without its trailing slash (sanic-jwt's URLs), and its
 * slash twin hidden (strict_slashes is off in sanic-jwt). '/' is the prefix itself: POST /auth.
 */
function sanicRoute<S extends FastifySchema> (app: TypedInstance, spec: RouteSpec<S>): void {
  const { url, onRequest, preHandler, ...rest } = spec
  const hooks = { ...(onRequest === undefined ? {} : { onRequest }), ...(preHandler === undefined || preHandler.length === 0 ? {} : { preHandler }) }
  const path = url === '/' ? '' : url
  if (path === '' && app.prefix === '') {
    // Mounted at the root: the prefix itself is '/', with no slash-less twin.
    app.route({ ...rest, ...hooks, url: '/' })
    return
  }
  route(app, { ...spec, url: path })
  app.route({ ...rest, ...hooks, url: `${path}/`, prefixTrailingSlash: 'slash', schema: { ...spec.schema, hide: true } })
}

/**
 * The sanic-jwt 1.8 route set (POST /auth, GET /auth/verify, GET /auth/me, POST /auth/refresh), on the
 * services of `app.accounts`. Encapsulated: its parsers, validator, cookies and error formatter apply to
 * these routes only, so it sits beside the core's dialect on the same users.
 */
const routes: FastifyPluginAsync<SanicJwtOptions> = async (instance, opts) => {
  const o = resolveSanicJwtOptions(withoutRegisterOptions(opts))
  const decorator = dialectCore(instance, 'sanicJwtRoutes')
  const { users: accounts, options } = decorator
  const core = createSanicJwtCore(decorator, o)
  const app = instance.withTypeProvider<TypeBoxTypeProvider>()
  const formatError = sanicJwtErrorFormatter()
  const loginField: LoginField = options.loginField

  await prepareDialectScope(app, {
    bodyLimit: options.bodyLimit,
    formatError,
    serverError: { reasons: ['An error occurred while generating the response.'], exception: 'ServerError' }
  })
  // Cookies are parsed for these routes only; a host that registered @fastify/cookie already has them.
  if (o.cookieSet && !app.hasRequestDecorator('cookies')) await app.register(fastifyCookie)
  for (const schema of [SanicJwtError, SanicJwtValid, SanicJwtInvalid]) app.addSchema(schema)
  // The core's login budgets: every attempt per address, failures per account (429 {reasons, exception: 'TooManyRequests'}).
  const limit = decorator.limit
  const s = sanicJwtSchemas({ loginField, accessTokenName: o.accessTokenName, refreshTokenName: o.refreshTokenName, refreshTokenEnabled: o.refreshTokenEnabled, userIdKey: o.userIdKey })
  const tags = ['sanic-jwt']
  const { security } = securityOf(decorator.options.openApiSecurity, ['jwt'])
  const ERRORS = { 400: SanicJwtError, 401: SanicJwtError }

  /** @protected (with verify_exp=False for /refresh): fills request.auth with the token's claims. */
  const protect = (verifyExp: boolean) => async function sanicJwtProtected (request: FastifyRequest): Promise<void> {
    setAuth(request, decorator.names, { scheme: 'jwt', claims: core.protect(request, verifyExp) })
  }
  const claimsOf = (request: FastifyRequest): TokenClaims => {
    const auth = authOf(request, decorator.names)
    if (auth?.scheme !== 'jwt') throw new SanicJwtException('Unauthorized', 401, MESSAGES.authRequired)
    return auth.claims
  }

  sanicRoute(app, {
    method: 'POST',
    url: o.pathToAuthenticate,
    schema: { tags, summary: `Log in with ${loginField} and password for an access token${o.refreshTokenEnabled ? ' and a refresh token' : ''}`, body: s.Login, response: { 200: s.Tokens, ...ERRORS } },
    preHandler: limit('login', (body) => body[loginField]),
    async handler (request, reply) {
      const body = request.body as Record<string, unknown>
      const login = body[loginField]
      const password = body.password
      if (typeof login !== 'string' || login === '' || typeof password !== 'string' || password === '') {
        throw new SanicJwtException('AuthenticationFailed', 401, `Missing ${loginField} or password.`)
      }
      const user = await countingFailures(request, accounts.authenticateCredentials(login, password, undefined, undefined, request))
      if (options.jwt.updateLastLogin) await accounts.recordLogin(user)
      const session = core.startSession(user)
      const access = core.accessToken(user.id, session)
      const output: Record<string, string> = { [o.accessTokenName]: access }
      let refresh: string | undefined
      if (o.refreshTokenEnabled) {
        refresh = await core.issueRefreshToken(user.id, session)
        output[o.refreshTokenName] = refresh
      }
      if (o.cookieSet) setTokenCookies(request, reply, o, options.protocol, access, refresh)
      return output
    }
  })

  sanicRoute(app, {
    method: 'GET',
    url: o.pathToVerify,
    schema: { tags, summary: 'Check the access token of the request', security, response: { 200: SanicJwtValid, 400: SanicJwtError, 401: SanicJwtInvalid } },
    async handler (request) {
      let raw: string
      try {
        raw = core.token(request, false)
      } catch (error) {
        // _verify(raise_missing=True): a missing token answers 401 (outside sanic-jwt's debug mode).
        if (error instanceof SanicJwtException && error.exception !== 'InvalidAuthorizationHeader') {
          throw new SanicJwtException(error.exception, 401, error.reasons)
        }
        throw error
      }
      const decoded = await core.verify(raw, true)
      if (!decoded.ok) throw new SanicJwtException('InvalidToken', 401, decoded.reasons, false)
      return { valid: true }
    }
  })

  sanicRoute(app, {
    method: 'GET',
    url: o.pathToRetrieveUser,
    schema: { tags, summary: 'The user of the access token ({me: null} when it names no active user)', security, response: { 200: s.Me, ...ERRORS } },
    onRequest: protect(true),
    async handler (request) {
      const user = await core.userOf(claimsOf(request))
      const me = user === null ? null : { [o.userIdKey]: user.id, username: user.username, email: user.email }
      // The schema declares `me` nullable (OpenAPI 3.0); TypeBox's static type does not carry that.
      return { me } as { me: NonNullable<typeof me> }
    }
  })

  if (o.refreshTokenEnabled) {
    sanicRoute(app, {
      method: 'POST',
      url: o.pathToRefresh,
      schema: {
        tags,
        summary: 'A new access token for the refresh token, with the (possibly expired) access token of the same user',
        security,
        body: s.RefreshBody,
        response: { 200: s.AccessToken, ...ERRORS }
      },
      onRequest: protect(false),
      async handler (request, reply) {
        const user = await core.userOf(claimsOf(request))
        if (user === null) throw new SanicJwtException('AuthenticationFailed', 401, MESSAGES.authenticationFailed)
        const presented = core.token(request, true)
        const session = await core.refreshSession(presented, user.id)
        if (session === null) throw new SanicJwtException('AuthenticationFailed', 401, MESSAGES.authenticationFailed)
        const access = core.accessToken(user.id, session)
        decorator.events.emit('token.refreshed', { userId: user.id, rotated: false }, requestContext(request))
        if (o.cookieSet) setTokenCookies(request, reply, o, options.protocol, access)
        return { [o.accessTokenName]: access }
      }
    })
  }
}

export const sanicJwtRoutes = dialectPlugin(routes, 'sanic-jwt')
