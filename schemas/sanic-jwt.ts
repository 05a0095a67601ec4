import { Type } from '@sinclair/typebox'
import type { LoginField } from '../lib/options.js'

/**
 * The sanic-jwt 1.8 wire schemas. The token field names, the user id key and the login field are
 * settings, so the schemas are built per registration; their `$id`s stay stable for the OpenAPI document.
 *
 * Request bodies declare their fields as optional: sanic-jwt validates nothing itself, and a missing
 * field is answered by the endpoint in sanic-jwt's own shape (401 AuthenticationFailed on login,
 * 400 MissingAuthorizationHeader on refresh), not with a validation error.
 */

/** Every sanic-jwt error: `{reasons: [..], exception: '<exception class name>'}`. */
export const SanicJwtError = Type.Object({
  reasons: Type.Array(Type.String()),
  exception: Type.String({ description: 'sanic-jwt exception class: AuthenticationFailed, Unauthorized, MissingAuthorizationHeader, …' })
}, { $id: 'SanicJwtError', additionalProperties: false })

/** GET /verify, valid: `{valid: true}`. */
export const SanicJwtValid = Type.Object({
  valid: Type.Boolean()
}, { $id: 'SanicJwtValid', additionalProperties: false })

/** GET /verify, invalid: `{valid: false, reasons, exception: 'InvalidToken'}` (or, without any token, the error shape). */
export const SanicJwtInvalid = Type.Object({
  valid: Type.Optional(Type.Boolean()),
  /** /verify only: the first reason, under the key sanic-jwt's docs name. */
  reason: Type.Optional(Type.String()),
  reasons: Type.Array(Type.String()),
  exception: Type.String()
}, { $id: 'SanicJwtInvalid', additionalProperties: false })

export interface SanicJwtSchemaOptions {
  loginField: LoginField
  accessTokenName: string
  refreshTokenName: string
  refreshTokenEnabled: boolean
  userIdKey: string
}

const TEXT = Type.String({ maxLength: 4096 })
const TOKEN = Type.String({ maxLength: 8192 })

export function sanicJwtSchemas (o: SanicJwtSchemaOptions) {
  const user = Type.Object({
    [o.userIdKey]: Type.Integer(),
    username: Type.String(),
    email: Type.String()
  }, { additionalProperties: false, nullable: true, description: 'The user; null when the token names no active user' })

  return {
    Login: Type.Object({
      [o.loginField]: Type.Optional(TEXT),
      password: Type.Optional(TEXT)
    }, { $id: 'SanicJwtLogin', additionalProperties: false }),
    Tokens: Type.Object({
      [o.accessTokenName]: Type.String(),
      ...(o.refreshTokenEnabled ? { [o.refreshTokenName]: Type.String() } : {})
    }, { $id: 'SanicJwtTokens', additionalProperties: false }),
    RefreshBody: Type.Object({
      [o.refreshTokenName]: Type.Optional(TOKEN)
    }, { $id: 'SanicJwtRefresh', additionalProperties: false }),
    AccessToken: Type.Object({
      [o.accessTokenName]: Type.String()
    }, { $id: 'SanicJwtAccessToken', additionalProperties: false }),
    Me: Type.Object({ me: user }, { $id: 'SanicJwtMe', additionalProperties: false })
  }
}
