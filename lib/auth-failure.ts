import type { AuthFailure } from './events.js'

export type { AuthFailure } from './events.js'

/*
 * Authenticators throw their dialect's error (the wire differs: simplejwt's, drf-jwt's, sanic-jwt's), and the
 * hook that answers for them emits `auth.failed`. The error carries what the event says, so the hook needs
 * no table per dialect. A request without credentials is not a failure and is never marked.
 */

const kAuthFailure = Symbol('fastify-accounts.authFailure')

/** Marks `error` as a refused credential; returns it, for `throw markAuthFailure(new X(..), {..})`. */
export function markAuthFailure<E extends object> (error: E, failure: AuthFailure): E {
  Object.defineProperty(error, kAuthFailure, { value: failure, enumerable: false })
  return error
}

/** The failure an authenticator marked `error` with; null for anything else (no credentials, a store down). */
export function authFailureOf (error: unknown): AuthFailure | null {
  if (typeof error !== 'object' || error === null) return null
  return (error as { [kAuthFailure]?: AuthFailure })[kAuthFailure] ?? null
}
