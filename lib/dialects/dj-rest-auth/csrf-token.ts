import { hkdfSync, timingSafeEqual } from 'node:crypto'
import Tokens from '@fastify/csrf'
import type { FastifyReply } from 'fastify'
import type { AnyRequest } from '../../http/any-request.js'
import { requestCookie } from '../../http/cookies.js'
import { PermissionDeniedError } from '../../errors.js'
import { SESSION_CLAIM } from '../../session-ids.js'
import type { TokenClaims } from '../../tokens.js'

/*
 * dj-rest-auth's JWT_AUTH_COOKIE_USE_CSRF: a request authenticated by a JWT cookie must also pass Django's
 * CSRF check, the double submit of the `csrftoken` cookie (readable by the site's script) in the
 * `X-CSRFToken` header. Django's pair is a bare random secret, so anyone able to plant cookies on the
 * site's domain (a sibling subdomain) can plant a matching pair. Here the token is bound to the session
 * the JWT names (its `sid`): @fastify/csrf's HMAC token with the sid as its user info, under a key derived
 * from secretKey, so a planted cookie is a wrong one. A frontend sees what Django gave it: a cookie to
 * echo in a header. A JWT without a sid of ours (issued by simplejwt before the move) has no session to
 * bind to: its pair is judged as Django judges it (the secret in the cookie, masked or not, equals the
 * header's), so the sessions carried over keep working until their next login.
 */

/** Django's CSRF_ALLOWED_CHARS (string.ascii_letters + digits) and secret length. */
const DJANGO_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
const DJANGO_SECRET_LENGTH = 32
const DJANGO_TOKEN = /^[a-zA-Z0-9]+$/

/** Django's _unmask_cipher_token, for a 64-character masked token; a 32-character secret is returned as it is. */
function djangoSecret (token: string): string | null {
  if (!DJANGO_TOKEN.test(token)) return null
  if (token.length === DJANGO_SECRET_LENGTH) return token
  if (token.length !== DJANGO_SECRET_LENGTH * 2) return null
  let secret = ''
  for (let i = 0; i < DJANGO_SECRET_LENGTH; i++) {
    const cipher = DJANGO_CHARS.indexOf(token[DJANGO_SECRET_LENGTH + i])
    const mask = DJANGO_CHARS.indexOf(token[i])
    secret += DJANGO_CHARS[(cipher - mask + DJANGO_CHARS.length) % DJANGO_CHARS.length]
  }
  return secret
}

function sameText (a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** Django's HttpHeaders.parse_header_name: `X-CSRFToken` is named `'X-Csrftoken'` in its messages. */
function djangoHeaderName (header: string): string {
  return header.split('-').map((part) => part.charAt(0).toUpperCase() + part.slice(1).toLowerCase()).join('-')
}

export interface CsrfTokenOptions {
  /** The plugin's secretKey: the key the tokens are signed with is derived from it. */
  secretKey: string
  cookieName: string
  headerName: string
  /** What the user id claim is called (a token without a sid is bound to its user). */
  userIdClaim: string
}

export interface CsrfTokens {
  /** The token for the session `claims` name, for the readable cookie. */
  tokenFor (claims: TokenClaims): string
  /** Django's check for a cookie-authenticated unsafe request of the session `claims` name; throws a 403 in Django's words. */
  check (request: AnyRequest, claims: TokenClaims): void
  readonly cookieName: string
}

export function createCsrfTokens (options: CsrfTokenOptions): CsrfTokens {
  const key = Buffer.from(hkdfSync('sha256', options.secretKey, '', 'fastify-accounts dj-rest-auth csrftoken', 32))
  // The key is both the HMAC key and the secret: nothing per browser is kept, the sid is the user info.
  // The declared call signature takes the last overload (no user info); the userInfo one is what this returns.
  const tokens = Tokens({ algorithm: 'sha256', hmacKey: key, userInfo: true }) as unknown as Tokens.TokensUserinfo
  const secret = key.toString('base64url')
  const header = options.headerName.toLowerCase()
  const headerLabel = djangoHeaderName(options.headerName)
  const refuse = (reason: string): never => { throw new PermissionDeniedError(`CSRF Failed: ${reason}`) }

  function sessionOf (claims: TokenClaims): string | null {
    const sid = claims[SESSION_CLAIM]
    return typeof sid === 'string' && sid !== '' ? sid : null
  }

  return {
    cookieName: options.cookieName,
    tokenFor (claims) {
      return tokens.create(secret, sessionOf(claims) ?? `user:${String(claims[options.userIdClaim])}`)
    },
    check (request, claims) {
      const cookie = requestCookie(request, options.cookieName)
      if (cookie === undefined || cookie === '') refuse('CSRF cookie not set.')
      const sent = request.headers[header]
      const value = Array.isArray(sent) ? sent[0] : sent
      if (value === undefined || value === '') refuse('CSRF token missing.')
      const given = value as string
      const sid = sessionOf(claims)
      if (sid === null) {
        // A session from before the move: Django's own comparison of the two secrets.
        const fromCookie = djangoSecret(cookie as string)
        if (fromCookie === null) refuse('CSRF cookie has incorrect length.')
        const fromHeader = djangoSecret(given)
        if (fromHeader === null) refuse(`CSRF token from the '${headerLabel}' HTTP header has incorrect length.`)
        if (!sameText(fromCookie as string, fromHeader as string)) refuse(`CSRF token from the '${headerLabel}' HTTP header incorrect.`)
        return
      }
      if (!sameText(cookie as string, given) || !tokens.verify(secret, given, sid)) {
        refuse(`CSRF token from the '${headerLabel}' HTTP header incorrect.`)
      }
    }
  }
}

/** Sets the readable token cookie (Django's CSRF cookie: not HttpOnly, so the site's script can echo it). */
export function setCsrfCookie (
  reply: FastifyReply, csrf: CsrfTokens, claims: TokenClaims, cookie: { lifetime: number, secure: boolean, sameSite?: 'lax' | 'strict' | 'none', domain?: string }
): void {
  reply.setCookie(csrf.cookieName, csrf.tokenFor(claims), {
    path: '/', maxAge: cookie.lifetime, expires: new Date(Date.now() + cookie.lifetime * 1000), httpOnly: false, secure: cookie.secure,
    ...(cookie.sameSite === undefined ? {} : { sameSite: cookie.sameSite }), ...(cookie.domain === undefined ? {} : { domain: cookie.domain })
  })
}
