import { fieldErrors, isAccountsError, type FieldErrors as FieldErrorMap } from '../../errors.js'
import type { UsernameMatching } from '../../accounts.js'
import type { AccountUser, User } from '../../ports.js'
import type { Static } from '@sinclair/typebox'
import type { FastifyReply, onRequestAsyncHookHandler } from 'fastify'
import type { AccountsCore } from '../../core.js'
import type { Limit } from '../../http/limit.js'
import type { ResolvedDjRestAuthOptions } from './options.js'
import type { DjRestAuthJwt, DjRestAuthUser } from './schemas.js'
import { FieldErrors, TokenError } from '../../../schemas/shared.js'

// The dj-rest-auth wire's words, shapes and error mapping, shared by routes.ts and the route files it calls (registration.ts, passwords.ts, mfa.ts, social.ts).

/** What the feature route files (passwords.ts, mfa.ts, social.ts) take from the dj-rest-auth route plugin (routes.ts). */
export interface DjRestAuthRoutesContext {
  core: AccountsCore
  dj: ResolvedDjRestAuthOptions
  limit: Limit
  /** The dialect's `app.authenticate` (the account routes need a user). */
  authenticate: onRequestAsyncHookHandler
  security?: Array<Record<string, string[]>>
  /** The login route's cookie setters (JWT_AUTH_COOKIE, JWT_AUTH_REFRESH_COOKIE). */
  setAccessCookie: (reply: FastifyReply, access: string) => void
  setRefreshCookie: (reply: FastifyReply, refresh: string) => void
}

/** dj-rest-auth's (and Django's, DRF's, allauth's) words, where the wire shows them. */
export const MESSAGES = {
  badCredentials: 'Unable to log in with provided credentials.',
  mustIncludeEither: 'Must include either "username" or "email" and "password".',
  mustIncludeUsername: 'Must include "username" and "password".',
  mustIncludeEmail: 'Must include "email" and "password".',
  invalidEmail: 'Enter a valid email address.',
  loggedOut: 'Successfully logged out.',
  notLoggedIn: 'You should be logged in to logout. Check whether the token is passed.',
  noRefreshInBody: 'Refresh token was not included in request data.',
  noRefreshInCookie: 'Refresh token was not included in cookie data.',
  nothingRevoked: 'Neither cookies or blacklist are enabled, so the token has not been deleted server side. Please make sure the token is deleted client side.',
  getNotAllowed: 'Method "GET" not allowed.',
  resetSent: 'Password reset e-mail has been sent.',
  resetDone: 'Password has been reset with the new password.',
  passwordSaved: 'New password has been saved.',
  oldPasswordWrong: 'Your old password was entered incorrectly. Please enter it again.',
  passwordMismatch: 'The two password fields didn’t match.',
  invalidValue: 'Invalid value',
  verificationSent: 'Verification e-mail sent.',
  ok: 'ok',
  noRefreshToken: 'No valid refresh token found.',
  notFound: 'Not found.'
} as const

export function djRestAuthUser (user: User | AccountUser): DjRestAuthUser {
  return { pk: user.id, username: user.username, email: user.email, first_name: user.firstName ?? '', last_name: user.lastName ?? '' }
}

export function expiresIn (seconds: number): string {
  return new Date(Date.now() + seconds * 1000).toISOString()
}

/**
 * The body of a JWT login response (JWTSerializer, + JWTSerializerWithExpiration's fields): `refresh` is ""
 * when JWT_AUTH_HTTPONLY (it is then only in its cookie). The social login routes answer with it.
 */
export function jwtLoginBody (
  dj: Pick<ResolvedDjRestAuthOptions, 'jwtAuthHttpOnly' | 'jwtAuthReturnExpiration'>, jwt: { accessTokenLifetime: number, refreshTokenLifetime: number },
  user: User | AccountUser, pair: { access: string, refresh: string }
): Static<typeof DjRestAuthJwt> {
  const body: Static<typeof DjRestAuthJwt> = { access: pair.access, refresh: dj.jwtAuthHttpOnly ? '' : pair.refresh, user: djRestAuthUser(user) }
  if (dj.jwtAuthReturnExpiration) {
    body.access_expiration = expiresIn(jwt.accessTokenLifetime)
    body.refresh_expiration = expiresIn(jwt.refreshTokenLifetime)
  }
  return body
}

export function validationFields (error: unknown): FieldErrorMap | undefined {
  return isAccountsError(error) && 'fields' in error ? error.fields : undefined
}

/**
 * The core's password errors as Django's SetPasswordForm reports them: on new_password2, and a mismatch
 * alone when the two differ (the form checks the match before the validators). `rename` moves other fields.
 */
export function setPasswordFormError (error: unknown, mismatch: boolean, rename: Record<string, [field: string, messages: string[]]> = {}): unknown {
  const fields = validationFields(error)
  if (fields === undefined) return error
  const out: FieldErrorMap = {}
  for (const [field, messages] of Object.entries(fields)) {
    if (field === 'new_password' || field === 'non_field_errors') out.new_password2 = mismatch ? [MESSAGES.passwordMismatch] : messages
    else if (rename[field] !== undefined) out[rename[field][0]] = rename[field][1]
    else out[field] = messages
  }
  return fieldErrors(out)
}

/**
 * allauth's usernames (filter_users_by_username): taken in any letter case, and found at login in any letter
 * case, with or without ACCOUNT_PRESERVE_USERNAME_CASING (which only decides how a new one is stored: as typed here).
 */
export const USERNAMES: UsernameMatching = 'ignoreCase'

export const BAD_REQUEST = { 400: FieldErrors }
export const UNAUTHORIZED = { 401: TokenError }

export const tag = (name: string) => ({ tags: [name] })
export const byEmail = (body: Record<string, unknown>): unknown => body.email
