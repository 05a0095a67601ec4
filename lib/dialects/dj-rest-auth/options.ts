import { OptionsError } from '../../errors.js'

/**
 * dj-rest-auth's REST_AUTH settings (and the allauth settings its routes read), camelCased. Kept apart from
 * the routes so lib/options.ts can resolve them without loading the route code.
 */
export interface DjRestAuthOptions {
  /** REST_AUTH['USE_JWT']: login answers {access, refresh, user} instead of {key}; token/verify/ and token/refresh/ exist. */
  useJwt?: boolean
  /** REST_AUTH['JWT_AUTH_COOKIE']: the access token also goes into this cookie, and authentication reads it. */
  jwtAuthCookie?: string | null
  /** REST_AUTH['JWT_AUTH_REFRESH_COOKIE']: the refresh token also goes into this cookie; token/refresh/ and logout/ read it. */
  jwtAuthRefreshCookie?: string | null
  /** REST_AUTH['JWT_AUTH_REFRESH_COOKIE_PATH'] */
  jwtAuthRefreshCookiePath?: string
  /** REST_AUTH['JWT_AUTH_COOKIE_DOMAIN'] */
  jwtAuthCookieDomain?: string | null
  /** REST_AUTH['JWT_AUTH_SECURE']: the cookies carry `Secure`. */
  jwtAuthSecure?: boolean
  /** REST_AUTH['JWT_AUTH_HTTPONLY']: the cookies carry `HttpOnly`, and login's body has `refresh: ""`. */
  jwtAuthHttpOnly?: boolean
  /** REST_AUTH['JWT_AUTH_SAMESITE']; false: no SameSite attribute. */
  jwtAuthSameSite?: 'Lax' | 'Strict' | 'None' | false
  /** REST_AUTH['JWT_AUTH_RETURN_EXPIRATION']: login adds access_expiration and refresh_expiration. */
  jwtAuthReturnExpiration?: boolean
  /** REST_AUTH['OLD_PASSWORD_FIELD_ENABLED']: password/change/ requires old_password. */
  oldPasswordFieldEnabled?: boolean
  /** REST_AUTH['LOGOUT_ON_PASSWORD_CHANGE']: password/change/ revokes the user's tokens (dj-rest-auth ends the session). */
  logoutOnPasswordChange?: boolean
  /** allauth's ACCOUNT_LOGOUT_ON_GET: GET logout/ logs out (otherwise 405). */
  logoutOnGet?: boolean
  /**
   * REST_AUTH['SESSION_LOGIN']. No Django session exists here; like Django's login() it records the last
   * login, and when off, an anonymous logout/ in token mode is 400 (as dj-rest-auth answers).
   */
  sessionLogin?: boolean
  /** 'rest_framework_simplejwt.token_blacklist' in INSTALLED_APPS: logout/ blacklists the refresh token. */
  tokenBlacklist?: boolean
  /**
   * allauth's ACCOUNT_EMAIL_VERIFICATION. 'mandatory': a new user is inactive (cannot log in) until the mailed
   * key is posted to registration/verify-email/ (the core's activation, `sendActivationEmail: true`).
   * 'optional' and 'none': the user is active at once and registration returns a token.
   */
  emailVerification?: 'none' | 'optional' | 'mandatory'
  /** allauth's ACCOUNT_AUTHENTICATION_METHOD (ACCOUNT_LOGIN_METHODS): what login/ accepts. */
  authenticationMethod?: 'username' | 'email' | 'username_email'
  /**
   * The verification link mailed on registration, with `{key}` (allauth's account_confirm_email URL, as a
   * custom adapter's get_email_confirmation_url would build it). The core mails `activationUrl`; use
   * djRestAuthCoreDefaults() to derive it.
   */
  emailConfirmationUrl?: string
}

export type ResolvedDjRestAuthOptions =
  Required<Omit<DjRestAuthOptions, 'jwtAuthCookie' | 'jwtAuthRefreshCookie' | 'jwtAuthCookieDomain'>> &
  { jwtAuthCookie?: string, jwtAuthRefreshCookie?: string, jwtAuthCookieDomain?: string }

/** Every default in one place: dj-rest-auth 5.x's REST_AUTH defaults, except where noted in the README. */
export const DJ_REST_AUTH_DEFAULTS = {
  useJwt: false,
  jwtAuthRefreshCookiePath: '/',
  jwtAuthSecure: false,
  jwtAuthHttpOnly: true,
  jwtAuthSameSite: 'Lax',
  jwtAuthReturnExpiration: false,
  oldPasswordFieldEnabled: false,
  logoutOnPasswordChange: false,
  logoutOnGet: false,
  sessionLogin: true,
  tokenBlacklist: true,
  // allauth's default is 'optional'; 'mandatory' matches the core's default (sendActivationEmail: true).
  emailVerification: 'mandatory',
  authenticationMethod: 'username_email',
  emailConfirmationUrl: '#/verify-email/{key}'
} as const satisfies Omit<ResolvedDjRestAuthOptions, 'jwtAuthCookie' | 'jwtAuthRefreshCookie' | 'jwtAuthCookieDomain'>

const BOOLEANS = [
  'useJwt', 'jwtAuthSecure', 'jwtAuthHttpOnly', 'jwtAuthReturnExpiration', 'oldPasswordFieldEnabled',
  'logoutOnPasswordChange', 'logoutOnGet', 'sessionLogin', 'tokenBlacklist'
] as const
const NULLABLE = new Set<string>(['jwtAuthCookie', 'jwtAuthRefreshCookie', 'jwtAuthCookieDomain'])
const KNOWN = new Set<string>([...Object.keys(DJ_REST_AUTH_DEFAULTS), 'jwtAuthCookie', 'jwtAuthRefreshCookie', 'jwtAuthCookieDomain'])
/** RFC 6265's cookie-name token. */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const SAME_SITE = ['Lax', 'Strict', 'None', false] as const

function expect (condition: boolean, message: string): asserts condition {
  if (!condition) throw new OptionsError(`djRestAuth.${message}`)
}

/** Merges the defaults under `input` and rejects what a Django team could mistype (`fastify-accounts: djRestAuth.<name> …`). */
export function resolveDjRestAuthOptions (input: DjRestAuthOptions = {}): ResolvedDjRestAuthOptions {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new OptionsError('djRestAuth must be an object')
  for (const key of Object.keys(input)) expect(KNOWN.has(key), `${key} is not an option`)
  // None in Django is null here; only the optional names and the domain may be null.
  const given = Object.fromEntries(Object.entries(input).filter(([k, v]) => v !== undefined && !(v === null && NULLABLE.has(k))))
  const o = { ...DJ_REST_AUTH_DEFAULTS, ...given } as ResolvedDjRestAuthOptions

  for (const key of BOOLEANS) expect(typeof o[key] === 'boolean', `${key} must be a boolean`)
  for (const key of ['jwtAuthCookie', 'jwtAuthRefreshCookie'] as const) {
    const name = o[key]
    expect(name === undefined || (typeof name === 'string' && COOKIE_NAME.test(name)), `${key} must be a cookie name (letters, digits and !#$%&'*+-.^_\`|~)`)
    expect(name === undefined || o.useJwt, `${key} needs useJwt: true (the cookies carry JWTs)`)
  }
  expect(o.jwtAuthCookie === undefined || o.jwtAuthCookie !== o.jwtAuthRefreshCookie, 'jwtAuthRefreshCookie must differ from jwtAuthCookie')
  expect(typeof o.jwtAuthRefreshCookiePath === 'string' && o.jwtAuthRefreshCookiePath.startsWith('/') && !/[;\s]/.test(o.jwtAuthRefreshCookiePath),
    'jwtAuthRefreshCookiePath must be a path starting with /')
  expect(o.jwtAuthCookieDomain === undefined || (typeof o.jwtAuthCookieDomain === 'string' && /^[A-Za-z0-9.-]+$/.test(o.jwtAuthCookieDomain)),
    'jwtAuthCookieDomain must be a domain name')
  expect((SAME_SITE as readonly unknown[]).includes(o.jwtAuthSameSite), 'jwtAuthSameSite must be "Lax", "Strict", "None" or false')
  expect(o.jwtAuthSameSite !== 'None' || o.jwtAuthSecure, 'jwtAuthSameSite "None" needs jwtAuthSecure: true (browsers drop such cookies otherwise)')
  expect(['none', 'optional', 'mandatory'].includes(o.emailVerification), 'emailVerification must be "none", "optional" or "mandatory"')
  expect(['username', 'email', 'username_email'].includes(o.authenticationMethod), 'authenticationMethod must be "username", "email" or "username_email"')
  expect(typeof o.emailConfirmationUrl === 'string' && o.emailConfirmationUrl.includes('{key}'), 'emailConfirmationUrl must be a string containing {key}')
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
