import { Type, type Static } from '@sinclair/typebox'
import { Body, Field } from './shared.js'
import type { LoginField } from '../lib/options.js'

/**
 * The django-rest-framework-jwt 1.11 wire schemas. Every `$id` starts with `DrfJwt`, so the dialect can
 * sit beside djoser's (or another dialect's) in one app and one OpenAPI document.
 */

/** DRF's validation error: `{ field: [messages] }`, `non_field_errors` for the serializers' own checks. */
export const DrfJwtErrors = Type.Record(Type.String(), Type.Union([Type.Array(Type.String()), Type.String()]), {
  $id: 'DrfJwtErrors',
  description: 'Messages per field; non_field_errors for the token checks (expired, undecodable, refresh limit, …)'
})

/** DRF's `{detail}`: 401 on protected routes, and unreadable bodies. */
export const DrfJwtDetail = Type.Object({ detail: Type.String() }, { $id: 'DrfJwtDetail', additionalProperties: false })

/** The body of api-token-refresh/ and api-token-verify/. */
export const DrfJwtTokenBody = Body('DrfJwtTokenBody', { token: Field(8192) })

/** The default success body of all three endpoints (drf-jwt's jwt_response_payload_handler). */
export const DrfJwtToken = Type.Object({ token: Type.String() }, { $id: 'DrfJwtToken', additionalProperties: false })
export type DrfJwtToken = Static<typeof DrfJwtToken>

/** The success body when `responsePayloadHandler` shapes it: whatever the handler returns. */
export const DrfJwtCustomResponse = Type.Object({ token: Type.Optional(Type.String()) }, {
  $id: 'DrfJwtCustomResponse',
  additionalProperties: true,
  description: 'Shaped by the responsePayloadHandler option (JWT_RESPONSE_PAYLOAD_HANDLER)'
})

/** The login body depends on the login field (drf-jwt's USERNAME_FIELD), so it is built per registration. */
export function drfJwtSchemas (loginField: LoginField) {
  return {
    Login: Body('DrfJwtLogin', {
      [loginField]: loginField === 'username' ? Field(150) : Field(254),
      password: Field(4096)
    })
  }
}
