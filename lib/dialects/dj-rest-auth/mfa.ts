import { Type, type Static, type TSchema } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import { requireUser as currentUser, type AccountsCore } from '../../core.js'
import { fieldError, OptionsError, ValidationError } from '../../errors.js'
import { route, type TypedInstance } from '../../http/route.js'
import { MFA_MESSAGES, MfaRequiredError, isMfaError } from '../../mfa/errors.js'
import type { MfaService } from '../../mfa/service.js'
import type { User } from '../../ports.js'
import { requestContext } from '../../request-context.js'
import { BAD_REQUEST, jwtLoginBody, tag, UNAUTHORIZED, type DjRestAuthRoutesContext } from './common.js'
import type { ResolvedDjRestAuthOptions } from './options.js'
import { DjRestAuthJwt, DjRestAuthTokenKey } from './schemas.js'
import { Detail } from '../../../schemas/shared.js'

/**
 * dj-rest-auth 7.2's `dj_rest_auth.mfa` (urls.py, views.py, serializers.py), with MFALoginView's login step.
 * Checked against the source on iMerica/dj-rest-auth's `feature/mfa` branch (c6b83aa, 2026-02-16; version
 * 7.2.0 there, not yet merged into master nor tagged):
 *
 * | route | success | failures |
 * |---|---|---|
 * | POST login/ (MFALoginView), a user with MFA on | 200 {ephemeral_token, mfa_required: true} | as login/ |
 * | POST mfa/verify/ {ephemeral_token, code} | 200 the login response (JWT pair + user, or {key}; cookies) | 400 {ephemeral_token: [..]}; {detail: [..]} user inactive; {code: [..]} |
 * | GET mfa/totp/activate/ | 200 {secret, totp_url, qr_code_data_uri, activation_token} | 401 |
 * | POST mfa/totp/activate/ {activation_token, code} | 200 {recovery_codes} | 400 {detail} already on (before the body is read); {activation_token: [..]}; {code: [..]} |
 * | POST mfa/totp/deactivate/ {code} (TOTP only) | 200 {detail} | 400 {detail} not on (before the body is read); {code: [..]} |
 * | GET mfa/status/ | 200 {mfa_enabled, created_at, last_used_at} | 401 |
 * | GET mfa/recovery-codes/ | 200 {codes: [], unused_count} | 401 |
 * | POST mfa/recovery-codes/regenerate/ | 200 {codes} | 400 {detail} not on |
 *
 * Where ours differs, on purpose: the TOTP secret is stored encrypted and recovery codes only as hashes, so
 * `GET mfa/recovery-codes/` cannot list them (dj-rest-auth 7.2 derives them from a stored seed): it answers
 * `codes: []` and how many are left (`unused_count`); codes are shown once, at activation and regeneration.
 * A TOTP code works once (its time step is stored); the ephemeral token is single use and held server-side.
 * Recovery codes are xxxx-xxxx-xxxx (59 bits; dj-rest-auth's are 8 hex digits), so `code` takes up to 64
 * characters where MFAVerifySerializer stops at 9. `code` must be a JSON string: DRF's CharField would also
 * take a number, which no route of this package does (see lib/http/validation.ts). Social login asks for
 * the second step too (dj-rest-auth's SocialLoginView does not). The issuer defaults to `siteName`
 * (MFA_TOTP_ISSUER defaults to none); 6 digits and 30 s are fixed (MFA_TOTP_DIGITS and MFA_TOTP_PERIOD are
 * settings there); the ±1 step window is hard-coded in both.
 */

const Code = Type.String({ minLength: 1, maxLength: 64, description: 'A TOTP code from the authenticator app, or an unused recovery code.' })
const VerifyBody = Type.Object({ ephemeral_token: Type.String({ minLength: 1, maxLength: 512 }), code: Code }, { additionalProperties: false })
const ActivateBody = Type.Object({ activation_token: Type.String({ minLength: 1, maxLength: 1024 }), code: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false })
const CodeBody = Type.Object({ code: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false })

/** MFALoginView's answer for a user with MFA on. */
export const MfaRequired = Type.Object({
  ephemeral_token: Type.String({ description: 'Post it with a code to mfa/verify/ within MFA_EPHEMERAL_TOKEN_TIMEOUT (5 minutes).' }),
  mfa_required: Type.Literal(true)
}, { additionalProperties: false })
const ActivateInit = Type.Object({
  secret: Type.String({ description: 'Base32, for typing into an authenticator app.' }),
  totp_url: Type.String({ description: 'The otpauth:// URI (what the QR code holds).' }),
  qr_code_data_uri: Type.String({ description: 'data:image/svg+xml;base64,… of the QR code.' }),
  activation_token: Type.String({ description: 'Post it back with a code to confirm (it carries the secret, encrypted).' })
}, { additionalProperties: false })
const RecoveryCodes = Type.Object({ recovery_codes: Type.Array(Type.String()) }, { additionalProperties: false })
const Codes = Type.Object({
  codes: Type.Array(Type.String(), { description: 'The new codes after regenerate/; always [] on GET (only hashes are kept).' }),
  unused_count: Type.Optional(Type.Integer({ description: 'How many unused codes are left (beyond dj-rest-auth).' }))
}, { additionalProperties: false })
const Status = Type.Object({
  mfa_enabled: Type.Boolean(),
  created_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()])
}, { additionalProperties: false })
const THROTTLED = { 429: Detail }

/** login/'s 200 with MFA on: the login response or MFALoginView's step. */
export function withMfaStep (dj: Pick<ResolvedDjRestAuthOptions, 'mfa'>, schema: TSchema & { $id?: string }): TSchema {
  return dj.mfa ? Type.Union([Type.Ref(schema), MfaRequired]) : schema
}

/**
 * login/ (and any login of this dialect): a refused login because the user has MFA on becomes MFALoginView's
 * first step; anything else is thrown on. `catch (error) { return await mfaLoginStep(core, error) }`.
 */
export async function mfaLoginStep (core: AccountsCore, error: unknown): Promise<{ ephemeral_token: string, mfa_required: true }> {
  if (!(error instanceof MfaRequiredError) || core.mfa === null) throw error
  return { ephemeral_token: await core.mfa.startLogin(error.user, 'jwt'), mfa_required: true }
}

/**
 * For a login that does not pass through a password (social login/connect): MFALoginView's first step when
 * `user` has MFA on, else null (then answer the login response as usual).
 */
export async function mfaStepFor (core: AccountsCore, user: User): Promise<{ ephemeral_token: string, mfa_required: true } | null> {
  if (core.mfa === null || !(await core.mfa.isEnabled(user.id))) return null
  return { ephemeral_token: await core.mfa.startLogin(user, 'jwt'), mfa_required: true }
}

/** The service's errors in dj-rest-auth's words and shapes. */
function wire (error: unknown): unknown {
  if (!isMfaError(error)) return error
  switch (error.code) {
    case 'ACCOUNTS_MFA_EPHEMERAL_TOKEN': return fieldError('ephemeral_token', MFA_MESSAGES.ephemeralToken)
    case 'ACCOUNTS_MFA_ACTIVATION_TOKEN': return fieldError('activation_token', MFA_MESSAGES.activationToken)
    case 'ACCOUNTS_MFA_INVALID_CODE': return fieldError('code', error.message)
    default: return new ValidationError(error.message)
  }
}

async function attempt<T> (work: Promise<T>): Promise<T> {
  try {
    return await work
  } catch (error) {
    throw wire(error)
  }
}

export function mfaRoutes (app: TypedInstance, ctx: DjRestAuthRoutesContext): void {
  const { core, dj, limit, authenticate, security } = ctx
  if (!dj.mfa) return
  // Mounted beside another dialect, these routes get their own options: the core must have MFA on too.
  if (core.mfa === null) throw new OptionsError('djRestAuth.mfa needs two-factor sign-in on in the plugin: pass `mfa: true` (or `djRestAuth: { mfa: true }`) to it too')
  const mfa: MfaService = core.mfa
  const { users: accounts, tokens, options } = core
  const tags = tag('dj-rest-auth mfa')

  // The account an ephemeral token names, found before the rate limit runs, so a wrong code spends that
  // account's login failure budget (a refused login: any 400 of mfa/verify/ counts, a success gives it back).
  const accountOfToken = new WeakMap<FastifyRequest, string[]>()
  async function findTokenAccount (request: FastifyRequest): Promise<void> {
    const user = await mfa.userOfEphemeralToken((request.body as { ephemeral_token?: unknown } | undefined)?.ephemeral_token)
    if (user !== null) accountOfToken.set(request, [user.username, user.email])
  }
  // Codes from a signed-in user: their names, as a current_password check would count them.
  const userNames = (_body: unknown, request: FastifyRequest): string[] => { const u = currentUser(request); return [u.username, u.email] }
  const codeLimit = limit('login', userNames)
  const verifyLimit = limit('login', (_body, request) => accountOfToken.get(request))

  /**
   * TOTPActivateView.post and TOTPDeactivateView.post answer `{detail}` when MFA is already on (or not on)
   * before their serializer reads the body; Fastify validates the body before any handler, so the check runs
   * here, right after authentication.
   */
  function authenticateWhenMfa (wanted: 'on' | 'off', message: string): onRequestAsyncHookHandler {
    return async function (this: FastifyInstance, request, reply) {
      await authenticate.call(this, request, reply)
      if (reply.sent) return
      if ((await mfa.isEnabled(currentUser(request).id)) !== (wanted === 'on')) throw new ValidationError(message)
    }
  }

  route(app, {
    method: 'POST',
    url: '/mfa/verify/',
    schema: {
      ...tags,
      summary: 'Second step of a login: the ephemeral token and a TOTP or recovery code, for the login response',
      body: VerifyBody,
      response: { 200: dj.useJwt ? DjRestAuthJwt : DjRestAuthTokenKey, ...BAD_REQUEST, ...THROTTLED }
    },
    preHandler: verifyLimit.length === 0 ? [] : [findTokenAccount, ...verifyLimit],
    async handler (request, reply) {
      const { ephemeral_token: token, code } = request.body
      const { user } = await mfa.verifyLogin(token, code, requestContext(request)).catch(async (error: unknown) => { throw await verifyError(error, token) })
      return await loginResponse(user, request, reply)
    }
  })

  /**
   * MFAVerifySerializer checks the token, then `user.is_active` (`{detail: ["User account is disabled."]}`,
   * a list: raised from validate()), then the code. The service refuses an inactive user's token as a bad
   * token without spending it, so the token still names the user here.
   */
  async function verifyError (error: unknown, token: string): Promise<unknown> {
    if (isMfaError(error) && error.code === 'ACCOUNTS_MFA_EPHEMERAL_TOKEN') {
      const user = await mfa.userOfEphemeralToken(token)
      if (user !== null && !user.isActive) return fieldError('detail', MFA_MESSAGES.userDisabled)
    }
    return wire(error)
  }

  /** What login/ answers (LoginView.get_response), for the user who passed both factors. */
  async function loginResponse (user: User, request: FastifyRequest, reply: FastifyReply): Promise<Static<typeof DjRestAuthJwt> | Static<typeof DjRestAuthTokenKey>> {
    if (dj.sessionLogin || (dj.useJwt && options.jwt.updateLastLogin)) await accounts.recordLogin(user)
    // The session records the request that completed the login (its IP and user agent).
    const context = requestContext(request)
    if (!dj.useJwt) return { key: await tokens.createAuthToken(user, context) }
    const pair = await tokens.issuePair(user, undefined, context)
    ctx.setAccessCookie(reply, pair.access)
    ctx.setRefreshCookie(reply, pair.refresh)
    return jwtLoginBody(dj, options.jwt, user, pair)
  }

  route(app, {
    method: 'GET',
    url: '/mfa/totp/activate/',
    schema: { ...tags, summary: 'A new TOTP secret, its QR code and the activation token', security, response: { 200: ActivateInit, ...UNAUTHORIZED } },
    onRequest: authenticate,
    async handler (request, reply) {
      const setup = await mfa.beginActivation(currentUser(request))
      // The secret is on the wire once: no cache may keep it.
      reply.header('cache-control', 'no-store')
      return { secret: setup.secret, totp_url: setup.totpUrl, qr_code_data_uri: setup.qrCodeDataUri, activation_token: setup.activationToken }
    }
  })

  route(app, {
    method: 'POST',
    url: '/mfa/totp/activate/',
    schema: { ...tags, summary: 'Confirm the secret with a code: MFA on, recovery codes shown once', security, body: ActivateBody, response: { 200: RecoveryCodes, ...BAD_REQUEST, ...UNAUTHORIZED, ...THROTTLED } },
    onRequest: authenticateWhenMfa('off', MFA_MESSAGES.alreadyEnabled),
    preHandler: codeLimit,
    async handler (request, reply) {
      const codes = await attempt(mfa.confirmActivation(currentUser(request), request.body.activation_token, request.body.code, requestContext(request)))
      reply.header('cache-control', 'no-store')
      return { recovery_codes: codes }
    }
  })

  route(app, {
    method: 'POST',
    url: '/mfa/totp/deactivate/',
    schema: { ...tags, summary: 'Turn MFA off, with a valid TOTP code', security, body: CodeBody, response: { 200: Detail, ...BAD_REQUEST, ...UNAUTHORIZED, ...THROTTLED } },
    onRequest: authenticateWhenMfa('on', MFA_MESSAGES.notEnabled),
    preHandler: codeLimit,
    async handler (request) {
      await attempt(mfa.deactivate(currentUser(request), request.body.code, { allowRecoveryCode: false }, requestContext(request)))
      return { detail: MFA_MESSAGES.deactivated }
    }
  })

  route(app, {
    method: 'GET',
    url: '/mfa/status/',
    schema: { ...tags, summary: 'Whether MFA is on, since when, last used', security, response: { 200: Status, ...UNAUTHORIZED } },
    onRequest: authenticate,
    async handler (request) {
      const status = await mfa.status(currentUser(request).id)
      return { mfa_enabled: status.enabled, created_at: status.createdAt?.toISOString() ?? null, last_used_at: status.lastUsedAt?.toISOString() ?? null }
    }
  })

  route(app, {
    method: 'GET',
    url: '/mfa/recovery-codes/',
    schema: { ...tags, summary: 'How many recovery codes are left (the codes were shown once)', security, response: { 200: Codes, ...UNAUTHORIZED } },
    onRequest: authenticate,
    async handler (request) {
      return { codes: [], unused_count: await mfa.recoveryCodesLeft(currentUser(request).id) }
    }
  })

  route(app, {
    method: 'POST',
    url: '/mfa/recovery-codes/regenerate/',
    schema: { ...tags, summary: 'A new set of recovery codes; the old ones stop working', security, response: { 200: Codes, ...BAD_REQUEST, ...UNAUTHORIZED } },
    onRequest: authenticate,
    async handler (request, reply) {
      const codes = await attempt(mfa.regenerateRecoveryCodes(currentUser(request), null, {}, requestContext(request)))
      reply.header('cache-control', 'no-store')
      return { codes }
    }
  })
}
