import AjvModule, { type ErrorObject } from 'ajv'
import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify'
import type { FieldErrors } from '../errors.js'

const Ajv = AjvModule.default

/**
 * A validator compiler for the dialects: every field's error at once (DRF reports them all, Fastify's
 * default stops at the first), unknown keys dropped, no type coercion (a boolean is not a username).
 */
export function createValidatorCompiler (): FastifySchemaCompiler<unknown> {
  const ajv = new Ajv({ allErrors: true, removeAdditional: true, coerceTypes: false, useDefaults: true, strict: false })
  return ({ schema }) => ajv.compile(schema as object)
}

function typeName (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'list'
  return typeof value === 'string' ? 'str' : typeof value
}

function message (error: FastifySchemaValidationError, value: unknown): string {
  const params = error.params as Record<string, unknown>
  switch (error.keyword) {
    case 'required': return 'This field is required.'
    case 'type': return value === null ? 'This field may not be null.' : 'Not a valid string.'
    case 'minLength': return 'This field may not be blank.'
    case 'maxLength': return `Ensure this field has no more than ${String(params.limit)} characters.`
    default: return 'Invalid value.'
  }
}

/** Ajv's errors in DRF's shape: `{ field: [messages] }`, `non_field_errors` for a body that is not an object. */
export function fieldErrorsFromValidation (errors: FastifySchemaValidationError[], body: unknown): FieldErrors {
  const fields: FieldErrors = {}
  for (const error of errors as Array<FastifySchemaValidationError & Partial<ErrorObject>>) {
    const path = error.instancePath ?? ''
    const params = error.params as Record<string, unknown>
    let field: string
    let value: unknown
    if (error.keyword === 'required') {
      field = String(params.missingProperty)
    } else if (path === '') {
      field = 'non_field_errors'
      ;(fields[field] ??= []).push(`Invalid data. Expected a dictionary, but got ${typeName(body)}.`)
      continue
    } else {
      field = path.slice(1).split('/')[0].replaceAll('~1', '/').replaceAll('~0', '~')
      value = (body as Record<string, unknown>)[field]
    }
    const text = message(error, value)
    const list = (fields[field] ??= [])
    if (!list.includes(text)) list.push(text)
  }
  return fields
}
