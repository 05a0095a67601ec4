import { randomBytes } from 'node:crypto'
import type { SessionCutoff } from './ports.js'

/*
 * A session is one login: a simplejwt rotation family, a drf-jwt or sanic-jwt login, an opaque token. Every
 * JWT this plugin signs names its session in the `sid` claim: a UUIDv7 (RFC 9562) in hex, whose first 48 bits
 * are the instant the session started, in milliseconds. A password change writes a cut-off on the user row
 * (`sessionsValidAfter`) and the one session it spares (`keptSession`); every authenticator already loads
 * that row, so judging a token against it costs no lookup. A session is live when the user has no cut-off,
 * when it is the kept one, or when it started after the cut-off. An opaque token is its own session (its
 * key's hash, created at its `createdAt`). A token without a `sid` of ours (simplejwt's from before a move
 * from Django, drf-jwt's or sanic-jwt's from the real projects) is judged by the second it carries
 * (`orig_iat`, else `iat`) taken at its first millisecond: one issued in the cut-off's own second is refused,
 * since it may precede the change; one without either lives only while the user has no cut-off.
 */

/** The claim naming the session a JWT belongs to. */
export const SESSION_CLAIM = 'sid'

/** A session id: a UUIDv7 in hex (32 characters, as simplejwt's jti), starting with `startedAt` in ms. */
export function newSessionId (startedAt: number): string {
  const bytes = randomBytes(16)
  bytes.writeUIntBE(startedAt, 0, 6)
  bytes[6] = (bytes[6] & 0x0f) | 0x70
  bytes[8] = (bytes[8] & 0x3f) | 0x80
  return bytes.toString('hex')
}

const SESSION_ID = /^[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$/

/** When the session `sid` names started (ms), or null when it is no session id of ours. */
export function sessionStartOf (sid: unknown): number | null {
  return typeof sid === 'string' && SESSION_ID.test(sid) ? Number.parseInt(sid.slice(0, 12), 16) : null
}

/** A session as the cut-off judges it: its id (null when unnamed) and when it started (ms; null when unknown). */
export interface SessionRef {
  id: string | null
  startedAt: number | null
}

const wholeSeconds = (value: unknown): number | null => typeof value === 'number' && Number.isFinite(value) ? Math.floor(value) : null

/** The session a token belongs to: its `sid`, and when it started (from the `sid`, else the token's own second). */
export function sessionOfClaims (claims: Readonly<Record<string, unknown>>): SessionRef {
  const sid = claims[SESSION_CLAIM]
  const id = typeof sid === 'string' ? sid : null
  const started = sessionStartOf(id)
  if (started !== null) return { id, startedAt: started }
  // No sid of ours: the first millisecond of the second it was issued (orig_iat: drf-jwt's login time).
  const seconds = wholeSeconds(claims.orig_iat) ?? wholeSeconds(claims.iat)
  return { id, startedAt: seconds === null ? null : seconds * 1000 }
}

/** Whether `session` outlives the user's cut-off: none set, the session it keeps, or one that started after it. */
export function isSessionLive (user: SessionCutoff, session: SessionRef): boolean {
  const cutoff = user.sessionsValidAfter ?? null
  if (cutoff === null) return true
  if (session.id !== null && session.id === user.keptSession) return true
  return session.startedAt !== null && session.startedAt > cutoff.getTime()
}
