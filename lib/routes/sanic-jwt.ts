import { createHash, randomBytes } from 'node:crypto'
import { fastifyCookie } from '@fastify/cookie'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest, FastifySchema } from 'fastify'
import { toAccountUser, type AccountUser } from '../accounts.js'
import { isAccountsError } from '../errors.js'
import type { LoginField } from '../options.js'
import type { AccountsDecorator } from '../plugin.js'
import { StoreUnavailableError, type TokenStore, type User } from '../ports.js'
import { userIdFromClaim, type TokenClaims } from '../tokens.js'
import { route, type RouteSpec, type TypedInstance } from './route.js'
import { prepareDialectScope, type ErrorFormatter, type WireError, securityOf } from './scope.js'
import { fieldErrorsFromValidation } from './validation.js'
import { SanicJwtError, SanicJwtInvalid, SanicJwtValid, sanicJwtSchemas } from '../../schemas/sanic-jwt.js'
import { resolveSanicJwtOptions, type ResolvedSanicJwtOptions, type SanicJwtOptions } from './sanic-jwt-options.js'

export { resolveSanicJwtOptions, SANIC_JWT_DEFAULTS, type ResolvedSanicJwtOptions, type SanicJwtOptions } from './sanic-jwt-options.js'

// ---- errors -----------------------------------------------------------------------------------------

/** sanic-jwt's exception classes (exceptions.py) that reach the wire, and Sanic's own for request errors. */
export type SanicJwtExceptionName =
  | 'AuthenticationFailed' | 'Unauthorized' | 'InvalidToken' | 'MissingAuthorizationHeader'
  | 'MissingAuthorizationCookie' | 'InvalidAuthorizationHeader'
  | 'BadRequest' | 'Forbidden' | 'NotFound' | 'MethodNotSupported' | 'PayloadTooLarge' | 'TooManyRequests' | 'ServiceUnavailable'
  | 'SanicException'

/** One of sanic-jwt's exceptions, with the status code and reasons it answers with. */
export class SanicJwtException extends Error {
  readonly exception: SanicJwtExceptionName
  readonly statusCode: number
  readonly reasons: string[]
  /** Set on /verify's answer for a token that is present but not valid: `{valid: false, reasons, exception}`. */
  readonly valid: false | undefined

  constructor (exception: SanicJwtExceptionName, statusCode: number, reasons: string | string[], valid?: false) {
    const list = Array.isArray(reasons) ? reasons : [reasons]
    super(list.join(' '))
    this.name = 'SanicJwtException'
    this.exception = exception
    this.statusCode = statusCode
    this.reasons = list
    this.valid = valid
  }
}

/** exceptions.py's default messages, and PyJWT's (with the final '.' sanic-jwt adds) for the claim checks. */
const MESSAGES = {
  authenticationFailed: 'Authentication failed.',
  missingHeader: 'Authorization header not present.',
  missingCookie: 'Authorization cookie not present.',
  invalidHeader: 'Authorization header is invalid.',
  authRequired: 'Auth required.',
  expired: 'Signature has expired.',
  immatureNbf: 'The token is not yet valid (nbf).',
  immatureIat: 'The token is not yet valid (iat).',
  iatNotInteger: 'Issued At claim (iat) must be an integer.',
  invalidAudience: 'Invalid audience.',
  invalidIssuer: 'Invalid issuer.',
  userGone: 'User not found or inactive.'
} as const

/** Sanic's exception class for a status code it raises on its own. */
function sanicExceptionFor (status: number): SanicJwtExceptionName {
  switch (status) {
    case 400: return 'BadRequest'
    case 401: return 'Unauthorized'
    case 403: return 'Forbidden'
    case 404: return 'NotFound'
    case 405: return 'MethodNotSupported'
    case 413: return 'PayloadTooLarge'
    case 429: return 'TooManyRequests'
    case 503: return 'ServiceUnavailable'
    default: return 'SanicException'
  }
}

function wire (statusCode: number, exception: string, reasons: string[], valid?: false): WireError {
  // /verify: sanic-jwt 1.8 answers `reasons`; its docs (and older releases) `reason`: both are given.
  return { statusCode, body: valid === false ? { valid, reason: reasons[0] ?? '', reasons, exception } : { reasons, exception } }
}

/**
 * The one formatter of the sanic-jwt dialect: `{reasons: [..], exception: '<class>'}` with the status
 * code the exception carries (Responses.exception_response). The plugin's own errors map onto the
 * nearest sanic-jwt exception; a malformed body is Sanic's BadRequest.
 */
export function sanicJwtErrorFormatter (): ErrorFormatter {
  return (error, body) => {
    if (error instanceof SanicJwtException) return wire(error.statusCode, error.exception, error.reasons, error.valid)
    const validation = (error as Partial<FastifyError> | null)?.validation
    if (validation !== undefined) {
      // Only the login and refresh bodies are validated; sanic-jwt compares whatever it is given and fails
      // the authentication, so a value of the wrong type or size is AuthenticationFailed.
      const fields = fieldErrorsFromValidation(validation, body)
      const reasons = Object.entries(fields).flatMap(([field, messages]) => messages.map((m) => `${field}: ${m}`))
      return wire(401, 'AuthenticationFailed', reasons.length > 0 ? reasons : [MESSAGES.authenticationFailed])
    }
    if (error instanceof StoreUnavailableError) {
      return wire(503, 'ServiceUnavailable', ['The service is temporarily unavailable. Try again later.'])
    }
    if (isAccountsError(error)) {
      switch (error.code) {
        case 'ACCOUNTS_INVALID_CREDENTIALS': return wire(401, 'AuthenticationFailed', [MESSAGES.authenticationFailed])
        case 'ACCOUNTS_VALIDATION': {
          const fields = (error as { fields?: Record<string, string[]> }).fields ?? {}
          const reasons = Object.entries(fields).flatMap(([field, messages]) => messages.map((m) => `${field}: ${m}`))
          return wire(400, 'BadRequest', reasons.length > 0 ? reasons : [error.message])
        }
        // sanic-jwt's @scoped answers a missing scope as Unauthorized with 403.
        case 'ACCOUNTS_PERMISSION_DENIED': return wire(403, 'Unauthorized', [error.message])
        default: return wire(error.statusCode, sanicExceptionFor(error.statusCode), [error.message])
      }
    }
    if (error instanceof Error && typeof (error as FastifyError).code === 'string') {
      const status = (error as FastifyError).statusCode
      if (status === undefined || status < 400 || status >= 500) return null
      const code = (error as FastifyError).code
      if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
        return wire(400, 'BadRequest', ['Failed when parsing body as json'])
      }
      return wire(status, sanicExceptionFor(status), [error.message])
    }
    return null
  }
}

// ---- tokens -----------------------------------------------------------------------------------------

/**
 * Verification options layered over the core verifier's (same key, same single algorithm): the time
 * and audience/issuer checks are made here, as PyJWT makes them for sanic-jwt (its leeway, its claims).
 * `/^/` matches any audience or issuer string; only the claim's type is still checked by fast-jwt.
 */
const SIGNATURE_ONLY = { ignoreExpiration: true, ignoreNotBefore: true, requiredClaims: [], allowedAud: /^/, allowedIss: /^/ }

type Decoded = { ok: true, claims: TokenClaims } | { ok: false, reasons: string[] }

interface SanicJwtCore {
  /** sanic-jwt's _get_token: the cookie (when on), then the header; for refresh, the body's refresh token. */
  token: (request: FastifyRequest, refresh: boolean) => string
  /** sanic-jwt's _decode + the claim checks of _verify. */
  decode: (token: string, verifyExp: boolean) => Decoded
  /** @protected: the verified claims of the request's access token, or Unauthorized. */
  protect: (request: FastifyRequest, verifyExp: boolean) => TokenClaims
  /** retrieve_user: the active user the claims name, or null. */
  userOf: (claims: TokenClaims) => Promise<User | null>
  accessToken: (userId: number) => string
  issueRefreshToken: (userId: number) => Promise<string>
  refreshTokenBelongsTo: (token: string, userId: number) => Promise<boolean>
}

/**
 * The refresh record key (`jti`) of a sanic-jwt refresh token: only this hash is stored, in the core's
 * TokenStore. Exported for imports: `store.tokens.saveRefreshToken({ jti: sanicJwtRefreshKey(token), userId,
 * family: sanicJwtRefreshKey(token), expiresAt })` carries a live refresh token over from a Sanic app.
 */
export function sanicJwtRefreshKey (token: string): string {
  return `sanic-jwt:${createHash('sha256').update(token).digest('hex')}`
}

/**
 * The core's TokenStore, where sanic-jwt refresh tokens are kept. AccountsDecorator does not expose it
 * (yet): `app.accounts.store` when the core provides it, else the `store` option the core was given.
 */
export function tokenStoreOf (decorator: AccountsDecorator): TokenStore {
  return decorator.store.tokens
}

function cookiesOf (request: FastifyRequest): Record<string, string | undefined> {
  const parsed = (request as { cookies?: Record<string, string | undefined> | null }).cookies
  if (parsed !== undefined && parsed !== null) return parsed
  const header = request.headers.cookie
  return typeof header === 'string' && header !== '' ? fastifyCookie.parse(header) : {}
}

function createCore (decorator: AccountsDecorator, o: ResolvedSanicJwtOptions): SanicJwtCore {
  const { accounts, jwt } = decorator
  const core = decorator.options.jwt
  const refreshLifetime = o.refreshTokenLifetime ?? core.refreshTokenLifetime

  function fromCookies (request: FastifyRequest, refresh: boolean): string | undefined {
    const cookies = cookiesOf(request)
    if (refresh) return cookies[o.cookieRefreshTokenName]
    const token = cookies[o.cookieAccessTokenName]
    if (o.cookieSplit && token !== undefined && token !== '') return `${token}.${cookies[o.cookieSplitSignatureName] ?? ''}`
    return token
  }

  function fromHeader (request: FastifyRequest, refresh: boolean): unknown {
    const raw = request.headers[o.authorizationHeader]
    const header = Array.isArray(raw) ? raw[0] : raw
    if (header === undefined) return undefined
    let token: unknown = header
    const prefix = o.authorizationHeaderPrefix
    if (prefix !== '') {
      // Python's header.split(" "): exactly the prefix, one space, the token. A bare prefix is an empty token.
      const parts = header.split(' ')
      if (parts.length === 1 && parts[0] === prefix) token = ''
      else if (parts.length !== 2 || parts[0] !== prefix) throw new SanicJwtException('InvalidAuthorizationHeader', 400, MESSAGES.invalidHeader)
      else token = parts[1]
    }
    if (refresh) token = (request.body as Record<string, unknown> | undefined)?.[o.refreshTokenName]
    return token
  }

  function token (request: FastifyRequest, refresh: boolean): string {
    if (o.cookieSet) {
      const found = fromCookies(request, refresh)
      if (found !== undefined && found !== '') return found
      if (o.cookieStrict) throw new SanicJwtException('MissingAuthorizationCookie', 400, MESSAGES.missingCookie)
    }
    const found = fromHeader(request, refresh)
    if (typeof found === 'string' && found !== '') return found
    throw new SanicJwtException('MissingAuthorizationHeader', 400, MESSAGES.missingHeader)
  }

  function decode (token: string, verifyExp: boolean): Decoded {
    let verified: unknown
    try {
      verified = jwt.verify(token, SIGNATURE_ONLY)
    } catch {
      return { ok: false, reasons: [MESSAGES.authRequired] }
    }
    if (typeof verified !== 'object' || verified === null || Array.isArray(verified)) return { ok: false, reasons: [MESSAGES.authRequired] }
    const claims = verified as TokenClaims
    // A simplejwt refresh token signed with the same key is not an access token.
    const type = claims[core.tokenTypeClaim]
    if (type !== undefined && type !== 'access') return { ok: false, reasons: [MESSAGES.authRequired] }
    const now = Math.floor(Date.now() / 1000)
    const leeway = o.leeway
    const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value)
    // PyJWT's order: iat, nbf, exp, iss, aud.
    if ('iat' in claims) {
      if (!isNumber(claims.iat)) return { ok: false, reasons: [MESSAGES.iatNotInteger] }
      if (claims.iat > now + leeway) return { ok: false, reasons: [MESSAGES.immatureIat] }
    }
    if ('nbf' in claims) {
      if (!isNumber(claims.nbf)) return { ok: false, reasons: [MESSAGES.authRequired] }
      if (claims.nbf > now + leeway) return { ok: false, reasons: [MESSAGES.immatureNbf] }
    }
    // sanic-jwt always writes exp; a token without one would never expire, so it is refused.
    if (!isNumber(claims.exp)) return { ok: false, reasons: [MESSAGES.authRequired] }
    if (verifyExp && claims.exp <= now - leeway) return { ok: false, reasons: [MESSAGES.expired] }
    if (o.claimIss !== undefined) {
      if (!('iss' in claims)) return { ok: false, reasons: [MESSAGES.authRequired] }
      if (claims.iss !== o.claimIss) return { ok: false, reasons: [MESSAGES.invalidIssuer] }
    }
    // PyJWT's _validate_aud: an empty aud counts as none; a token with an audience nobody expects is refused.
    const aud = claims.aud
    const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : aud === undefined || aud === null ? [] : [aud]
    const named = audiences.filter((value) => value !== '')
    if (o.claimAud === undefined) {
      if (named.length > 0) return { ok: false, reasons: [MESSAGES.invalidAudience] }
    } else {
      if (named.length === 0) return { ok: false, reasons: [MESSAGES.authRequired] }
      if (!named.includes(o.claimAud)) return { ok: false, reasons: [MESSAGES.invalidAudience] }
    }
    return { ok: true, claims }
  }

  function protect (request: FastifyRequest, verifyExp: boolean): TokenClaims {
    let raw: string
    try {
      raw = token(request, false)
    } catch (error) {
      if (error instanceof SanicJwtException) throw new SanicJwtException('Unauthorized', 401, error.reasons)
      throw error
    }
    const decoded = decode(raw, verifyExp)
    if (!decoded.ok) throw new SanicJwtException('Unauthorized', 401, decoded.reasons)
    return decoded.claims
  }

  async function userOf (claims: TokenClaims): Promise<User | null> {
    const id = userIdFromClaim(claims[o.userIdKey])
    const user = id === null ? null : await accounts.findUser(id)
    return user !== null && user.isActive ? user : null
  }

  function accessToken (userId: number): string {
    const now = Math.floor(Date.now() / 1000)
    // Authentication.add_claims: exp, then iss, iat, nbf, aud when configured.
    const payload: Record<string, unknown> = { [o.userIdKey]: userId, exp: now + o.expirationDelta }
    if (o.claimIss !== undefined) payload.iss = o.claimIss
    if (o.claimIat) payload.iat = now
    if (o.claimNbf) payload.nbf = now + o.leeway + o.claimNbfDelta
    if (o.claimAud !== undefined) payload.aud = o.claimAud
    // The core signer adds iat unless told not to; sanic-jwt writes it only with claim_iat.
    return o.claimIat ? jwt.sign(payload) : jwt.sign(payload, { noTimestamp: true })
  }

  async function issueRefreshToken (userId: number): Promise<string> {
    // utils.generate_token: 24 random bytes, hex.
    const token = randomBytes(24).toString('hex')
    const key = sanicJwtRefreshKey(token)
    await tokenStoreOf(decorator).saveRefreshToken({ jti: key, userId, family: key, expiresAt: new Date(Date.now() + refreshLifetime * 1000) })
    return token
  }

  async function refreshTokenBelongsTo (token: string, userId: number): Promise<boolean> {
    const record = await tokenStoreOf(decorator).findRefreshToken(sanicJwtRefreshKey(token))
    return record !== null && record.userId === userId && record.revokedAt === null && record.expiresAt.getTime() > Date.now()
  }

  return { token, decode, protect, userOf, accessToken, issueRefreshToken, refreshTokenBelongsTo }
}

// ---- cookies ----------------------------------------------------------------------------------------

/** Responses.get_token_response: the access token (split or whole) and, on login, the refresh token. */
function setTokenCookies (reply: FastifyReply, o: ResolvedSanicJwtOptions, access: string, refresh?: string): void {
  const base = {
    path: o.cookiePath,
    secure: o.cookieSecure,
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

// ---- routes -----------------------------------------------------------------------------------------

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
export const sanicJwtRoutes: FastifyPluginAsync<SanicJwtOptions> = async (instance, opts) => {
  const o = resolveSanicJwtOptions(opts)
  const decorator = instance.accounts
  const { accounts, options } = decorator
  if (o.refreshTokenEnabled) tokenStoreOf(decorator)
  const core = createCore(decorator, o)
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
  // The core's per-address and per-account login limits (429 {reasons, exception: 'TooManyRequests'}).
  const limit = decorator.limit
  const s = sanicJwtSchemas({ loginField, accessTokenName: o.accessTokenName, refreshTokenName: o.refreshTokenName, refreshTokenEnabled: o.refreshTokenEnabled, userIdKey: o.userIdKey })
  const tags = ['sanic-jwt']
  const { security } = securityOf(instance.accounts.options.openApiSecurity, ['jwt'])
  const ERRORS = { 400: SanicJwtError, 401: SanicJwtError }

  /** @protected (with verify_exp=False for /refresh): fills request.auth with the token's claims. */
  const protect = (verifyExp: boolean) => async function sanicJwtProtected (request: FastifyRequest): Promise<void> {
    request.auth = { scheme: 'jwt', claims: core.protect(request, verifyExp) }
  }
  const claimsOf = (request: FastifyRequest): TokenClaims => {
    if (request.auth?.scheme !== 'jwt') throw new SanicJwtException('Unauthorized', 401, MESSAGES.authRequired)
    return request.auth.claims
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
      const user = await accounts.authenticateCredentials(login, password)
      if (options.jwt.updateLastLogin) await accounts.recordLogin(user)
      const access = core.accessToken(user.id)
      const output: Record<string, string> = { [o.accessTokenName]: access }
      let refresh: string | undefined
      if (o.refreshTokenEnabled) {
        refresh = await core.issueRefreshToken(user.id)
        output[o.refreshTokenName] = refresh
      }
      if (o.cookieSet) setTokenCookies(reply, o, access, refresh)
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
      const decoded = core.decode(raw, true)
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
        if (!(await core.refreshTokenBelongsTo(presented, user.id))) {
          throw new SanicJwtException('AuthenticationFailed', 401, MESSAGES.authenticationFailed)
        }
        const access = core.accessToken(user.id)
        decorator.events.emit('token.refreshed', { userId: user.id, rotated: false })
        if (o.cookieSet) setTokenCookies(reply, o, access)
        return { [o.accessTokenName]: access }
      }
    })
  }
}

/**
 * An onRequest hook for any route of the app, as sanic-jwt's @protected + @inject_user: fills
 * request.user (the active user the token names) and request.auth ({scheme: 'jwt', claims}) from the
 * header or, with cookieSet, the cookie; otherwise answers 401 {reasons, exception: 'Unauthorized'}.
 */
export function sanicJwtAuthenticator (decorator: AccountsDecorator, options: SanicJwtOptions = {}) {
  const o = resolveSanicJwtOptions(options)
  const core = createCore(decorator, o)
  const formatError = sanicJwtErrorFormatter()
  return async function sanicJwtAuthenticate (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    try {
      const claims = core.protect(request, true)
      const user = await core.userOf(claims)
      if (user === null) throw new SanicJwtException('Unauthorized', 401, MESSAGES.userGone)
      request.user = toAccountUser(user) satisfies AccountUser
      request.auth = { scheme: 'jwt', claims }
    } catch (error) {
      const answer = formatError(error)
      if (answer === null) throw error
      await reply.code(answer.statusCode).send(answer.body)
    }
  }
}
