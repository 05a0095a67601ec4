import { Kind, Type, type SchemaOptions, type TLiteralValue, type TObject, type TSchema, type TUnsafe } from '@sinclair/typebox'
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value'
import { OptionsError } from './errors.js'

/*
 * The options are TypeBox schemas (lib/options.ts, and one per dialect folder): their types, defaults and
 * checks come from them. This module holds what those schemas share: a few builders, the two annotations
 * the JSON Schema file leaves out, the defaults reader and the check that turns the first schema error
 * into a message naming the option (`fastify-accounts: jwt.leeway must be a whole number of seconds, 0 or more`).
 * It imports nothing of the plugin but errors.ts, so every options file can import it.
 */

/**
 * Marks an option set from code only: a function, or an object with methods (`store`, `mailer`). Its value
 * names its type for the options table; the JSON Schema file (bin/options-schema.ts) leaves it out.
 */
export const InCode = Symbol.for('fastify-accounts.inCode')

/** On an object schema: the message for a key it does not know, given the option's name and the key. */
export const UnknownOption = Symbol.for('fastify-accounts.unknownOption')

export type UnknownOptionMessage = (name: string, key: string) => string

/** The type name an option set from code only shows in the options table (see InCode); undefined for the others. */
export function inCodeType (schema: TSchema): string | undefined {
  return (schema as { [InCode]?: string })[InCode]
}

/** One of these values: `OneOf(['http', 'https'])` is `'http' | 'https'`; `OneOf<DialectName>(…)` keeps the type's name. */
export function OneOf<const T extends TLiteralValue> (values: readonly T[], options: SchemaOptions = {}): TUnsafe<T> {
  return Type.Unsafe<T>(Type.Union(values.map((value) => Type.Literal(value)), options))
}

/** A boolean option and its default. */
export function Flag (defaultValue: boolean, description: string): ReturnType<typeof Type.Boolean> {
  return Type.Boolean({ default: defaultValue, description })
}

/**
 * A cookie's Secure flag: true, false, or 'auto' (the default): Secure when the plugin's `protocol` is
 * https or the request came over TLS (`request.protocol`, which honours `trustProxy`), ASVS 3.4.1.
 */
export function SecureFlag (description: string): TUnsafe<boolean | 'auto'> {
  return Type.Unsafe<boolean | 'auto'>(Type.Union([Type.Boolean(), Type.Literal('auto')], {
    default: 'auto', errorMessage: 'must be true, false or "auto"', description
  }))
}

/** A whole number of seconds: above 0 (a lifetime), or 0 or more (a leeway). */
export function Seconds (minimum: 0 | 1, options: SchemaOptions): ReturnType<typeof Type.Integer> {
  const errorMessage = minimum === 1 ? 'must be a positive whole number of seconds' : 'must be a whole number of seconds, 0 or more'
  return Type.Integer({ minimum, errorMessage, ...options })
}

/** A string matching `pattern`; `errorMessage` says what it must be, as the message and an editor show it. */
export function Matching (pattern: RegExp, options: SchemaOptions & { errorMessage: string }): ReturnType<typeof Type.String> {
  return Type.String({ pattern: pattern.source, ...options })
}

/** An option set from code only, typed `T` (see InCode); `schema` checks what it can (default: anything). */
export function FromCode<T> (typeName: string, description: string, schema: TSchema = Type.Any()): TUnsafe<T> {
  const options: Record<string | symbol, unknown> = { ...schema, description, [InCode]: typeName }
  return Type.Unsafe<T>(options)
}

/** `schema`, whose unknown keys get `message` instead of `unknown option "<name>"`. */
export function withUnknownOption<S extends TObject> (schema: S, message: UnknownOptionMessage): S {
  return Object.assign(schema, { [UnknownOption]: message })
}

export function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isPlainRecord (value: unknown): value is Record<string, unknown> {
  if (!isRecord(value)) return false
  const prototype = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

/** Throws an OptionsError with `message` unless `condition` holds: the checks no schema can say. */
export function expect (condition: boolean, message: string): asserts condition {
  if (!condition) throw new OptionsError(message)
}

export type DeepReadonly<T> = T extends (...args: never[]) => unknown ? T
  : T extends ReadonlyArray<infer E> ? ReadonlyArray<DeepReadonly<E>>
    : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T

/**
 * The defaults an object schema declares: each property's `default`, and for an object property without
 * one, the defaults of its own properties. Frozen, deeply: copy them (withDefaults does) before changing.
 */
export function defaultsOf (schema: TObject): Record<string, unknown> {
  const defaults: Record<string, unknown> = {}
  for (const [key, property] of Object.entries<TSchema>(schema.properties)) {
    if (property.default !== undefined) defaults[key] = property.default
    else if (property[Kind] === 'Object' && inCodeType(property) === undefined) {
      const nested = defaultsOf(property as TObject)
      if (Object.keys(nested).length > 0) defaults[key] = nested
    }
  }
  return deepFreeze(defaults)
}

function deepFreeze<T> (value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const nested of Object.values(value)) deepFreeze(nested)
    Object.freeze(value)
  }
  return value
}

/**
 * A copy of `defaults` with the given options over it: an undefined option takes its default, and plain
 * objects merge key by key. Given values are not copied (a store stays the caller's object).
 */
export function withDefaults<T> (defaults: object, given: object): T {
  const result: Record<string, unknown> = structuredClone(defaults) as Record<string, unknown>
  for (const [key, value] of Object.entries(given)) {
    if (value === undefined) continue
    const base = result[key]
    result[key] = isPlainRecord(base) && isPlainRecord(value) ? withDefaults(base, value) : value
  }
  return result as T
}

/**
 * Checks `value` against `schema` and throws an OptionsError for the first mistake, naming the option
 * (`at` names the block, e.g. 'drfJwt'). What an option must be is the innermost `errorMessage` on the way
 * to the mistake (as ajv-errors reads it: it covers the schema's parts too, `rateLimit.perIp.max` is told
 * as `rateLimit.perIp must be { max, timeWindow } …`), else what the failing schema's type says; an
 * unknown or missing key is told as such.
 */
export function checkOptions (schema: TSchema, value: unknown, at = ''): void {
  const error = Value.Errors(schema, value).First()
  if (error !== undefined) throw new OptionsError(explain(error, schema, value, at))
}

function explain (error: ValueError, schema: TSchema, root: unknown, at: string): string {
  const member = error.type === ValueErrorType.Union ? memberOfType(error.schema, error.value) : undefined
  const inner = member === undefined ? undefined : error.errors[member].First()
  if (inner !== undefined) return explain(inner, schema, root, at)
  const segments = error.path.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
  const name = optionName(segments, root, at)
  if (error.type === ValueErrorType.ObjectAdditionalProperties) {
    const message = (error.schema as { [UnknownOption]?: UnknownOptionMessage })[UnknownOption]
    return message?.(name, segments[segments.length - 1]) ?? `unknown option "${name}"`
  }
  if (error.type === ValueErrorType.ObjectRequiredProperty) {
    const required = error.schema[Kind] === 'Object' ? (error.schema.required as string[] | undefined) ?? [] : []
    return `${name} is required${required.length > 0 ? ` (at least { ${required.join(', ')} })` : ''}`
  }
  const levels = schemasAlong(schema, root, segments)
  for (let depth = levels.length - 1; depth >= 0; depth--) {
    const message = levels[depth].find((s) => typeof s.errorMessage === 'string')?.errorMessage as string | undefined
    if (message !== undefined) return `${optionName(segments.slice(0, depth), root, at)} ${message}`
  }
  return `${name} must be ${expected(error.schema)}`
}

/**
 * The member of a union that has the value's type, when exactly one has (the object of `rateLimit: false | { … }`):
 * its own first error says more than what the union takes.
 */
function memberOfType (union: TSchema, value: unknown): number | undefined {
  const members = (union.anyOf as TSchema[]).flatMap((member, i) => member[Kind] !== 'Literal' && typeOf(member) === jsonType(value) ? [i] : [])
  return members.length === 1 ? members[0] : undefined
}

/** The schemas at each level from `schema` down along `segments` (a union and its member share a level). */
function schemasAlong (schema: TSchema, value: unknown, segments: string[]): TSchema[][] {
  const levels: TSchema[][] = []
  for (const segment of [...segments, undefined]) {
    const level = [schema]
    const member = schema[Kind] === 'Union' ? memberOfType(schema, value) : undefined
    if (member !== undefined) level.push(schema = (schema.anyOf as TSchema[])[member])
    levels.push(level)
    if (segment === undefined) break
    const next = schema[Kind] === 'Object' ? (schema.properties as Record<string, TSchema>)[segment] : schema[Kind] === 'Array' ? schema.items as TSchema : undefined
    if (next === undefined) break
    schema = next
    value = isRecord(value) || Array.isArray(value) ? (value as Record<string, unknown>)[segment] : undefined
  }
  return levels
}

function jsonType (value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value === 'number' ? 'number' : typeof value
}

function typeOf (schema: TSchema): string {
  const kind = schema[Kind] as string
  return kind === 'Integer' ? 'number' : kind.toLowerCase()
}

/** `{ kid, key, algorithm? }`: the keys of a small object schema; '' for a larger one. */
function shape (schema: TSchema): string {
  const keys = Object.keys(schema.properties as object)
  if (keys.length === 0 || keys.length > 5) return ''
  const required = (schema.required as string[] | undefined) ?? []
  return ` { ${keys.map((key) => required.includes(key) ? key : `${key}?`).join(', ')} }`
}

/** What a schema accepts, in words: `a boolean`, `"http" or "https"`, `a positive whole number`. */
function expected (schema: TSchema): string {
  switch (schema[Kind]) {
    case 'Boolean': return 'a boolean'
    case 'Null': return 'null'
    case 'Literal': return JSON.stringify(schema.const)
    case 'Union': return either((schema.anyOf as TSchema[]).map(expected))
    case 'Object': return `an object${shape(schema)}`
    case 'Function': return 'a function'
    case 'Array': {
      const items = schema.items as TSchema
      return `${schema.minItems === 1 ? 'a non-empty array' : 'an array'}${items[Kind] === 'Object' ? ` of${shape(items)}` : ''}`
    }
    case 'Integer': return schema.minimum === 1 ? 'a positive whole number' : schema.minimum === undefined ? 'a whole number' : `a whole number, ${schema.minimum as number} or more`
    case 'Number': return schema.maximum === undefined ? `a number, ${schema.minimum as number} or more` : `a number from ${schema.minimum as number} to ${schema.maximum as number}`
    case 'String': {
      const min = (schema.minLength as number | undefined) ?? 0
      if (schema.maxLength !== undefined) return `a non-empty string of at most ${schema.maxLength as number} characters`
      return min === 0 ? 'a string' : min === 1 ? 'a non-empty string' : `a string of at least ${min} characters`
    }
    default: return 'valid'
  }
}

function either (words: string[]): string {
  return words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`
}

/** `/jwt/verifyingKeys/0/kid` as a reader writes it: `jwt.verifyingKeys[0].kid` (under `at`). */
function optionName (segments: string[], root: unknown, at: string): string {
  let name = at
  let value = root
  for (const segment of segments) {
    name = Array.isArray(value) ? `${name}[${segment}]` : name === '' ? segment : `${name}.${segment}`
    value = isRecord(value) || Array.isArray(value) ? (value as Record<string, unknown>)[segment] : undefined
  }
  return name === '' ? 'options' : name
}
