import { fastifyCookie } from '@fastify/cookie'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { toAccountUser, type AccountUser } from '../accounts.js'
import type { Authenticator, RequestAuth } from '../authenticate.js'
import { fieldError, InvalidCredentialsError, isAccountsError, NotAuthenticatedError } from '../errors.js'
import { OptionsError } from '../options.js'
import type { AccountsDecorator } from '../plugin.js'
import { StoreUnavailableError, type User } from '../ports.js'
import { userIdFromClaim } from '../tokens.js'
import {
  DrfJwtCustomResponse, DrfJwtDetail, DrfJwtErrors, DrfJwtToken, DrfJwtTokenBody, drfJwtSchemas
} from '../../schemas/drf-jwt.js'
import { formatDrfError } from './djoser-errors.js'
import { route } from './route.js'
import { authenticateHook, prepareDialectScope, type ErrorFormatter, type WireError, withChallenge } from './scope.js'
import { fieldErrorsFromValidation } from './validation.js'
import { DRF_JWT_DEFAULTS, resolveDrfJwtOptions, type DrfJwtOptions, type DrfJwtPayload, type ResolvedDrfJwtOptions } from './drf-jwt-options.js'

export { DRF_JWT_DEFAULTS, resolveDrfJwtOptions, type DrfJwtOptions, type DrfJwtPayload, type ResolvedDrfJwtOptions } from './drf-jwt-options.js'

/**
 * The django-rest-framework-jwt 1.11 dialect (jpadilla/django-rest-framework-jwt): `api-token-auth/`,
 * `api-token-refresh/` and `api-token-verify/`, its token payload, its `Authorization: JWT <token>`
 * authentication and its messages. Tokens are signed with the core's key and algorithm.
 */

/** Fastify's own register options, passed to the plugin beside ours. */
const REGISTER_OPTIONS = new Set(['prefix', 'logLevel', 'logSerializers'])

// ---- tokens -----------------------------------------------------------------------------------------

/** Why a token did not decode, in PyJWT's terms: ExpiredSignatureError, DecodeError, another InvalidTokenError. */
type DecodeFailure = 'expired' | 'decode' | 'invalid'
/** Why a decoded payload names no usable user (drf-jwt's authenticate_credentials / _check_user). */
type UserFailure = 'payload' | 'missing' | 'inactive'

/** fast-jwt's codes for what PyJWT raises as an InvalidTokenError that is not a DecodeError. */
const INVALID_NOT_DECODE = new Set([
  'FAST_JWT_INVALID_ALGORITHM', 'FAST_JWT_MISSING_SIGNATURE', 'FAST_JWT_INVALID_CLAIM_VALUE', 'FAST_JWT_INVALID_CLAIM_TYPE',
  'FAST_JWT_INACTIVE', 'FAST_JWT_MISSING_REQUIRED_CLAIM'
])

/** Python's truthiness, for `if not username` and `if orig_iat`. */
function pythonFalsy (value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return true
  if (Array.isArray(value)) return value.length === 0
  return typeof value === 'object' && Object.keys(value).length === 0
}

/** drf-jwt's utils.py on the core's signer: payload, encode, decode, and the user a payload names. */
export class DrfJwtTokens {
  readonly #d: AccountsDecorator
  readonly #o: ResolvedDrfJwtOptions

  constructor (accounts: AccountsDecorator, options: ResolvedDrfJwtOptions) {
    this.#d = accounts
    this.#o = options
  }

  /** jwt_payload_handler: user_id, username, exp, email[, orig_iat][, aud][, iss]. */
  payload (user: User | AccountUser, now = Date.now()): Record<string, unknown> {
    const core = this.#d.options
    const seconds = Math.floor(now / 1000)
    const username = core.loginField === 'email' ? user.email : user.username
    const payload: DrfJwtPayload = { user_id: user.id, username, exp: seconds + this.#o.expirationDelta, email: user.email }
    if (this.#o.allowRefresh) payload.orig_iat = seconds
    if (core.jwt.audience !== undefined) payload.aud = core.jwt.audience
    if (core.jwt.issuer !== undefined) payload.iss = core.jwt.issuer
    return this.#o.payloadHandler === undefined ? payload : this.#o.payloadHandler('password' in user ? toAccountUser(user) : user, payload)
  }

  /** jwt_encode_handler: the core's key and algorithm; no `iat` (drf-jwt writes none). */
  encode (payload: Record<string, unknown>): string {
    return this.#d.jwt.sign(payload, { noTimestamp: true })
  }

  /** A new token for `user` (drf-jwt's "creating a new token manually"). */
  issue (user: User | AccountUser): string {
    return this.encode(this.payload(user))
  }

  /** jwt_decode_handler: signature, algorithm, exp (unless verifyExpiration is off, with the core's leeway), aud, iss. */
  decode (token: string): { payload: Record<string, unknown> } | { failure: DecodeFailure } {
    if (token === '') return { failure: 'decode' }
    let claims: unknown
    try {
      claims = this.#o.verifyExpiration ? this.#d.jwt.verify(token) : this.#d.jwt.verify(token, { ignoreExpiration: true })
    } catch (error) {
      const code = (error as { code?: unknown }).code
      if (typeof code !== 'string' || !code.startsWith('FAST_JWT_')) throw error
      if (code === 'FAST_JWT_EXPIRED') return { failure: 'expired' }
      return { failure: INVALID_NOT_DECODE.has(code) ? 'invalid' : 'decode' }
    }
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return { failure: 'decode' }
    return { payload: claims as Record<string, unknown> }
  }

  /**
   * The active user the payload names. drf-jwt looks the user up by `username` alone; here the user is
   * found by `user_id` and must still have that `username`: the same answer for drf-jwt's own tokens,
   * and a renamed user's old token cannot open the account of whoever takes the name later.
   */
  async user (payload: Record<string, unknown>): Promise<{ user: User } | { failure: UserFailure }> {
    const username = payload.username
    if (pythonFalsy(username)) return { failure: 'payload' }
    const id = userIdFromClaim(payload.user_id)
    const user = id === null || typeof username !== 'string' ? null : await this.#d.accounts.findUser(id)
    if (user === null || !this.#sameLogin(user, username as string)) return { failure: 'missing' }
    if (!user.isActive) return { failure: 'inactive' }
    return { user }
  }

  #sameLogin (user: User, username: string): boolean {
    return this.#d.options.loginField === 'email' ? user.email.toLowerCase() === username.toLowerCase() : user.username === username
  }
}

// ---- errors -----------------------------------------------------------------------------------------

const NO_CREDENTIALS = 'Authentication credentials were not provided.'
const LOGIN_FAILED = 'Unable to log in with provided credentials.'

/** The serializers' messages (VerificationBaseSerializer), as 400 {non_field_errors}. */
const SERIALIZER_MESSAGES: Record<DecodeFailure | UserFailure, string> = {
  expired: 'Signature has expired.',
  decode: 'Error decoding signature.',
  // PyJWT's other InvalidTokenErrors (audience, issuer, algorithm) escape drf-jwt's serializers as a 500.
  invalid: 'Error decoding signature.',
  payload: 'Invalid payload.',
  missing: "User doesn't exist.",
  inactive: 'User account is disabled.'
}

/** JSONWebTokenAuthentication's messages, as 401 {detail}. */
const AUTHENTICATION_MESSAGES: Record<DecodeFailure | UserFailure, string> = {
  expired: 'Signature has expired.',
  decode: 'Error decoding signature.',
  invalid: 'Incorrect authentication credentials.',
  payload: 'Invalid payload.',
  missing: 'Invalid signature.',
  inactive: 'User account is disabled.'
}

/**
 * DRF's shapes as drf-jwt answers: serializer failures 400 `{field: [..]}` / `{non_field_errors: [..]}`,
 * authentication failures 401 `{detail}` with `WWW-Authenticate: <prefix> realm="api"`. No `code` keys
 * (drf-jwt has none). Fastify's own request errors (bad JSON, too large, media type) as the core words them.
 */
export function drfJwtErrorFormatter (authHeaderPrefix: string = DRF_JWT_DEFAULTS.authHeaderPrefix): ErrorFormatter {
  return withChallenge((error, body) => formatDrfJwtError(error, body) ?? formatDrfError(error, body), `${authHeaderPrefix} realm="api"`)
}

function formatDrfJwtError (error: unknown, body?: unknown): WireError | null {
  const validation = (error as Partial<FastifyError> | null)?.validation
  if (validation !== undefined) {
    if ((error as FastifyError).validationContext === 'body') return { statusCode: 400, body: fieldErrorsFromValidation(validation, body) }
    return { statusCode: 400, body: { detail: (error as Error).message } }
  }
  if (error instanceof StoreUnavailableError) {
    return { statusCode: 503, body: { detail: 'The service is temporarily unavailable. Try again later.' } }
  }
  if (isAccountsError(error)) {
    if ('fields' in error && error.fields !== undefined) return { statusCode: 400, body: error.fields }
    if (error instanceof InvalidCredentialsError) return { statusCode: 400, body: { non_field_errors: [LOGIN_FAILED] } }
    return { statusCode: error.statusCode, body: { detail: error.message } }
  }
  return null
}

// ---- authentication ---------------------------------------------------------------------------------

/** bytes.split(): ASCII whitespace. */
const WHITESPACE = /[ \t\n\r\v\f]+/

/**
 * drf-jwt's JSONWebTokenAuthentication.authenticate: `Authorization: <prefix> <token>` (the prefix in any
 * letter case) or, with no Authorization header at all, the `authCookie` cookie. Resolves to the user and
 * `{ scheme: 'jwt', claims }`, or throws the 401 to format (drf-jwt's words). Another scheme in the
 * header is "not provided", as in DRF. The shape of `app.accounts.authenticateRequest`.
 */
export function drfJwtAuthenticateRequest (accounts: AccountsDecorator, options: ResolvedDrfJwtOptions): Authenticator {
  const tokens = new DrfJwtTokens(accounts, options)
  const prefix = options.authHeaderPrefix.toLowerCase()
  const cookie = options.authCookie

  function tokenOf (request: FastifyRequest): string | null {
    const header = request.headers.authorization
    const parts = typeof header === 'string' ? header.split(WHITESPACE).filter((part) => part !== '') : []
    if (parts.length === 0) {
      if (cookie === undefined || typeof request.headers.cookie !== 'string') return null
      return fastifyCookie.parse(request.headers.cookie)[cookie] ?? null
    }
    if (parts[0].toLowerCase() !== prefix) return null
    if (parts.length === 1) throw new NotAuthenticatedError('Invalid Authorization header. No credentials provided.')
    if (parts.length > 2) throw new NotAuthenticatedError('Invalid Authorization header. Credentials string should not contain spaces.')
    return parts[1]
  }

  return async function authenticateRequest (request: FastifyRequest): Promise<{ user: AccountUser, auth: RequestAuth }> {
    const token = tokenOf(request)
    if (token === null) throw new NotAuthenticatedError(NO_CREDENTIALS)
    const decoded = tokens.decode(token)
    if ('failure' in decoded) throw new NotAuthenticatedError(AUTHENTICATION_MESSAGES[decoded.failure])
    const found = await tokens.user(decoded.payload)
    if ('failure' in found) throw new NotAuthenticatedError(AUTHENTICATION_MESSAGES[found.failure])
    return { user: toAccountUser(found.user), auth: { scheme: 'jwt', claims: decoded.payload } }
  }
}

/**
 * drf-jwt's authentication as an onRequest hook (what `app.authenticate` is with `dialect: 'drf-jwt'`):
 * fills `request.user` and `request.auth`, or answers 401 {detail} in drf-jwt's words with
 * `WWW-Authenticate: <prefix> realm="api"`.
 */
export function drfJwtAuthenticator (accounts: AccountsDecorator, options: ResolvedDrfJwtOptions) {
  return authenticateHook(drfJwtAuthenticateRequest(accounts, options), drfJwtErrorFormatter(options.authHeaderPrefix))
}

// ---- routes -----------------------------------------------------------------------------------------

/**
 * drf-jwt's three views on the services of `app.accounts`. Encapsulated: its parsers, validator, error
 * formatter and (with `authCookie`) @fastify/cookie apply to these routes only. Register it after the
 * core: `app.register(drfJwtRoutes, { prefix: '/api', allowRefresh: true })`.
 */
export const drfJwtRoutes: FastifyPluginAsync<DrfJwtOptions> = async (instance, opts) => {
  if (!instance.hasDecorator('accounts')) {
    throw new OptionsError('drfJwtRoutes needs the fastify-accounts plugin registered first (app.accounts is missing)')
  }
  const input = Object.fromEntries(Object.entries(opts).filter(([key]) => !REGISTER_OPTIONS.has(key))) as DrfJwtOptions
  const o = resolveDrfJwtOptions(input)
  const decorator = instance.accounts
  const { accounts, options: core } = decorator
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
  // The core's login budget (rateLimit option): per address and per account, 429 {detail} + Retry-After.
  const limit = instance.accounts.limit

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
        secure: o.authCookieSecure,
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
        user = await accounts.authenticateCredentials(b[login], b.password)
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
      decorator.events.emit('token.refreshed', { userId: user.id, rotated: false })
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
