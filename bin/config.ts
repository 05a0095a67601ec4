import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { AccountsOptions } from '../lib/options.js'

/** A mistake in the example server's environment or config file; the message says what to fix. */
export class ConfigError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

export interface PackageJson { name: string, version: string, description?: string }

/** The package root: the nearest folder above this module with our package.json (works from lib/ and dist/lib/). */
export function packageRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const candidate = join(dir, 'package.json')
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as Partial<PackageJson>
      if (pkg.name === 'fastify-accounts') return dir
    }
    const parent = dirname(dir)
    if (parent === dir) throw new Error('fastify-accounts: cannot find its package.json above ' + fileURLToPath(import.meta.url))
    dir = parent
  }
}

export function readPackageJson (): PackageJson {
  return JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as PackageJson
}

export type FileOptions = Partial<Omit<AccountsOptions, 'jwt'>> & { jwt?: Partial<AccountsOptions['jwt']> }

/** Options that are objects with methods, so cannot come from JSON; the environment selects them. */
const NOT_FROM_JSON: Record<string, string> = {
  store: 'set DATABASE_URL instead',
  mailer: 'set SMTP_URL instead',
  passwordHasher: 'it is not configurable from JSON'
}

export function readConfigFile (file: string): FileOptions {
  const path = resolve(file)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new ConfigError(`ACCOUNTS_CONFIG: cannot read ${path}${code === 'ENOENT' ? ': no such file' : `: ${(error as Error).message}`}`)
  }
  let config: unknown
  try {
    config = JSON.parse(text)
  } catch (error) {
    throw new ConfigError(`ACCOUNTS_CONFIG: ${path} is not valid JSON: ${(error as Error).message}`)
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new ConfigError(`ACCOUNTS_CONFIG: ${path} must hold a JSON object of plugin options`)
  }
  for (const key of Object.keys(config)) {
    if (Object.hasOwn(NOT_FROM_JSON, key)) throw new ConfigError(`ACCOUNTS_CONFIG: ${path}: "${key}" cannot be set in the file; ${NOT_FROM_JSON[key]}`)
  }
  const jwt = (config as { jwt?: unknown }).jwt
  if (jwt !== undefined && (typeof jwt !== 'object' || jwt === null || Array.isArray(jwt))) {
    throw new ConfigError(`ACCOUNTS_CONFIG: ${path}: "jwt" must be an object`)
  }
  // `$schema` names the file's JSON Schema for editors (dist/options.schema.json, bin/options-schema.ts): no option.
  const { $schema, ...options } = config as Record<string, unknown>
  return options as FileOptions
}
