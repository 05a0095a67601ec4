import { authOf, requireUser as currentUser } from '../../core.js'
import { countingFailures } from '../../http/rate-limit.js'
import { route, type TypedInstance } from '../../http/route.js'
import { requestContext } from '../../request-context.js'
import { BAD_REQUEST, byEmail, MESSAGES, setPasswordFormError, tag, UNAUTHORIZED, type DjRestAuthRoutesContext } from './common.js'
import type { djRestAuthSchemas } from './schemas.js'
import { Detail } from '../../../schemas/shared.js'

/** What the password routes take from the dj-rest-auth route plugin (no cookies: none of them logs in). */
export interface PasswordRoutesContext extends Pick<DjRestAuthRoutesContext, 'core' | 'dj' | 'limit' | 'authenticate' | 'security'> {
  schemas: ReturnType<typeof djRestAuthSchemas>
}

/** dj_rest_auth.urls' `password/reset/`, `password/reset/confirm/` and `password/change/`, answered as Django's SetPasswordForm. */
export function djRestAuthPasswordRoutes (app: TypedInstance, ctx: PasswordRoutesContext): void {
  const { core, dj, schemas: s, limit, authenticate, security } = ctx
  const { users: accounts, tokens } = core

  route(app, {
    method: 'POST',
    url: '/password/reset/',
    schema: { ...tag('dj-rest-auth'), summary: 'Mail a password reset link (also answered for an unknown email)', body: s.PasswordReset, response: { 200: Detail, ...BAD_REQUEST, 429: Detail } },
    preHandler: limit('reset', byEmail),
    async handler (request) {
      await accounts.requestPasswordReset(request.body.email, request)
      return { detail: MESSAGES.resetSent }
    }
  })

  route(app, {
    method: 'POST',
    url: '/password/reset/confirm/',
    schema: { ...tag('dj-rest-auth'), summary: 'Set a new password from the mailed uid and token', body: s.PasswordResetConfirm, response: { 200: Detail, ...BAD_REQUEST } },
    async handler (request) {
      const b = request.body
      try {
        await accounts.confirmPasswordReset({ uid: b.uid, token: b.token, newPassword: b.new_password1, reNewPassword: b.new_password2 }, true, request)
      } catch (error) {
        throw setPasswordFormError(error, b.new_password1 !== b.new_password2, {
          uid: ['uid', [MESSAGES.invalidValue]],
          token: ['token', [MESSAGES.invalidValue]]
        })
      }
      return { detail: MESSAGES.resetDone }
    }
  })

  route(app, {
    method: 'POST',
    url: '/password/change/',
    schema: {
      ...tag('dj-rest-auth'),
      summary: dj.oldPasswordFieldEnabled ? 'Change the password (old_password required)' : 'Change the password',
      security,
      body: s.PasswordChange,
      response: { 200: Detail, ...BAD_REQUEST, ...UNAUTHORIZED, 429: Detail }
    },
    onRequest: authenticate,
    // A wrong old_password spends the account's failure budget, as a wrong login password does.
    preHandler: limit('password'),
    async handler (request) {
      const b = request.body as { old_password?: string, new_password1: string, new_password2: string }
      const user = currentUser(request)
      // Django ends the user's other sessions with a password change and keeps this one (update_session_auth_hash)
      // unless LOGOUT_ON_PASSWORD_CHANGE: then this one ends too.
      const session = dj.logoutOnPasswordChange ? null : authOf(request, core.names)
      try {
        await countingFailures(request, accounts.setPassword(user, {
          newPassword: b.new_password1,
          reNewPassword: b.new_password2,
          currentPassword: dj.oldPasswordFieldEnabled ? b.old_password : undefined
        }, session, { retype: true }, request))
      } catch (error) {
        throw setPasswordFormError(error, b.new_password1 !== b.new_password2, { current_password: ['old_password', [MESSAGES.oldPasswordWrong]] })
      }
      // Without the core's revokeTokensOnPasswordChange, LOGOUT_ON_PASSWORD_CHANGE still logs out: the user's tokens go.
      if (dj.logoutOnPasswordChange) await tokens.revokeUserTokens(user.id, 'password-change', requestContext(request))
      return { detail: MESSAGES.passwordSaved }
    }
  })
}
