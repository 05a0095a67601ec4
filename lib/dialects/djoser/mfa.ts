import { Type, type TSchema } from '@sinclair/typebox'
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import { requireUser as currentUser, type AccountsCore } from '../../core.js'
import { fieldError, InvalidCredentialsError } from '../../errors.js'
import type { Limit } from '../../http/limit.js'
import { countingFailures } from '../../http/rate-limit.js'
import { route, type TypedInstance } from '../../http/route.js'
import { MFA_MESSAGES, MfaRequiredError, isMfaError, type MfaError } from '../../mfa/errors.js'
import type { LoginFlavour, MfaService } from '../../mfa/service.js'
import type { User } from '../../ports.js'
import { requestContext } from '../../request-context.js'
import { Detail, FieldErrors, NoContent, TokenError } from '../../../schemas/shared.js'

/**
 * django-trench's routes (trench.urls + trench.urls.jwt, trench/views/base.py and jwt.py) for the `app`
 * method (TOTP), beside djoser's, with trench's keys and statuses:
 *
 * | route | success | failures |
 * |---|---|---|
 * | POST login/ {<loginField>, password} | 200 {ephemeral_token, method: "app"}; without MFA {access, refresh} | 400 {error}; 400 {field: [..]} |
 * | POST login/code/ {ephemeral_token, code} | 200 {access, refresh} ({auth_token} after token/login/) | 401 {error} bad token or code |
 * | POST {method}/activate/ | 200 {details: otpauth URI, qr_code_data_uri} (the QR code is ours, as dj-rest-auth's key) | 400 {error} unknown method, already active |
 * | POST {method}/activate/confirm/ {code} | 200 {backup_codes} | 400 {code: [..]} |
 * | POST {method}/deactivate/ {code} | 204 | 400 {code: [..]} |
 * | POST {method}/codes/regenerate/ {code} | 200 {backup_codes} | 400 {code: [..]} |
 * | GET mfa/config/ | 200 {methods, confirm_disable_with_code, …} | |
 * | GET mfa/user-active-methods/ | 200 [{name, is_primary}] | 401 |
 * | POST code/request/ {method?} | 200 {details}: a pending method's URI; an active one's a message | 400 {method: [..]}, {error}; 401 |
 * | POST mfa/change-primary-method/ {method, code} | 204 | 400 {method: [..]}, {code: [..]}, {error}; 401 |
 *
 * djoser's own jwt/create/ and token/login/ answer trench's first step too for a user with MFA on (with trench
 * installed beside djoser they would still issue tokens on the password alone). Where ours differs, on purpose:
 * deactivation always needs a code (trench's CONFIRM_DISABLE_WITH_CODE defaults to False); only `app` exists;
 * the pending secret is stored encrypted; codes are accepted once; `code/request/` does not show an active
 * method's secret again (trench answers its otpauth URI to any holder of an access token, which would hand a
 * stolen token the second factor).
 */

export interface TrenchRoutesContext {
  core: AccountsCore
  limit: Limit
  authenticate: onRequestAsyncHookHandler
  security?: Array<Record<string, string[]>>
}

const APP = 'app'
const TrenchError = Type.Object({ error: Type.String() }, { additionalProperties: false })
const Code = Type.String({ minLength: 1, maxLength: 64, description: 'A code from the authenticator app, or an unused backup code.' })
const CodeBody = Type.Object({ code: Code }, { additionalProperties: false })
const CodeLoginBody = Type.Object({ ephemeral_token: Type.String({ minLength: 1, maxLength: 512 }), code: Code }, { additionalProperties: false })
const MethodParams = Type.Object({ method: Type.String({ maxLength: 64 }) })
/** trench's first step for a user with MFA on. */
export const TrenchStep = Type.Object({
  ephemeral_token: Type.String({ description: 'Post it with a code to login/code/ within 5 minutes.' }),
  method: Type.String({ description: 'The primary method: `app`.' })
}, { additionalProperties: false })
const JwtPair = Type.Object({ access: Type.String(), refresh: Type.String() }, { additionalProperties: false })
const AuthToken = Type.Object({ auth_token: Type.String() }, { additionalProperties: false })
const BackupCodes = Type.Object({ backup_codes: Type.Array(Type.String()) }, { additionalProperties: false })
const Dispatched = Type.Object({
  details: Type.String({ description: 'The otpauth:// URI to show as a QR code.' }),
  // Ours: trench leaves drawing the QR code to the frontend; dj-rest-auth's activate answers it under this key.
  qr_code_data_uri: Type.String({ description: 'The same URI as an SVG QR code, a data: URI for an <img> (not in trench: dj-rest-auth\'s key).' })
}, { additionalProperties: false })
const Config = Type.Object({
  methods: Type.Array(Type.String()),
  confirm_disable_with_code: Type.Boolean(),
  confirm_regeneration_with_code: Type.Boolean(),
  allow_backup_codes_regeneration: Type.Boolean()
}, { additionalProperties: false })
const RequestCodeBody = Type.Object({ method: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })) }, { additionalProperties: false })
const ChangePrimaryBody = Type.Object({ method: Type.String({ maxLength: 255 }), code: Code }, { additionalProperties: false })
const CodeRequested = Type.Object({
  details: Type.String({ description: 'A pending `app` method: its otpauth:// URI again (as activate/); an active one: a message (trench would show the URI).' })
}, { additionalProperties: false })
const ActiveMethods = Type.Array(Type.Object({ name: Type.String(), is_primary: Type.Boolean() }, { additionalProperties: false }))
const THROTTLED = { 429: Detail }
const UNAUTHORIZED = { 401: TokenError }

/** A djoser login's 200 with MFA on: its tokens, or trench's first step. */
export function withTrenchStep (core: AccountsCore, schema: TSchema): TSchema {
  if (core.mfa === null) return schema
  // Inlined without its $id: the route's schema registers it once, not once per union.
  const { $id: _id, ...inline } = schema
  return Type.Union([inline as TSchema, TrenchStep])
}

/**
 * djoser's jwt/create/ and token/login/: a login refused because the user has MFA on becomes trench's first
 * step (`flavour` says what login/code/ answers); anything else is thrown on.
 */
export async function trenchLoginStep (core: AccountsCore, error: unknown, flavour: LoginFlavour): Promise<{ ephemeral_token: string, method: string }> {
  if (!(error instanceof MfaRequiredError) || core.mfa === null) throw error
  return { ephemeral_token: await core.mfa.startLogin(error.user, flavour), method: APP }
}

/** For a login without a password (djoser's `o/{provider}/`): trench's first step when `user` has MFA on, else null. */
export async function trenchStepFor (core: AccountsCore, user: User, flavour: LoginFlavour = 'jwt'): Promise<{ ephemeral_token: string, method: string } | null> {
  if (core.mfa === null || !(await core.mfa.isEnabled(user.id))) return null
  return { ephemeral_token: await core.mfa.startLogin(user, flavour), method: APP }
}

/** ProtectedActionValidator's errors: every failure of the code is `{code: [msg]}`, in trench's words. */
function codeError (error: unknown): unknown {
  if (!isMfaError(error)) return error
  const words: Record<MfaError['code'], string> = {
    ACCOUNTS_MFA_INVALID_CODE: MFA_MESSAGES.trenchCodeInvalidOrExpired,
    ACCOUNTS_MFA_NOT_ENABLED: MFA_MESSAGES.trenchNotEnabled,
    ACCOUNTS_MFA_ALREADY_ENABLED: MFA_MESSAGES.methodAlreadyActive,
    ACCOUNTS_MFA_METHOD_NOT_FOUND: MFA_MESSAGES.methodNotFound,
    ACCOUNTS_MFA_EPHEMERAL_TOKEN: MFA_MESSAGES.ephemeralToken,
    ACCOUNTS_MFA_ACTIVATION_TOKEN: MFA_MESSAGES.ephemeralToken
  }
  return fieldError('code', words[error.code])
}

async function asCodeError<T> (work: Promise<T>): Promise<T> {
  try {
    return await work
  } catch (error) {
    throw codeError(error)
  }
}

export function trenchRoutes (app: TypedInstance, ctx: TrenchRoutesContext): void {
  const { core, limit, authenticate, security } = ctx
  if (core.mfa === null) return
  const mfa: MfaService = core.mfa
  const { users: accounts, tokens, options } = core
  const login = options.loginField
  const tags = { tags: ['mfa (django-trench)'] }

  /** What the second step (and a login without MFA) answers. */
  async function tokensFor (user: User, flavour: LoginFlavour, request: FastifyRequest): Promise<{ access: string, refresh: string } | { auth_token: string }> {
    // The session records the request that completed the login (its IP and user agent).
    const context = requestContext(request)
    if (flavour === 'token') {
      await accounts.recordLogin(user)
      return { auth_token: await tokens.createAuthToken(user, context) }
    }
    if (options.jwt.updateLastLogin) await accounts.recordLogin(user)
    const pair = await tokens.issuePair(user, undefined, context)
    return { refresh: pair.refresh, access: pair.access }
  }

  const LoginBody = Type.Object({
    [login]: Type.String({ minLength: 1, maxLength: 4096 }),
    password: Type.String({ minLength: 1, maxLength: 4096 })
  }, { additionalProperties: false })

  route(app, {
    method: 'POST',
    url: '/login/',
    schema: { ...tags, summary: 'First step: the password; the ephemeral token when MFA is on, else the JWT pair', body: LoginBody, response: { 200: Type.Union([TrenchStep, JwtPair]), 400: Type.Union([TrenchError, FieldErrors]), ...THROTTLED } },
    preHandler: limit('login', (body) => body[login]),
    async handler (request, reply) {
      const b = request.body as Record<string, string>
      let user: User
      try {
        user = await countingFailures(request, accounts.authenticateCredentials(b[login], b.password, undefined, undefined, request))
      } catch (error) {
        if (error instanceof InvalidCredentialsError) return await reply.code(400).send({ error: MFA_MESSAGES.trenchUnauthenticated })
        return await trenchLoginStep(core, error, 'jwt')
      }
      return await tokensFor(user, 'jwt', request)
    }
  })

  // The account the ephemeral token names, found before the rate limit runs: a wrong code (401) spends its failure budget.
  const accountOfToken = new WeakMap<FastifyRequest, string[]>()
  async function findTokenAccount (request: FastifyRequest): Promise<void> {
    const user = await mfa.userOfEphemeralToken((request.body as { ephemeral_token?: unknown } | undefined)?.ephemeral_token)
    if (user !== null) accountOfToken.set(request, [user.username, user.email])
  }
  // Without rate limits (rateLimit: false) no lookup is made.
  const verifyLimit = limit('login', (_body, request) => accountOfToken.get(request))

  route(app, {
    method: 'POST',
    url: '/login/code/',
    schema: { ...tags, summary: 'Second step: the ephemeral token and a code (or backup code), for the tokens', body: CodeLoginBody, response: { 200: Type.Union([JwtPair, AuthToken]), 400: FieldErrors, 401: TrenchError, ...THROTTLED } },
    preHandler: verifyLimit.length === 0 ? [] : [findTokenAccount, ...verifyLimit],
    async handler (request, reply) {
      try {
        const { user, flavour } = await mfa.verifyLogin(request.body.ephemeral_token, request.body.code, requestContext(request))
        return await tokensFor(user, flavour, request)
      } catch (error) {
        if (!isMfaError(error)) throw error
        const message = error.code === 'ACCOUNTS_MFA_EPHEMERAL_TOKEN' ? MFA_MESSAGES.ephemeralToken : MFA_MESSAGES.trenchInvalidCode
        return await reply.code(401).send({ error: message })
      }
    }
  })

  const userNames = (_body: unknown, request: FastifyRequest): string[] => { const u = currentUser(request); return [u.username, u.email] }
  const codeLimit = limit('login', userNames)
  const unknownMethod = (method: string, reply: FastifyReply): FastifyReply | null =>
    method === APP ? null : reply.code(400).send({ error: MFA_MESSAGES.methodNotFound })

  route(app, {
    method: 'POST',
    url: '/:method/activate/',
    schema: { ...tags, summary: 'Start setting up a method (`app`): its otpauth:// URI', security, params: MethodParams, response: { 200: Dispatched, 400: TrenchError, ...UNAUTHORIZED } },
    onRequest: authenticate,
    async handler (request, reply) {
      const refused = unknownMethod(request.params.method, reply)
      if (refused !== null) return await refused
      try {
        const { totpUrl, qrCodeDataUri } = await mfa.beginPendingActivation(currentUser(request))
        reply.header('cache-control', 'no-store')
        return { details: totpUrl, qr_code_data_uri: qrCodeDataUri }
      } catch (error) {
        if (!isMfaError(error)) throw error
        return await reply.code(400).send({ error: error.message })
      }
    }
  })

  route(app, {
    method: 'POST',
    url: '/:method/activate/confirm/',
    schema: { ...tags, summary: 'Confirm the method with a code: MFA on; the backup codes, shown once', security, params: MethodParams, body: CodeBody, response: { 200: BackupCodes, 400: FieldErrors, ...UNAUTHORIZED, ...THROTTLED } },
    onRequest: authenticate,
    preHandler: codeLimit,
    async handler (request, reply) {
      if (request.params.method !== APP) throw fieldError('code', MFA_MESSAGES.methodNotFound)
      const codes = await asCodeError(mfa.confirmPendingActivation(currentUser(request), request.body.code, requestContext(request)))
      reply.header('cache-control', 'no-store')
      return { backup_codes: codes }
    }
  })

  route(app, {
    method: 'POST',
    url: '/:method/deactivate/',
    schema: { ...tags, summary: 'Turn the method off, with a code or a backup code', security, params: MethodParams, body: CodeBody, response: { 204: NoContent, 400: FieldErrors, ...UNAUTHORIZED, ...THROTTLED } },
    onRequest: authenticate,
    preHandler: codeLimit,
    async handler (request, reply) {
      if (request.params.method !== APP) throw fieldError('code', MFA_MESSAGES.methodNotFound)
      await asCodeError(mfa.deactivate(currentUser(request), request.body.code, { allowRecoveryCode: true, notEnabledMessage: MFA_MESSAGES.trenchNotEnabled }, requestContext(request)))
      return await reply.code(204).send(null)
    }
  })

  route(app, {
    method: 'POST',
    url: '/:method/codes/regenerate/',
    schema: { ...tags, summary: 'New backup codes (the old ones stop working), with a code', security, params: MethodParams, body: CodeBody, response: { 200: BackupCodes, 400: FieldErrors, ...UNAUTHORIZED, ...THROTTLED } },
    onRequest: authenticate,
    preHandler: codeLimit,
    async handler (request, reply) {
      if (request.params.method !== APP) throw fieldError('code', MFA_MESSAGES.methodNotFound)
      const codes = await asCodeError(mfa.regenerateRecoveryCodes(currentUser(request), request.body.code, { notEnabledMessage: MFA_MESSAGES.trenchNotEnabled }, requestContext(request)))
      reply.header('cache-control', 'no-store')
      return { backup_codes: codes }
    }
  })

  route(app, {
    method: 'POST',
    url: '/code/request/',
    schema: { ...tags, summary: 'Send a code by a method (default: the primary one); `app` sends nothing', security, body: Type.Optional(RequestCodeBody), response: { 200: CodeRequested, 400: Type.Union([TrenchError, FieldErrors]), ...UNAUTHORIZED } },
    onRequest: authenticate,
    async handler (request, reply) {
      // MFAMethodCodeSerializer: a named method must exist in the settings, else {method: [..]}.
      const method = request.body?.method
      if (method !== undefined && method !== APP) throw fieldError('method', MFA_MESSAGES.methodNotFound)
      const user = currentUser(request)
      const found = await mfa.store.findAuthenticator(user.id, 'totp')
      // Unnamed: the primary active method (get_primary_active_name); named: any set up (get_by_name), pending too.
      if (found === null || (method === undefined && !found.active)) return await reply.code(400).send({ error: MFA_MESSAGES.methodNotFound })
      if (found.active) return { details: MFA_MESSAGES.trenchAppCodeRequested }
      const { totpUrl } = await mfa.beginPendingActivation(user)
      reply.header('cache-control', 'no-store')
      return { details: totpUrl }
    }
  })

  route(app, {
    method: 'POST',
    url: '/mfa/change-primary-method/',
    schema: { ...tags, summary: 'Make a method the primary one, with a code (with `app` alone: it already is)', security, body: ChangePrimaryBody, response: { 204: NoContent, 400: Type.Union([TrenchError, FieldErrors]), ...UNAUTHORIZED, ...THROTTLED } },
    onRequest: authenticate,
    preHandler: codeLimit,
    async handler (request, reply) {
      const { method, code } = request.body
      // ChangePrimaryMethodValidator: a ChoiceField of the configured methods.
      if (method !== APP) throw fieldError('method', `"${method}" is not a valid choice.`)
      const user = currentUser(request)
      const found = await mfa.store.findAuthenticator(user.id, 'totp')
      if (found === null) throw fieldError('code', MFA_MESSAGES.methodNotFound)
      // SetPrimaryMFAMethodCommand: only an active method can be primary (trench checks a pending one's code first).
      if (!found.active) return await reply.code(400).send({ error: MFA_MESSAGES.trenchPrimaryInactive })
      await asCodeError(mfa.confirmCode(user, code, 'change-primary', { notEnabledMessage: MFA_MESSAGES.trenchNotEnabled }, requestContext(request)))
      return await reply.code(204).send(null)
    }
  })

  route(app, {
    method: 'GET',
    url: '/mfa/config/',
    schema: { ...tags, summary: 'The MFA configuration', response: { 200: Config } },
    async handler () {
      return { methods: [APP], confirm_disable_with_code: true, confirm_regeneration_with_code: true, allow_backup_codes_regeneration: true }
    }
  })

  route(app, {
    method: 'GET',
    url: '/mfa/user-active-methods/',
    schema: { ...tags, summary: 'The methods the user has turned on', security, response: { 200: ActiveMethods, ...UNAUTHORIZED } },
    onRequest: authenticate,
    async handler (request) {
      return (await mfa.activeMethods(currentUser(request).id)).map((m) => ({ name: m.name, is_primary: m.isPrimary }))
    }
  })
}
