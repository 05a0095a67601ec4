import type { User } from '../../ports.js'
import { requestContext } from '../../request-context.js'
import type { AccountsCore } from '../../core.js'
import { fieldErrors, isAccountsError, NotFoundError } from '../../errors.js'
import type { Limit } from '../../http/limit.js'
import { route, type TypedInstance } from '../../http/route.js'
import type { ResolvedDjRestAuthOptions } from './options.js'
import { BAD_REQUEST, byEmail, djRestAuthUser, MESSAGES, tag, USERNAMES, validationFields } from './common.js'
import { DjRestAuthJwt, DjRestAuthTokenKey, type djRestAuthSchemas } from './schemas.js'
import { Detail } from '../../../schemas/shared.js'

/** What the registration routes take from the dj-rest-auth route plugin. */
export interface RegistrationContext {
  core: AccountsCore
  dj: ResolvedDjRestAuthOptions
  schemas: ReturnType<typeof djRestAuthSchemas>
  limit: Limit
  /** ACCOUNT_EMAIL_VERIFICATION "mandatory": a new user waits for the mailed key, inactive. */
  mandatory: boolean
}

/** dj_rest_auth.registration.urls: `registration/`, `registration/verify-email/`, `registration/resend-email/`. */
export function registrationRoutes (app: TypedInstance, ctx: RegistrationContext): void {
  const { core, dj, schemas: s, limit, mandatory } = ctx
  const { users: accounts, tokens } = core

  route(app, {
    method: 'POST',
    url: '/registration/',
    schema: {
      ...tag('dj-rest-auth registration'),
      summary: mandatory ? 'Register; the account waits for email verification' : 'Register and log in',
      body: s.Register,
      response: { 201: mandatory ? Detail : (dj.useJwt ? DjRestAuthJwt : DjRestAuthTokenKey), ...BAD_REQUEST, 429: Detail }
    },
    preHandler: limit('registration'),
    async handler (request, reply) {
      const b = request.body
      let user: User
      try {
        user = await accounts.register({ username: b.username, email: b.email, password: b.password1, rePassword: b.password2 }, true,
          { usernames: USERNAMES, passwordChecks: 'allauth' }, request)
      } catch (error) {
        const fields = validationFields(error)
        if (fields === undefined) throw error
        throw fieldErrors(Object.fromEntries(Object.entries(fields).map(([field, messages]) => [field === 'password' ? 'password1' : field, messages])))
      }
      if (mandatory) return reply.code(201).send({ detail: MESSAGES.verificationSent })
      if (dj.sessionLogin) await accounts.recordLogin(user)
      const context = requestContext(request)
      if (!dj.useJwt) return reply.code(201).send({ key: await tokens.createAuthToken(user, context) })
      const pair = await tokens.issuePair(user, undefined, context)
      return reply.code(201).send({ access: pair.access, refresh: pair.refresh, user: djRestAuthUser(user) })
    }
  })

  route(app, {
    method: 'POST',
    url: '/registration/verify-email/',
    schema: { ...tag('dj-rest-auth registration'), summary: 'Verify the email with the mailed key; the account becomes active', body: s.VerifyEmail, response: { 200: Detail, ...BAD_REQUEST, 404: Detail, 429: Detail } },
    preHandler: limit('activation', (body) => typeof body.key === 'string' ? body.key.split(':')[0] : undefined),
    async handler (request) {
      const key = request.body.key
      const colon = key.indexOf(':')
      if (colon <= 0) throw new NotFoundError(MESSAGES.notFound)
      try {
        await accounts.activate(key.slice(0, colon), key.slice(colon + 1), request)
      } catch (error) {
        // allauth's ConfirmEmailView: an unknown, used or expired key is a 404.
        if (isAccountsError(error) && (error.code === 'ACCOUNTS_VALIDATION' || error.code === 'ACCOUNTS_PERMISSION_DENIED')) {
          throw new NotFoundError(MESSAGES.notFound)
        }
        throw error
      }
      return { detail: MESSAGES.ok }
    }
  })

  route(app, {
    method: 'POST',
    url: '/registration/resend-email/',
    schema: { ...tag('dj-rest-auth registration'), summary: 'Mail the verification key again (answered alike for any address)', body: s.ResendEmail, response: { 200: Detail, ...BAD_REQUEST, 429: Detail } },
    preHandler: limit('activation', byEmail),
    async handler (request) {
      await accounts.resendActivation(request.body.email, request)
      return { detail: MESSAGES.ok }
    }
  })
}
