import { Type, type Static } from '@sinclair/typebox'
import type { onRequestAsyncHookHandler } from 'fastify'
import { authOf, requireUser as currentUser, type AccountsCore } from '../core.js'
import { NotFoundError } from '../errors.js'
import { route, type TypedInstance } from '../http/route.js'
import { requestContext } from '../request-context.js'
import type { SessionView } from '../tokens.js'
import { Detail, NoContent, TokenError } from '../../schemas/shared.js'

/**
 * The sessions routes (ASVS 3.3.4), shared by the djoser (`users/me/sessions/`) and dj-rest-auth (`sessions/`)
 * dialects, beyond both projects: list one's sessions, end one, end all but the current.
 *
 * | route | success | failures |
 * |---|---|---|
 * | GET {base} | 200 [{id, kind, created, last_used, expires, ip, user_agent, current}] | 401 |
 * | DELETE {base}{id}/ | 204: a rotation family is revoked (its access tokens live until they expire), an opaque token deleted | 401; 404 {detail} not one of the caller's live sessions |
 * | DELETE {base} | 204: every other session ends at once, access tokens too (a cut-off, as a password change) | 401 |
 *
 * A session's `id` is the rotation family's (the `sid` every token of the session carries) or the opaque key's
 * SHA-256 hash: neither is a credential nor leads to one (a key is 160 random bits; the authenticator hashes
 * what it is given, so presenting the hash gets nowhere), and both are what the request's own session is
 * named by (`current`). Only the caller's own sessions are ever listed or ended: another user's id is a 404.
 */

export interface SessionRoutesContext {
  core: AccountsCore
  authenticate: onRequestAsyncHookHandler
  security?: Array<Record<string, string[]>>
}

const Timestamp = Type.String({ format: 'date-time' })
const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()])

export const SessionItem = Type.Object({
  id: Type.String({ description: 'The rotation family (the `sid` claim of its tokens) or the opaque key\'s SHA-256 hash.' }),
  kind: Type.Union([Type.Literal('jwt'), Type.Literal('token')], { description: '`jwt`: an access/refresh login; `token`: an opaque token (`Token <key>`).' }),
  created: Timestamp,
  last_used: Type.String({ format: 'date-time', description: 'Recorded at most once a minute.' }),
  expires: Nullable(Type.String({ format: 'date-time', description: 'Its absolute end (`jwt.sessionLifetime`, `authTokenLifetime`); null: none.' })),
  ip: Nullable(Type.String({ description: 'The address of the login that started it.' })),
  user_agent: Nullable(Type.String()),
  current: Type.Boolean({ description: 'The session of this request.' })
}, { additionalProperties: false })
export type SessionItem = Static<typeof SessionItem>
const SessionList = Type.Array(SessionItem)
const SessionParams = Type.Object({ id: Type.String() })

/** Longer ids name no session (a family id is 32 hex characters, a key hash 64): a 404 without a lookup. */
const ID_MAX = 128

export function sessionItem (s: SessionView): SessionItem {
  return {
    id: s.id,
    kind: s.kind,
    created: s.createdAt.toISOString(),
    last_used: s.lastUsedAt.toISOString(),
    expires: s.expiresAt === null ? null : s.expiresAt.toISOString(),
    ip: s.ip,
    user_agent: s.userAgent,
    current: s.current
  }
}

/** Registers the three routes under `base` (with its trailing slash), tagged `tag` in the OpenAPI document. */
export function sessionRoutes (app: TypedInstance, ctx: SessionRoutesContext, base: string, tag: string): void {
  const { core, authenticate, security } = ctx
  const { tokens } = core
  const tags = [tag]
  const currentSession = (request: Parameters<typeof authOf>[0]): string | null => tokens.sessionIdOf(authOf(request, core.names))

  route(app, {
    method: 'GET',
    url: base,
    schema: { tags, summary: 'Your sessions: logins (refresh families) and opaque tokens still live, oldest first', security, response: { 200: SessionList, 401: TokenError } },
    onRequest: authenticate,
    async handler (request) {
      const sessions = await tokens.listSessions(currentUser(request).id, currentSession(request))
      return sessions.map(sessionItem)
    }
  })

  route(app, {
    method: 'DELETE',
    url: `${base}:id/`,
    schema: {
      tags,
      summary: 'End one of your sessions (its refresh token or opaque token stops working; its access tokens live until they expire)',
      security,
      params: SessionParams,
      response: { 204: NoContent, 401: TokenError, 404: Detail }
    },
    onRequest: authenticate,
    async handler (request, reply) {
      const { id } = request.params
      const ended = id.length <= ID_MAX && await tokens.endSession(currentUser(request).id, id, requestContext(request))
      if (!ended) throw new NotFoundError('Not found.')
      return reply.code(204).send(null)
    }
  })

  route(app, {
    method: 'DELETE',
    url: base,
    schema: {
      tags,
      summary: 'End every session but this one, access tokens included (in every dialect)',
      security,
      response: { 204: NoContent, 401: TokenError }
    },
    onRequest: authenticate,
    async handler (request, reply) {
      await tokens.endOtherSessions(currentUser(request).id, currentSession(request), requestContext(request))
      return reply.code(204).send(null)
    }
  })
}
