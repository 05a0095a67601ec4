import { createHash, randomBytes } from 'node:crypto'
import { markAuthFailure } from '../../auth-failure.js'
import type { AnyRequest } from '../../http/any-request.js'
import type { AccountsCore } from '../../core.js'
import { isAccountsError } from '../../errors.js'
import { requestCookies } from '../../http/cookies.js'
import type { User } from '../../ports.js'
import { SESSION_CLAIM } from '../../session-ids.js'
import { userIdFromClaim, type TokenClaims } from '../../tokens.js'
import { MESSAGES, SanicJwtException } from './errors.js'
import type { ResolvedSanicJwtOptions } from './options.js'


type Decoded = { ok: true, claims: TokenClaims } | { ok: false, reasons: string[] }

export interface SanicJwtCore {
  /**
   * sanic-jwt's _get_token: the cookie (when on), then the header; for refresh, the body's refresh token. A cookie
   * on an unsafe request from a foreign origin is a 403 Forbidden (Django's CSRF check, beyond sanic-jwt).
   */
  token: (request: AnyRequest, refresh: boolean) => string
  /** sanic-jwt's _decode + the claim checks of _verify; a token of another dialect is refused. */
  decode: (token: string, verifyExp: boolean) => Decoded
  /** `decode`, then the session check against the user the token names (/verify); a missing user is not looked further into. */
  verify: (token: string, verifyExp: boolean) => Promise<Decoded>
  /** @protected: the verified claims of the request's access token, or Unauthorized. */
  protect: (request: AnyRequest, verifyExp: boolean) => TokenClaims
  /**
   * retrieve_user: the active user the claims name, or null; Unauthorized when the token's session was ended
   * by a password change.
   */
  userOf: (claims: TokenClaims) => Promise<User | null>
  /** A new session (a login) for `user`: give it to accessToken and issueRefreshToken, so both name it. */
  startSession: (user: User) => string
  /** An access token for `userId` in `session` (by default a new session of its own). */
  accessToken: (userId: number, session?: string) => string
  /** A refresh token for `userId`, recorded in `session` (by default a session of its own, named by its key). */
  issueRefreshToken: (userId: number, session?: string) => Promise<string>
  /** The session of a live refresh token of `userId` (for the access token a refresh issues), or null. */
  refreshSession: (token: string, userId: number) => Promise<string | null>
}

/**
 * The refresh record key (`jti`) of a sanic-jwt refresh token: only this hash is stored, in the core's
 * TokenStore. Exported for imports: `store.tokens.saveRefreshToken({ jti: sanicJwtRefreshKey(token), userId,
 * family: sanicJwtRefreshKey(token), expiresAt })` carries a live refresh token over from a Sanic app.
 */
export function sanicJwtRefreshKey (token: string): string {
  return `sanic-jwt:${createHash('sha256').update(token).digest('hex')}`
}

export function createSanicJwtCore (decorator: AccountsCore, o: ResolvedSanicJwtOptions): SanicJwtCore {
  const { users: accounts, jwt, tokens } = decorator
  const core = decorator.options.jwt
  const refreshLifetime = o.refreshTokenLifetime ?? core.refreshTokenLifetime

  function fromCookies (request: AnyRequest, refresh: boolean): string | undefined {
    const cookies = requestCookies(request)
    if (refresh) return cookies[o.cookieRefreshTokenName]
    const token = cookies[o.cookieAccessTokenName]
    if (o.cookieSplit && token !== undefined && token !== '') return `${token}.${cookies[o.cookieSplitSignatureName] ?? ''}`
    return token
  }

  function fromHeader (request: AnyRequest, refresh: boolean): unknown {
    const raw = request.headers[o.authorizationHeader]
    const header = Array.isArray(raw) ? raw[0] : raw
    if (header === undefined) return undefined
    let token: unknown = header
    const prefix = o.authorizationHeaderPrefix
    if (prefix !== '') {
      // Python's header.split(" "): exactly the prefix, one space, the token. A bare prefix is an empty token.
      const parts = header.split(' ')
      if (parts.length === 1 && parts[0] === prefix) token = ''
      else if (parts.length !== 2 || parts[0] !== prefix) throw new SanicJwtException('InvalidAuthorizationHeader', 400, MESSAGES.invalidHeader)
      else token = parts[1]
    }
    if (refresh) token = (request.body as Record<string, unknown> | undefined)?.[o.refreshTokenName]
    return token
  }

  function token (request: AnyRequest, refresh: boolean): string {
    if (o.cookieSet) {
      const found = fromCookies(request, refresh)
      if (found !== undefined && found !== '') {
        // Credentials a browser sends by itself: a state-changing request must come from the site (CSRF).
        try {
          decorator.checkOrigin(request)
        } catch (error) {
          if (isAccountsError(error) && error.code === 'ACCOUNTS_PERMISSION_DENIED') throw new SanicJwtException('Forbidden', 403, error.message)
          throw error
        }
        return found
      }
      if (o.cookieStrict) throw new SanicJwtException('MissingAuthorizationCookie', 400, MESSAGES.missingCookie)
    }
    const found = fromHeader(request, refresh)
    if (typeof found === 'string' && found !== '') return found
    throw new SanicJwtException('MissingAuthorizationHeader', 400, MESSAGES.missingHeader)
  }

  function decode (token: string, verifyExp: boolean): Decoded {
    let verified: unknown
    try {
      // The signature only: the time and audience/issuer checks follow, as PyJWT makes them for sanic-jwt.
      verified = jwt.verify(token, 'signature-only')
    } catch {
      return { ok: false, reasons: [MESSAGES.authRequired] }
    }
    if (typeof verified !== 'object' || verified === null || Array.isArray(verified)) return { ok: false, reasons: [MESSAGES.authRequired] }
    const claims = verified as TokenClaims
    // Only sanic-jwt's own tokens, though every dialect signs with the same key: simplejwt's carry a token type,
    // drf-jwt's a username; sanic-jwt writes neither (custom claims are not supported).
    if (core.tokenTypeClaim in claims || ('username' in claims && o.userIdKey !== 'username')) return { ok: false, reasons: [MESSAGES.authRequired] }
    const now = Math.floor(Date.now() / 1000)
    const leeway = o.leeway
    const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value)
    // PyJWT's order: iat, nbf, exp, iss, aud.
    if ('iat' in claims) {
      if (!isNumber(claims.iat)) return { ok: false, reasons: [MESSAGES.iatNotInteger] }
      if (claims.iat > now + leeway) return { ok: false, reasons: [MESSAGES.immatureIat] }
    }
    if ('nbf' in claims) {
      if (!isNumber(claims.nbf)) return { ok: false, reasons: [MESSAGES.authRequired] }
      if (claims.nbf > now + leeway) return { ok: false, reasons: [MESSAGES.immatureNbf] }
    }
    // sanic-jwt always writes exp; a token without one would never expire, so it is refused.
    if (!isNumber(claims.exp)) return { ok: false, reasons: [MESSAGES.authRequired] }
    if (verifyExp && claims.exp <= now - leeway) return { ok: false, reasons: [MESSAGES.expired] }
    if (o.claimIss !== undefined) {
      if (!('iss' in claims)) return { ok: false, reasons: [MESSAGES.authRequired] }
      if (claims.iss !== o.claimIss) return { ok: false, reasons: [MESSAGES.invalidIssuer] }
    }
    // PyJWT's _validate_aud: an empty aud counts as none; a token with an audience nobody expects is refused.
    const aud = claims.aud
    const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : aud === undefined || aud === null ? [] : [aud]
    const named = audiences.filter((value) => value !== '')
    if (o.claimAud === undefined) {
      if (named.length > 0) return { ok: false, reasons: [MESSAGES.invalidAudience] }
    } else {
      if (named.length === 0) return { ok: false, reasons: [MESSAGES.authRequired] }
      if (!named.includes(o.claimAud)) return { ok: false, reasons: [MESSAGES.invalidAudience] }
    }
    return { ok: true, claims }
  }

  function protect (request: AnyRequest, verifyExp: boolean): TokenClaims {
    let raw: string
    try {
      raw = token(request, false)
    } catch (error) {
      if (error instanceof SanicJwtException && error.exception !== 'Forbidden') throw new SanicJwtException('Unauthorized', 401, error.reasons)
      throw error
    }
    const decoded = decode(raw, verifyExp)
    if (!decoded.ok) throw markAuthFailure(new SanicJwtException('Unauthorized', 401, decoded.reasons), { scheme: 'jwt', reason: 'invalid', userId: null })
    return decoded.claims
  }

  async function verify (raw: string, verifyExp: boolean): Promise<Decoded> {
    const decoded = decode(raw, verifyExp)
    if (!decoded.ok) return decoded
    const id = userIdFromClaim(decoded.claims[o.userIdKey])
    const user = id === null ? null : await accounts.findUser(id)
    return user === null || tokens.sessionAlive(decoded.claims, user) ? decoded : { ok: false, reasons: [MESSAGES.revoked] }
  }

  async function userOf (claims: TokenClaims): Promise<User | null> {
    const id = userIdFromClaim(claims[o.userIdKey])
    const user = id === null ? null : await accounts.findUser(id)
    if (user !== null && !tokens.sessionAlive(claims, user)) {
      throw markAuthFailure(new SanicJwtException('Unauthorized', 401, MESSAGES.revoked), { scheme: 'jwt', reason: 'revoked', userId: user.id })
    }
    return user !== null && user.isActive ? user : null
  }

  function startSession (user: User): string {
    return tokens.startSession(user)
  }

  function accessToken (userId: number, session = tokens.startSession()): string {
    const now = Math.floor(Date.now() / 1000)
    // Authentication.add_claims: exp, then iss, iat, nbf, aud when configured.
    const payload: Record<string, unknown> = { [o.userIdKey]: userId, exp: now + o.expirationDelta }
    if (o.claimIss !== undefined) payload.iss = o.claimIss
    if (o.claimIat) payload.iat = now
    if (o.claimNbf) payload.nbf = now + o.leeway + o.claimNbfDelta
    if (o.claimAud !== undefined) payload.aud = o.claimAud
    // The session the token belongs to, as every dialect's tokens name it (beyond sanic-jwt).
    payload[SESSION_CLAIM] = session
    // The core signer adds iat unless told not to; sanic-jwt writes it only with claim_iat.
    return jwt.sign(payload, { issuedAt: o.claimIat })
  }

  async function issueRefreshToken (userId: number, session?: string): Promise<string> {
    // utils.generate_token: 24 random bytes, hex.
    const token = randomBytes(24).toString('hex')
    const key = sanicJwtRefreshKey(token)
    await decorator.stores.tokens.saveRefreshToken({ jti: key, userId, family: session ?? key, expiresAt: new Date(Date.now() + refreshLifetime * 1000) })
    return token
  }

  async function refreshSession (token: string, userId: number): Promise<string | null> {
    const record = await decorator.stores.tokens.findRefreshToken(sanicJwtRefreshKey(token))
    const live = record !== null && record.userId === userId && record.revokedAt === null && record.expiresAt.getTime() > Date.now()
    return live ? record.family : null
  }

  return { token, decode, verify, protect, userOf, startSession, accessToken, issueRefreshToken, refreshSession }
}
