import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { checkOptions, defaultsOf, expect, Flag, Matching, OneOf, SecureFlag, withDefaults, withUnknownOption, type DeepReadonly } from '../../option-checks.js'

/*
 * dj-rest-auth's REST_AUTH settings (and the allauth settings its routes read), camelCased, as a schema: the
 * types, the defaults and the checks come from it. Kept apart from the routes so lib/options.ts composes it
 * into the plugin's options without loading the route code.
 */

/** RFC 6265's cookie-name token. */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
/** Django's None is null here: the option is unset. */
const Nullable = <S extends TSchema>(schema: S) =>
  Type.Optional(Type.Union([schema, Type.Null()], { errorMessage: schema.errorMessage, description: schema.description }))
const CookieName = (description: string) =>
  Nullable(Matching(COOKIE_NAME, { errorMessage: "must be a cookie name (letters, digits and !#$%&'*+-.^_`|~)", description }))

export const DjRestAuthOptionsSchema = withUnknownOption(Type.Object({
  useJwt: Type.Optional(Flag(false, "REST_AUTH['USE_JWT']: login answers {access, refresh, user} instead of {key}; token/verify/ and token/refresh/ exist.")),
  jwtAuthCookie: CookieName("REST_AUTH['JWT_AUTH_COOKIE']: the access token also goes into this cookie, and authentication reads it. Needs useJwt."),
  jwtAuthRefreshCookie: CookieName("REST_AUTH['JWT_AUTH_REFRESH_COOKIE']: the refresh token also goes into this cookie; token/refresh/ and logout/ read it. Needs useJwt."),
  jwtAuthCookiePath: Type.Optional(Matching(/^\/[^;\s]*$/, {
    errorMessage: 'must be a path starting with /', default: '/', description: 'The access cookie\'s Path (dj-rest-auth: always /), like jwtAuthRefreshCookiePath.'
  })),
  jwtAuthCookieUseCsrf: Type.Optional(Flag(false, "REST_AUTH['JWT_AUTH_COOKIE_USE_CSRF']: a request authenticated by a JWT cookie must also send Django's " +
    'double submit: the `csrftoken` cookie (set at login and refresh, readable by the page) echoed in the `X-CSRFToken` header; else 403. ' +
    'The token is bound to the session. The Origin check applies either way.')),
  csrfCookieName: Type.Optional(Matching(COOKIE_NAME, { errorMessage: "must be a cookie name (letters, digits and !#$%&'*+-.^_`|~)", default: 'csrftoken', description: "Django's CSRF_COOKIE_NAME (with jwtAuthCookieUseCsrf)." })),
  csrfHeaderName: Type.Optional(Matching(/^[A-Za-z0-9-]+$/, { errorMessage: 'must be a header name', default: 'X-CSRFToken', description: "Django's CSRF_HEADER_NAME, as the header is sent (HTTP_X_CSRFTOKEN is X-CSRFToken)." })),
  jwtAuthRefreshCookiePath: Type.Optional(Matching(/^\/[^;\s]*$/, {
    errorMessage: 'must be a path starting with /', default: '/', description: "REST_AUTH['JWT_AUTH_REFRESH_COOKIE_PATH']."
  })),
  jwtAuthCookieDomain: Nullable(Matching(/^[A-Za-z0-9.-]+$/, { errorMessage: 'must be a domain name', description: "REST_AUTH['JWT_AUTH_COOKIE_DOMAIN']." })),
  jwtAuthSecure: Type.Optional(SecureFlag("REST_AUTH['JWT_AUTH_SECURE']: the cookies carry `Secure`: 'auto' whenever `protocol` is https or the request " +
    'came over TLS (dj-rest-auth: false).')),
  jwtAuthHttpOnly: Type.Optional(Flag(true, "REST_AUTH['JWT_AUTH_HTTPONLY']: the cookies carry `HttpOnly`, and login's body has `refresh: \"\"`.")),
  jwtAuthSameSite: Type.Optional(OneOf(['Lax', 'Strict', 'None', false], { default: 'Lax', description: "REST_AUTH['JWT_AUTH_SAMESITE']; false: no SameSite attribute." })),
  jwtAuthReturnExpiration: Type.Optional(Flag(false, "REST_AUTH['JWT_AUTH_RETURN_EXPIRATION']: login adds access_expiration and refresh_expiration.")),
  oldPasswordFieldEnabled: Type.Optional(Flag(false, "REST_AUTH['OLD_PASSWORD_FIELD_ENABLED']: password/change/ requires old_password.")),
  mfa: Type.Optional(Flag(false, "'dj_rest_auth.mfa' in INSTALLED_APPS with MFALoginView: the `mfa/` routes (TOTP and recovery codes), and login/ answers " +
    '{ephemeral_token, mfa_required: true} for a user with MFA on (settings: the top-level `mfa` option).')),
  logoutOnPasswordChange: Type.Optional(Flag(false, "REST_AUTH['LOGOUT_ON_PASSWORD_CHANGE']: password/change/ revokes the user's tokens (dj-rest-auth ends the session).")),
  logoutOnGet: Type.Optional(Flag(false, "allauth's ACCOUNT_LOGOUT_ON_GET: GET logout/ logs out (otherwise 405).")),
  sessionLogin: Type.Optional(Flag(true, "REST_AUTH['SESSION_LOGIN']. No Django session exists here; like Django's login() it records the last login, " +
    'and when off, an anonymous logout/ in token mode is 400 (as dj-rest-auth answers).')),
  tokenBlacklist: Type.Optional(Flag(true, "'rest_framework_simplejwt.token_blacklist' in INSTALLED_APPS: logout/ blacklists the refresh token.")),
  emailVerification: Type.Optional(OneOf(['none', 'optional', 'mandatory'], {
    default: 'mandatory',
    description: "allauth's ACCOUNT_EMAIL_VERIFICATION. 'mandatory' (allauth: 'optional'; this matches the core's sendActivationEmail: true): " +
      'a new user is inactive (cannot log in) until the mailed key is posted to registration/verify-email/ (the core\'s activation). ' +
      "'optional' and 'none': the user is active at once and registration returns a token."
  })),
  authenticationMethod: Type.Optional(OneOf(['username', 'email', 'username_email'], {
    default: 'username_email', description: "allauth's ACCOUNT_AUTHENTICATION_METHOD (ACCOUNT_LOGIN_METHODS): what login/ accepts."
  })),
  emailConfirmationUrl: Type.Optional(Matching(/\{key\}/, {
    errorMessage: 'must be a string containing {key}',
    default: '#/verify-email/{key}',
    description: "The verification link mailed on registration, with `{key}` (allauth's account_confirm_email URL, as a custom adapter's " +
      'get_email_confirmation_url would build it). The core mails `activationUrl`: djRestAuthCoreDefaults() derives it.'
  }))
}, { additionalProperties: false, description: "dj-rest-auth's REST_AUTH (and allauth's) settings: the dj-rest-auth dialect's options." }),
(name) => `${name} is not an option`)

/** dj-rest-auth's REST_AUTH settings (and the allauth settings its routes read), camelCased. */
export type DjRestAuthOptions = Static<typeof DjRestAuthOptionsSchema>

type Unset = 'jwtAuthCookie' | 'jwtAuthRefreshCookie' | 'jwtAuthCookieDomain'
export type ResolvedDjRestAuthOptions = Required<Omit<DjRestAuthOptions, Unset>> & { jwtAuthCookie?: string, jwtAuthRefreshCookie?: string, jwtAuthCookieDomain?: string }

/** Every default, read from the schema: dj-rest-auth 5.x's REST_AUTH defaults, except where the descriptions say. */
export const DJ_REST_AUTH_DEFAULTS = defaultsOf(DjRestAuthOptionsSchema) as DeepReadonly<Omit<ResolvedDjRestAuthOptions, Unset>>

/** Merges the defaults under `input` and rejects what a Django team could mistype (`fastify-accounts: djRestAuth.<name> …`). */
export function resolveDjRestAuthOptions (input: DjRestAuthOptions = {}): ResolvedDjRestAuthOptions {
  checkOptions(DjRestAuthOptionsSchema, input, 'djRestAuth')
  const o = withDefaults<ResolvedDjRestAuthOptions>(DJ_REST_AUTH_DEFAULTS, Object.fromEntries(Object.entries(input).filter(([, v]) => v !== null)))
  for (const key of ['jwtAuthCookie', 'jwtAuthRefreshCookie'] as const) {
    expect(o[key] === undefined || o.useJwt, `djRestAuth.${key} needs useJwt: true (the cookies carry JWTs)`)
  }
  expect(o.jwtAuthCookie === undefined || o.jwtAuthCookie !== o.jwtAuthRefreshCookie, 'djRestAuth.jwtAuthRefreshCookie must differ from jwtAuthCookie')
  expect(!o.jwtAuthCookieUseCsrf || o.jwtAuthCookie !== undefined || o.jwtAuthRefreshCookie !== undefined,
    'djRestAuth.jwtAuthCookieUseCsrf needs jwtAuthCookie or jwtAuthRefreshCookie (it guards requests authenticated by a cookie)')
  expect(!o.jwtAuthCookieUseCsrf || (o.csrfCookieName !== o.jwtAuthCookie && o.csrfCookieName !== o.jwtAuthRefreshCookie),
    'djRestAuth.csrfCookieName must differ from the JWT cookies')
  expect(o.jwtAuthSameSite !== 'None' || o.jwtAuthSecure === true, 'djRestAuth.jwtAuthSameSite "None" needs jwtAuthSecure: true (browsers drop such cookies otherwise)')
  return o
}

/**
 * The core options a dj-rest-auth deployment implies, for the core to merge under what the user set:
 * mandatory verification is the core's activation, and the mailed link carries the key `{uid}:{token}`.
 */
export function djRestAuthCoreDefaults (dj: Pick<ResolvedDjRestAuthOptions, 'emailVerification' | 'emailConfirmationUrl'>): { sendActivationEmail: boolean, activationUrl: string } {
  return {
    sendActivationEmail: dj.emailVerification === 'mandatory',
    activationUrl: dj.emailConfirmationUrl.replace('{key}', '{uid}:{token}')
  }
}
