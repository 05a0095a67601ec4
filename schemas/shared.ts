import { Type, type TSchema } from '@sinclair/typebox'

/** A required text field as DRF's CharField: a non-blank string. */
export const Field = (maxLength = 4096): ReturnType<typeof Type.String> => Type.String({ minLength: 1, maxLength })

/** A request body: unknown keys are dropped (DRF ignores them), never stored. */
export const Body = <T extends Record<string, TSchema>>($id: string, properties: T) =>
  Type.Object(properties, { $id, additionalProperties: false })

export const Detail = Type.Object({ detail: Type.String() }, { $id: 'Detail', additionalProperties: false })

/** DRF's validation error: `{ field: [messages] }`; `detail` (a string) for an unreadable body. */
export const FieldErrors = Type.Record(Type.String(), Type.Union([Type.Array(Type.String()), Type.String()]), {
  $id: 'FieldErrors', description: 'Messages per field; non_field_errors for errors of the whole body'
})

export const TokenError = Type.Object({
  detail: Type.String(),
  code: Type.Optional(Type.String()),
  messages: Type.Optional(Type.Array(Type.Object({
    token_class: Type.String(),
    token_type: Type.String(),
    message: Type.String()
  })))
}, { $id: 'TokenError', additionalProperties: false })

export const NoContent = Type.Null({ description: 'No content' })
export const Empty = Type.Object({}, { $id: 'Empty', additionalProperties: false })
