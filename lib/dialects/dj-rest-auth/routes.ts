import { fastifyCookie } from '@fastify/cookie'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Static } from '@sinclair/typebox'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { ProfileChanges } from '../../accounts.js'
import { authOf, requireUser as currentUser, setIdentity, userOf } from '../../core.js'
import { fieldError, InvalidCredentialsError, OptionsError, TokenNotValidError } from '../../errors.js'
import { authenticateHook } from '../../http/authenticate-hook.js'
import { requestCookie, secureCookie } from '../../http/cookies.js'
import { SAFE_METHODS } from '../../http/csrf.js'
import { countingFailures } from '../../http/rate-limit.js'
import { securityOf } from '../../http/openapi.js'
import { withoutRegisterOptions } from '../../http/register-options.js'
import { route } from '../../http/route.js'
import { prepareDialectScope } from '../../http/scope.js'
import { EMAIL_PATTERN } from '../../email.js'
import type { User } from '../../ports.js'
import { requestContext } from '../../request-context.js'
import type { TokenClaims } from '../../tokens.js'
import { dialectCore, dialectPlugin } from '../route-plugin.js'
import { checkCsrfToken, djRestAuthAuthenticateRequest, djRestAuthCsrf } from './authenticate.js'
import { setCsrfCookie } from './csrf-token.js'
import { djRestAuthErrorFormatter } from './errors.js'
import { BAD_REQUEST, djRestAuthUser, expiresIn, MESSAGES, tag, UNAUTHORIZED, USERNAMES } from './common.js'
import { resolveDjRestAuthOptions, type DjRestAuthOptions } from './options.js'
import { djRestAuthPasswordRoutes } from './passwords.js'
import { registrationRoutes } from './registration.js'
import { djRestAuthSessionRoutes } from './sessions.js'
import { socialRoutes } from './social.js'
import { mfaLoginStep, mfaRoutes, withMfaStep } from './mfa.js'
import { DjRestAuthJwt, DjRestAuthRefreshed, DjRestAuthTokenKey, DjRestAuthUser, djRestAuthSchemas } from './schemas.js'
import { Detail, Empty, FieldErrors, TokenError } from '../../../schemas/shared.js'

/**
 * The dj-rest-auth 5.x route set (dj_rest_auth.urls + dj_rest_auth.registration.urls), on the services of
 * `app.accounts`. Encapsulated: its parsers, cookies, validator and error formatter apply to these routes
 * only, so it can sit beside the djoser routes on the same users.
 */
const routes: FastifyPluginAsync<DjRestAuthOptions> = async (instance, opts) => {
  const dj = resolveDjRestAuthOptions(withoutRegisterOptions(opts))
  const core = dialectCore(instance, 'djRestAuthRoutes')
  const { users: accounts, tokens, options } = core
  const mandatory = dj.emailVerification === 'mandatory'
  if (options.sendActivationEmail !== mandatory) {
    throw new OptionsError(`djRestAuth.emailVerification "${dj.emailVerification}" needs sendActivationEmail: ${String(mandatory)} ` +
      '(new users are inactive exactly when verification is mandatory)')
  }
  if (mandatory && !options.activationUrl.includes('{uid}:{token}')) {
    throw new OptionsError('djRestAuth.emailVerification "mandatory" needs activationUrl to carry the key as {uid}:{token} ' +
      `(e.g. "${dj.emailConfirmationUrl.replace('{key}', '{uid}:{token}')}"), the key registration/verify-email/ takes`)
  }

  const app = instance.withTypeProvider<TypeBoxTypeProvider>()
  const s = djRestAuthSchemas(dj)
  const scheme = options.jwt.authHeaderTypes[0]
  const formatError = djRestAuthErrorFormatter(dj, scheme)
  const { security } = securityOf(core.options.openApiSecurity, ['jwt', 'token'])

  await prepareDialectScope(app, { bodyLimit: options.bodyLimit, formatError, serverError: { detail: 'A server error occurred.' } })
  if (!app.hasRequestDecorator('cookies')) await app.register(fastifyCookie)
  for (const schema of [DjRestAuthUser, DjRestAuthTokenKey, DjRestAuthJwt, DjRestAuthRefreshed, Detail, FieldErrors, TokenError, Empty]) app.addSchema(schema)

  // dj-rest-auth's throttle_scope 'dj_rest_auth', as the core's budgets: login, mailed links, activation keys.
  const limit = core.limit
  const authenticateRequest = djRestAuthAuthenticateRequest(core, dj)
  const authenticate = authenticateHook(authenticateRequest, formatError, core)
  /**
   * logout/ is AllowAny but still authenticates what is presented (DRF's perform_authentication): a bad
   * Authorization header is 401. A stale access cookie is not: dj-rest-auth answers it 401 too, which
   * leaves a browser unable to log out (and to clear the cookie); here it logs out anonymously.
   */
  async function authenticateIfPresented (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const header = request.headers.authorization
    if (typeof header === 'string' && header !== '') return authenticate(request, reply)
    const cookie = dj.useJwt && dj.jwtAuthCookie !== undefined ? requestCookie(request, dj.jwtAuthCookie) : undefined
    if (cookie === undefined || cookie === '') return
    // Out of the try: a forged cross-site request is refused (403), not logged out anonymously.
    core.checkOrigin(request)
    try {
      const { user, auth } = await authenticateRequest(request)
      setIdentity(request, core.names, user, auth)
    } catch (error) {
      if (formatError(error) === null) throw error
    }
  }

  // ---- cookies (dj_rest_auth.jwt_auth) ------------------------------------------------------------------

  const sameSite = dj.jwtAuthSameSite === false ? undefined : (dj.jwtAuthSameSite.toLowerCase() as 'lax' | 'strict' | 'none')
  const domain = dj.jwtAuthCookieDomain === undefined ? {} : { domain: dj.jwtAuthCookieDomain }

  function setCookie (reply: FastifyReply, name: string | undefined, value: string, lifetime: number, path: string): void {
    if (name === undefined) return
    reply.setCookie(name, value, {
      path, expires: new Date(Date.now() + lifetime * 1000), maxAge: lifetime, httpOnly: dj.jwtAuthHttpOnly, secure: secureCookie(dj.jwtAuthSecure, reply.request, options.protocol), sameSite, ...domain
    })
  }
  const csrf = djRestAuthCsrf(core, dj)
  /** The access cookie and, with jwtAuthCookieUseCsrf, the readable csrftoken of its session (it lives as long as the session's refresh token). */
  const setAccessCookie = (reply: FastifyReply, access: string): void => {
    setCookie(reply, dj.jwtAuthCookie, access, options.jwt.accessTokenLifetime, dj.jwtAuthCookiePath)
    if (csrf === null) return
    setCsrfCookie(reply, csrf, tokens.verify(access), {
      lifetime: options.jwt.refreshTokenLifetime, secure: secureCookie(dj.jwtAuthSecure, reply.request, options.protocol), sameSite, ...domain
    })
  }
  /** A refresh token read from its cookie: a browser sends it by itself, so the CSRF defences apply (403). */
  function checkCookieRefresh (request: FastifyRequest, refresh: string): void {
    core.checkOrigin(request)
    if (csrf === null || SAFE_METHODS.has(request.method)) return
    let claims: TokenClaims
    try {
      claims = tokens.verify(refresh, 'refresh')
    } catch {
      return // An invalid token is refused by the route as it would be from the body.
    }
    checkCsrfToken(core, csrf, request, claims)
  }
  const setRefreshCookie = (reply: FastifyReply, refresh: string): void => {
    setCookie(reply, dj.jwtAuthRefreshCookie, refresh, options.jwt.refreshTokenLifetime, dj.jwtAuthRefreshCookiePath)
  }
  /** Django's delete_cookie: empty, expired, same path, domain and SameSite (Secure when SameSite=None or a prefixed name). */
  function clearJwtCookies (reply: FastifyReply): void {
    const csrfCookie = csrf === null ? undefined : csrf.cookieName
    for (const [name, path] of [[dj.jwtAuthCookie, dj.jwtAuthCookiePath], [dj.jwtAuthRefreshCookie, dj.jwtAuthRefreshCookiePath], [csrfCookie, '/']] as const) {
      if (name === undefined) continue
      const secure = sameSite === 'none' || name.startsWith('__Secure-') || name.startsWith('__Host-')
      reply.clearCookie(name, { path, sameSite, secure, ...domain })
    }
  }

  // ---- login / logout -----------------------------------------------------------------------------------

  /** LoginSerializer: the account a login names, by username or email as allauth's authentication method says. */
  function loginOf (b: { username?: unknown, email?: unknown }): { login: string, by: 'username' | 'email' | 'usernameOrEmail' } {
    const username = typeof b.username === 'string' ? b.username : ''
    const email = typeof b.email === 'string' ? b.email : ''
    if (email !== '' && !EMAIL_PATTERN.test(email)) throw fieldError('email', MESSAGES.invalidEmail)
    switch (dj.authenticationMethod) {
      case 'email':
        if (email === '') throw fieldError('non_field_errors', MESSAGES.mustIncludeEmail)
        return { login: email, by: 'email' }
      case 'username':
        if (username === '') throw fieldError('non_field_errors', MESSAGES.mustIncludeUsername)
        return { login: username, by: 'username' }
      default:
        if (email !== '') return { login: email, by: 'email' }
        if (username !== '') return { login: username, by: 'usernameOrEmail' }
        throw fieldError('non_field_errors', MESSAGES.mustIncludeEither)
    }
  }

  /** The account a login body names, for its rate limit; none when the body names none (the address still counts). */
  function loginAccount (body: Record<string, unknown>): string | undefined {
    try {
      return loginOf(body).login
    } catch {
      return undefined
    }
  }

  async function userFromCredentials (request: FastifyRequest, b: { username?: string, email?: string, password: string }): Promise<User> {
    const { login, by } = loginOf(b)
    try {
      return await countingFailures(request, accounts.authenticateCredentials(login, b.password, by, USERNAMES, request))
    } catch (error) {
      // Unknown user, wrong password and inactive (unverified) account: Django's ModelBackend gives one answer.
      if (error instanceof InvalidCredentialsError) throw fieldError('non_field_errors', MESSAGES.badCredentials)
      throw error
    }
  }

  route(app, {
    method: 'POST',
    url: '/login/',
    schema: {
      ...tag('dj-rest-auth'),
      summary: dj.useJwt ? 'Log in with username or email: a JWT pair and the user' : 'Log in with username or email: a token key',
      body: s.Login,
      response: { 200: withMfaStep(dj, dj.useJwt ? DjRestAuthJwt : DjRestAuthTokenKey), ...BAD_REQUEST, 429: Detail }
    },
    preHandler: limit('login', loginAccount),
    async handler (request, reply) {
      // MFA on for this user: MFALoginView's first step instead of tokens.
      const user = await userFromCredentials(request, request.body).catch(async (error: unknown) => await mfaLoginStep(core, error))
      if ('ephemeral_token' in user) return user
      if (dj.sessionLogin || (dj.useJwt && options.jwt.updateLastLogin)) await accounts.recordLogin(user)
      const context = requestContext(request)
      if (!dj.useJwt) return { key: await tokens.createAuthToken(user, context) }
      const pair = await tokens.issuePair(user, undefined, context)
      const body: Static<typeof DjRestAuthJwt> = { access: pair.access, refresh: dj.jwtAuthHttpOnly ? '' : pair.refresh, user: djRestAuthUser(user) }
      if (dj.jwtAuthReturnExpiration) {
        body.access_expiration = expiresIn(options.jwt.accessTokenLifetime)
        body.refresh_expiration = expiresIn(options.jwt.refreshTokenLifetime)
      }
      setAccessCookie(reply, pair.access)
      setRefreshCookie(reply, pair.refresh)
      return body
    }
  })

  async function logout (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const auth = authOf(request, core.names)
    const user = userOf(request, core.names)
    if (auth === null && !dj.useJwt && !dj.sessionLogin) return reply.code(400).send({ detail: MESSAGES.notLoggedIn })
    // HttpOnly: the refresh token is in its cookie (the login body had ""); otherwise in the body. Either is taken.
    const fromBody = (request.body as { refresh?: string } | undefined)?.refresh
    const fromCookie = dj.useJwt && dj.jwtAuthRefreshCookie !== undefined ? requestCookie(request, dj.jwtAuthRefreshCookie) : undefined
    const refresh = dj.jwtAuthHttpOnly ? (fromCookie ?? fromBody) : (fromBody ?? fromCookie)
    // A refresh token from the cookie is one a browser sends by itself: refused cross-site (CSRF, 403) before anything ends.
    if (dj.useJwt && dj.tokenBlacklist && refresh !== undefined && refresh !== fromBody) checkCookieRefresh(request, refresh)
    const context = requestContext(request)
    if (auth?.scheme === 'token') await tokens.deleteAuthToken(auth.key, user?.id, context)
    else if (user !== null) await tokens.deleteUserAuthTokens(user.id, 'logout', context)
    if (!dj.useJwt) return reply.send({ detail: MESSAGES.loggedOut })

    clearJwtCookies(reply)
    if (!dj.tokenBlacklist) return reply.send({ detail: dj.jwtAuthCookie === undefined ? MESSAGES.nothingRevoked : MESSAGES.loggedOut })
    if (refresh === undefined) {
      return reply.code(401).send({ detail: dj.jwtAuthHttpOnly ? MESSAGES.noRefreshInCookie : MESSAGES.noRefreshInBody })
    }
    try {
      await tokens.blacklist(refresh, context)
    } catch (error) {
      // dj-rest-auth answers a bad refresh token with a bare {detail} (no code), cookies still cleared.
      if (error instanceof TokenNotValidError) return reply.code(401).send({ detail: error.message })
      throw error
    }
    return reply.send({ detail: MESSAGES.loggedOut })
  }

  route(app, {
    method: 'POST',
    url: '/logout/',
    schema: {
      ...tag('dj-rest-auth'),
      summary: dj.useJwt ? 'Log out: clear the JWT cookies and blacklist the refresh token' : 'Log out: the token key stops working',
      security,
      body: s.Logout,
      response: { 200: Detail, ...BAD_REQUEST, ...UNAUTHORIZED }
    },
    onRequest: authenticateIfPresented,
    async handler (request, reply) {
      return logout(request, reply)
    }
  })

  route(app, {
    method: 'GET',
    url: '/logout/',
    schema: { ...tag('dj-rest-auth'), summary: 'Log out (ACCOUNT_LOGOUT_ON_GET)', security, response: { 200: Detail, 405: Detail, ...BAD_REQUEST, ...UNAUTHORIZED }, hide: !dj.logoutOnGet },
    onRequest: authenticateIfPresented,
    async handler (request, reply) {
      if (!dj.logoutOnGet) return reply.code(405).send({ detail: MESSAGES.getNotAllowed })
      return logout(request, reply)
    }
  })

  // ---- passwords ----------------------------------------------------------------------------------------

  djRestAuthPasswordRoutes(app, { core, dj, schemas: s, limit, authenticate, security })

  // ---- user ---------------------------------------------------------------------------------------------

  route(app, {
    method: 'GET',
    url: '/user/',
    schema: { ...tag('dj-rest-auth'), summary: 'The current user', security, response: { 200: DjRestAuthUser, ...UNAUTHORIZED } },
    onRequest: authenticate,
    async handler (request) {
      return djRestAuthUser(currentUser(request))
    }
  })

  async function updateUser (request: FastifyRequest): Promise<DjRestAuthUser> {
    const b = request.body as { username?: string, first_name?: string, last_name?: string }
    const changes: ProfileChanges = {}
    if (b.username !== undefined) changes.username = b.username
    if (b.first_name !== undefined) changes.firstName = b.first_name
    if (b.last_name !== undefined) changes.lastName = b.last_name
    // The caller's own username, unchanged or re-cased, is no clash: dj-rest-auth answers 400 there (its issue 187).
    return djRestAuthUser(await accounts.updateProfile(currentUser(request), changes, ['username', 'firstName', 'lastName'], USERNAMES, { caller: request }))
  }

  route(app, {
    method: 'PUT',
    url: '/user/',
    schema: { ...tag('dj-rest-auth'), summary: 'Update the current user (pk and email are read-only)', security, body: s.UserUpdate, response: { 200: DjRestAuthUser, ...BAD_REQUEST, ...UNAUTHORIZED } },
    onRequest: authenticate,
    handler: updateUser
  })

  route(app, {
    method: 'PATCH',
    url: '/user/',
    schema: { ...tag('dj-rest-auth'), summary: 'Partly update the current user', security, body: s.UserPatch, response: { 200: DjRestAuthUser, ...BAD_REQUEST, ...UNAUTHORIZED } },
    onRequest: authenticate,
    handler: updateUser
  })

  // ---- JWT (only with USE_JWT, as dj_rest_auth.urls) ----------------------------------------------------

  if (dj.useJwt) {
    route(app, {
      method: 'POST',
      url: '/token/verify/',
      schema: { ...tag('dj-rest-auth'), summary: 'Check a token', body: s.TokenVerify, response: { 200: Empty, ...BAD_REQUEST, ...UNAUTHORIZED } },
      async handler (request) {
        await tokens.verifyForClient(request.body.token)
        return {}
      }
    })

    route(app, {
      method: 'POST',
      url: '/token/refresh/',
      schema: {
        ...tag('dj-rest-auth'),
        summary: 'A new access token from the posted refresh token, or from the refresh cookie',
        body: s.TokenRefresh,
        response: { 200: DjRestAuthRefreshed, ...BAD_REQUEST, ...UNAUTHORIZED }
      },
      async handler (request, reply) {
        const posted = request.body.refresh
        const raw = posted !== undefined && posted !== ''
          ? posted
          : (dj.jwtAuthRefreshCookie === undefined ? undefined : requestCookie(request, dj.jwtAuthRefreshCookie))
        if (raw === undefined) throw new TokenNotValidError(MESSAGES.noRefreshToken)
        // The refresh token came from the cookie: a browser sends it by itself (CSRF, 403).
        if (raw !== posted) checkCookieRefresh(request, raw)
        const result = await tokens.refresh(raw, requestContext(request))
        setAccessCookie(reply, result.access)
        const body: Static<typeof DjRestAuthRefreshed> = { access: result.access, access_expiration: expiresIn(options.jwt.accessTokenLifetime) }
        if (result.refresh !== undefined) {
          setRefreshCookie(reply, result.refresh)
          if (!dj.jwtAuthHttpOnly) {
            body.refresh = result.refresh
            body.refresh_expiration = expiresIn(options.jwt.refreshTokenLifetime)
          }
        }
        return body
      }
    })
  }

  // ---- registration (dj_rest_auth.registration.urls) ----------------------------------------------------

  registrationRoutes(app, { core, dj, schemas: s, limit, mandatory })
  const features = { core, dj, limit, authenticate, security, setAccessCookie, setRefreshCookie }
  mfaRoutes(app, features)
  djRestAuthSessionRoutes(app, features)
  socialRoutes(app, features)
}

export const djRestAuthRoutes = dialectPlugin(routes, 'dj-rest-auth')
