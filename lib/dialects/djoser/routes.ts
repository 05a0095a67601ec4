import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { authOf, requireUser as currentUser } from '../../core.js'
import { fieldError, InvalidCredentialsError, NotFoundError } from '../../errors.js'
import { authenticateHook } from '../../http/authenticate-hook.js'
import { securityOf } from '../../http/openapi.js'
import { countingFailures } from '../../http/rate-limit.js'
import { route } from '../../http/route.js'
import { prepareDialectScope } from '../../http/scope.js'
import type { AccountUser, User } from '../../ports.js'
import { requestContext } from '../../request-context.js'
import { dialectCore, dialectPlugin } from '../route-plugin.js'
import { djoserErrorFormatter } from './errors.js'
import { djoserSessionRoutes } from './sessions.js'
import { djoserSocialRoutes } from './social.js'
import { trenchLoginStep, trenchRoutes, withTrenchStep } from './mfa.js'
import { DjoserUser, DjoserUserList, djoserSchemas } from './schemas.js'
import { Detail, Empty, FieldErrors, NoContent, TokenError } from '../../../schemas/shared.js'

function djoserUser (user: User | AccountUser): DjoserUser {
  return { email: user.email, id: user.id, username: user.username }
}

const BAD_REQUEST = { 400: FieldErrors }
const UNAUTHORIZED = { 401: TokenError }
/** The rate limits' answer (rateLimit option), with `Retry-After`. */
const THROTTLED = { 429: Detail }

/**
 * The djoser 2.1 + simplejwt 5.2 route set, on the services of `app.accounts`. Encapsulated: its body
 * parsers, validator and error formatter apply to these routes only, so it can sit beside other dialects.
 */
const routes: FastifyPluginAsync = async (instance) => {
  const core = dialectCore(instance, 'djoserRoutes')
  const { users: accounts, tokens, options } = core
  const app = instance.withTypeProvider<TypeBoxTypeProvider>()
  const s = djoserSchemas(options)
  const login = options.loginField
  const editable = accounts.editableField
  const { security } = securityOf(core.options.openApiSecurity, ['jwt', 'token'])

  const formatError = djoserErrorFormatter(options.jwt.authHeaderTypes[0])
  await prepareDialectScope(app, {
    bodyLimit: options.bodyLimit,
    formatError,
    serverError: { detail: 'A server error occurred.' }
  })
  for (const schema of [DjoserUser, Detail, FieldErrors, TokenError, Empty]) app.addSchema(schema)
  const limit = core.limit
  const byEmail = (body: Record<string, unknown>): unknown => body.email
  const authenticate = authenticateHook(core.authenticateRequest, formatError, core)

  const tag = (name: string) => ({ tags: [name] })

  // emailChangeRequiresPassword: a wrong current_password on users/me/ spends the account's failure budget.
  const emailPasswordLimit = options.emailChangeRequiresPassword && editable === 'email' ? limit('password') : []
  /** PUT/PATCH users/me/: the old address is told of a new email (emailChangedEmailConfirmation). */
  async function updateMe (request: FastifyRequest): Promise<User> {
    const b = request.body as Record<string, string | undefined>
    const update = accounts.updateProfile(currentUser(request), { [editable]: b[editable] }, undefined, undefined, { currentPassword: b.current_password, caller: request })
    // Only a password given can be a wrong guess; a missing one is given back when the response is sent.
    return b.current_password === undefined ? await update : await countingFailures(request, update)
  }

  // ---- users ----------------------------------------------------------------------------------------

  route(app, {
    method: 'POST',
    url: '/users/',
    schema: { ...tag('users'), summary: 'Register a user', body: s.UserCreate, response: { 201: DjoserUser, ...BAD_REQUEST, ...THROTTLED } },
    preHandler: limit('registration'),
    async handler (request, reply) {
      const b = request.body
      const user = await accounts.register({ username: b.username, email: b.email, password: b.password, rePassword: b.re_password }, undefined, undefined, request)
      return reply.code(201).send(djoserUser(user))
    }
  })

  route(app, {
    method: 'GET',
    url: '/users/',
    schema: { ...tag('users'), summary: 'List users (only yourself unless staff, when hideUsers)', security, response: { 200: DjoserUserList, ...UNAUTHORIZED } },
    onRequest: authenticate,
    async handler (request) {
      return (await accounts.listUsers(currentUser(request))).map(djoserUser)
    }
  })

  route(app, {
    method: 'POST',
    url: '/users/activation/',
    schema: { ...tag('users'), summary: 'Activate an account from the mailed uid and token', body: s.Activation, response: { 204: NoContent, ...BAD_REQUEST, 403: Detail, ...THROTTLED } },
    preHandler: limit('activation', (body) => body.uid),
    async handler (request, reply) {
      await accounts.activate(request.body.uid, request.body.token, request)
      return reply.code(204).send(null)
    }
  })

  route(app, {
    method: 'POST',
    url: '/users/resend_activation/',
    schema: { ...tag('users'), summary: 'Mail the activation link again', body: s.EmailBody, response: { 204: NoContent, ...BAD_REQUEST, ...THROTTLED } },
    preHandler: limit('activation', byEmail),
    async handler (request, reply) {
      if (!(await accounts.resendActivation(request.body.email, request))) {
        throw fieldError('email', 'Account activation is off.')
      }
      return reply.code(204).send(null)
    }
  })

  route(app, {
    method: 'GET',
    url: '/users/me/',
    schema: { ...tag('users'), summary: 'The current user', security, response: { 200: DjoserUser, ...UNAUTHORIZED } },
    onRequest: authenticate,
    async handler (request) {
      return djoserUser(currentUser(request))
    }
  })

  route(app, {
    method: 'PUT',
    url: '/users/me/',
    schema: { ...tag('users'), summary: `Update the current user (${editable}; ${login} and id are read-only)`, security, body: s.UserUpdate, response: { 200: DjoserUser, ...BAD_REQUEST, ...UNAUTHORIZED, ...THROTTLED } },
    onRequest: authenticate,
    preHandler: emailPasswordLimit,
    async handler (request) {
      return djoserUser(await updateMe(request))
    }
  })

  route(app, {
    method: 'PATCH',
    url: '/users/me/',
    schema: { ...tag('users'), summary: `Partly update the current user (${editable})`, security, body: s.UserPatch, response: { 200: DjoserUser, ...BAD_REQUEST, ...UNAUTHORIZED, ...THROTTLED } },
    onRequest: authenticate,
    preHandler: emailPasswordLimit,
    async handler (request) {
      return djoserUser(await updateMe(request))
    }
  })

  route(app, {
    method: 'DELETE',
    url: '/users/me/',
    schema: { ...tag('users'), summary: 'Delete the current user', security, body: s.UserDelete, response: { 204: NoContent, ...BAD_REQUEST, ...UNAUTHORIZED, ...THROTTLED } },
    onRequest: authenticate,
    preHandler: limit('password'),
    async handler (request, reply) {
      await countingFailures(request, accounts.deleteAccount(currentUser(request), request.body.current_password, request))
      return reply.code(204).send(null)
    }
  })

  route(app, {
    method: 'GET',
    url: '/users/:id/',
    schema: { ...tag('users'), summary: 'A user by id (yourself, or anyone for staff)', security, params: s.UserIdParams, response: { 200: DjoserUser, ...UNAUTHORIZED, 403: Detail, 404: Detail } },
    onRequest: authenticate,
    async handler (request) {
      const viewer = currentUser(request)
      const id = /^[1-9]\d{0,14}$/.test(request.params.id) ? Number(request.params.id) : null
      if (id === null) throw new NotFoundError('Not found.')
      return djoserUser(await accounts.userFor(viewer, id, request))
    }
  })

  route(app, {
    method: 'POST',
    url: '/users/set_password/',
    schema: { ...tag('users'), summary: 'Change the password', security, body: s.SetPassword, response: { 204: NoContent, ...BAD_REQUEST, ...UNAUTHORIZED, ...THROTTLED } },
    onRequest: authenticate,
    preHandler: limit('password'),
    async handler (request, reply) {
      const b = request.body
      await countingFailures(request, accounts.setPassword(currentUser(request), { newPassword: b.new_password, currentPassword: b.current_password, reNewPassword: b.re_new_password }, authOf(request, core.names), {}, request))
      return reply.code(204).send(null)
    }
  })

  route(app, {
    method: 'POST',
    url: '/users/reset_password/',
    schema: { ...tag('users'), summary: 'Mail a password reset link', body: s.EmailBody, response: { 204: NoContent, ...BAD_REQUEST, ...THROTTLED } },
    preHandler: limit('reset', byEmail),
    async handler (request, reply) {
      await accounts.requestPasswordReset(request.body.email, request)
      return reply.code(204).send(null)
    }
  })

  route(app, {
    method: 'POST',
    url: '/users/reset_password_confirm/',
    schema: { ...tag('users'), summary: 'Set a new password from the mailed uid and token', body: s.PasswordResetConfirm, response: { 204: NoContent, ...BAD_REQUEST } },
    async handler (request, reply) {
      const b = request.body
      await accounts.confirmPasswordReset({ uid: b.uid, token: b.token, newPassword: b.new_password, reNewPassword: b.re_new_password }, undefined, request)
      return reply.code(204).send(null)
    }
  })

  route(app, {
    method: 'POST',
    url: `/users/set_${login}/`,
    schema: { ...tag('users'), summary: `Change the ${login}`, security, body: s.SetUsername, response: { 204: NoContent, ...BAD_REQUEST, ...UNAUTHORIZED, ...THROTTLED } },
    onRequest: authenticate,
    preHandler: limit('password'),
    async handler (request, reply) {
      const b = request.body as Record<string, string>
      await countingFailures(request, accounts.setUsername(currentUser(request), { newValue: b[`new_${login}`], currentPassword: b.current_password, reNewValue: b[`re_new_${login}`] }, request))
      return reply.code(204).send(null)
    }
  })

  route(app, {
    method: 'POST',
    url: `/users/reset_${login}/`,
    schema: { ...tag('users'), summary: `Mail a ${login} reset link`, body: s.EmailBody, response: { 204: NoContent, ...BAD_REQUEST, ...THROTTLED } },
    preHandler: limit('reset', byEmail),
    async handler (request, reply) {
      await accounts.requestUsernameReset(request.body.email, request)
      return reply.code(204).send(null)
    }
  })

  route(app, {
    method: 'POST',
    url: `/users/reset_${login}_confirm/`,
    schema: { ...tag('users'), summary: `Set a new ${login} from the mailed uid and token`, body: s.UsernameResetConfirm, response: { 204: NoContent, ...BAD_REQUEST } },
    async handler (request, reply) {
      const b = request.body as Record<string, string>
      await accounts.confirmUsernameReset({ uid: b.uid, token: b.token, newValue: b[`new_${login}`], reNewValue: b[`re_new_${login}`] }, request)
      return reply.code(204).send(null)
    }
  })

  // ---- opaque tokens (DRF authtoken) ----------------------------------------------------------------

  route(app, {
    method: 'POST',
    url: '/token/login/',
    schema: { ...tag('token'), summary: 'Log in for an opaque token', body: s.Login, response: { 200: withTrenchStep(core, s.AuthToken), ...BAD_REQUEST, ...THROTTLED } },
    preHandler: limit('login', (body) => body[login]),
    async handler (request) {
      const b = request.body as Record<string, string>
      let user: User
      try {
        user = await countingFailures(request, accounts.authenticateCredentials(b[login], b.password, undefined, undefined, request))
      } catch (error) {
        if (error instanceof InvalidCredentialsError) throw fieldError('non_field_errors', 'Unable to log in with provided credentials.')
        return await trenchLoginStep(core, error, 'token')
      }
      await accounts.recordLogin(user)
      return { auth_token: await tokens.createAuthToken(user, requestContext(request)) }
    }
  })

  route(app, {
    method: 'POST',
    url: '/token/logout/',
    schema: { ...tag('token'), summary: 'Log out: the presented token (or, with a JWT, all opaque tokens) stops working', security, response: { 204: NoContent, ...UNAUTHORIZED } },
    onRequest: authenticate,
    async handler (request, reply) {
      const user = currentUser(request)
      const auth = authOf(request, core.names)
      if (auth?.scheme === 'token') await tokens.deleteAuthToken(auth.key, user.id, requestContext(request))
      else await tokens.deleteUserAuthTokens(user.id, 'logout', requestContext(request))
      return reply.code(204).send(null)
    }
  })

  // ---- JWT (simplejwt) ------------------------------------------------------------------------------

  route(app, {
    method: 'POST',
    url: '/jwt/create/',
    schema: { ...tag('jwt'), summary: 'Log in for an access and refresh token pair', body: s.Login, response: { 200: withTrenchStep(core, s.TokenPair), ...BAD_REQUEST, 401: Detail, ...THROTTLED } },
    preHandler: limit('login', (body) => body[login]),
    async handler (request) {
      const b = request.body as Record<string, string>
      // MFA on for this user: django-trench's first step instead of tokens.
      const user = await countingFailures(request, accounts.authenticateCredentials(b[login], b.password, undefined, undefined, request))
        .catch(async (error: unknown) => await trenchLoginStep(core, error, 'jwt'))
      if ('ephemeral_token' in user) return user
      if (options.jwt.updateLastLogin) await accounts.recordLogin(user)
      return tokens.issuePair(user, undefined, requestContext(request))
    }
  })

  route(app, {
    method: 'POST',
    url: '/jwt/refresh/',
    schema: { ...tag('jwt'), summary: 'A new access token (and refresh token, when rotating)', body: s.RefreshBody, response: { 200: s.Refreshed, ...BAD_REQUEST, ...UNAUTHORIZED } },
    async handler (request) {
      return tokens.refresh(request.body.refresh, requestContext(request))
    }
  })

  route(app, {
    method: 'POST',
    url: '/jwt/verify/',
    schema: { ...tag('jwt'), summary: 'Check a token', body: s.VerifyBody, response: { 200: Empty, ...BAD_REQUEST, ...UNAUTHORIZED } },
    async handler (request) {
      await tokens.verifyForClient(request.body.token)
      return {}
    }
  })

  route(app, {
    method: 'POST',
    url: '/jwt/blacklist/',
    schema: { ...tag('jwt'), summary: 'Blacklist a refresh token', body: s.RefreshBody, response: { 200: Empty, ...BAD_REQUEST, ...UNAUTHORIZED } },
    async handler (request) {
      await tokens.blacklist(request.body.refresh, requestContext(request))
      return {}
    }
  })

  djoserSessionRoutes(app, { core, authenticate, security })
  await djoserSocialRoutes(app, { core, limit })
  // django-trench's routes (the `mfa` option).
  trenchRoutes(app, { core, limit, authenticate, security })
}

export const djoserRoutes = dialectPlugin(routes, 'djoser')
