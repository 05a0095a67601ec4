#!/usr/bin/env node
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { Kind, type TSchema } from '@sinclair/typebox'
import { inCodeType } from '../lib/option-checks.js'
import { AccountsOptionsSchema } from '../lib/options.js'
import { readPackageJson } from './config.js'
import { isMain } from './is-main.js'

type Json = Record<string, unknown>

/**
 * The plugin's options (AccountsOptionsSchema) as a JSON Schema (draft-07), for JSON files of options such
 * as the example server's ACCOUNTS_CONFIG: name it in the file's `"$schema"` and an editor completes and
 * checks the options, with their defaults and descriptions. What only code can set (`store`, `mailer`,
 * functions) is left out, and nothing is required: the JWT key comes from the environment (JWT_SECRET),
 * not from a file. The plugin still checks everything when it registers.
 */
export function optionsJsonSchema (): Json {
  const { version, description } = readPackageJson()
  const schema = toJson(AccountsOptionsSchema)
  delete schema.required
  delete (schema.properties as Record<string, Json>).jwt.required
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: `https://unpkg.com/fastify-accounts@${version}/dist/options.schema.json`,
    title: 'fastify-accounts options',
    description: `Options of fastify-accounts ${version}${description === undefined ? '' : `: ${description}`}. Names mirror the Django settings in camelCase; times are in seconds.`,
    ...schema,
    properties: {
      $schema: { type: 'string', description: 'The JSON Schema of this file, e.g. "./node_modules/fastify-accounts/dist/options.schema.json".' },
      ...(schema.properties as Json)
    }
  }
}

/** A TypeBox schema as plain JSON Schema: without what only code can set, and a union of values as `enum`. */
function toJson (schema: TSchema): Json {
  const json: Json = Object.fromEntries(Object.entries(schema))
  if (schema[Kind] === 'Union' && (schema.anyOf as TSchema[]).every((member) => member[Kind] === 'Literal')) {
    delete json.anyOf
    json.enum = (schema.anyOf as TSchema[]).map((member) => member.const)
  } else if (schema.anyOf !== undefined) {
    json.anyOf = (schema.anyOf as TSchema[]).map(toJson)
  }
  if (schema.items !== undefined) json.items = toJson(schema.items as TSchema)
  if (schema.patternProperties !== undefined) {
    json.patternProperties = Object.fromEntries(Object.entries<TSchema>(schema.patternProperties).map(([pattern, value]) => [pattern, toJson(value)]))
  }
  if (schema.properties !== undefined) {
    const kept = Object.entries<TSchema>(schema.properties).filter(([, property]) => inCodeType(property) === undefined)
    json.properties = Object.fromEntries(kept.map(([key, property]) => [key, toJson(property)]))
    const required = (schema.required as string[] | undefined)?.filter((key) => kept.some(([name]) => name === key)) ?? []
    if (required.length > 0) json.required = required
    else delete json.required
  }
  return json
}

/** Writes optionsJsonSchema() to `path` (default `options.schema.json`), pretty-printed; returns the absolute path. */
export function writeOptionsJsonSchema (path = 'options.schema.json'): string {
  const target = resolve(path)
  mkdirSync(dirname(target), { recursive: true })
  writeFileSync(target, JSON.stringify(optionsJsonSchema(), null, 2) + '\n')
  return target
}

if (isMain(import.meta.url)) {
  console.log(`JSON Schema of the options written to ${writeOptionsJsonSchema(process.argv[2])}`)
}
