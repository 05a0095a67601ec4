import type { TypedInstance } from '../../http/route.js'
import { sessionRoutes, type SessionRoutesContext } from '../sessions-routes.js'

/**
 * `GET users/me/sessions/`, `DELETE users/me/sessions/{id}/`, `DELETE users/me/sessions/` (beyond djoser; see
 * ../sessions-routes.ts). Errors in djoser's shapes (`{detail}`), as the rest of the dialect's.
 */
export function djoserSessionRoutes (app: TypedInstance, ctx: SessionRoutesContext): void {
  sessionRoutes(app, ctx, '/users/me/sessions/', 'sessions')
}
