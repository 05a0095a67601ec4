import type { TypedInstance } from '../../http/route.js'
import { sessionRoutes, type SessionRoutesContext } from '../sessions-routes.js'

/**
 * `GET sessions/`, `DELETE sessions/{id}/`, `DELETE sessions/` (beyond dj-rest-auth; see ../sessions-routes.ts),
 * behind the dialect's authentication (header or JWT cookie, with its CSRF checks). Errors `{detail}`.
 */
export function djRestAuthSessionRoutes (app: TypedInstance, ctx: SessionRoutesContext): void {
  sessionRoutes(app, ctx, '/sessions/', 'dj-rest-auth sessions')
}
