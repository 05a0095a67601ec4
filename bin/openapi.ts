#!/usr/bin/env node
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import swagger from '@fastify/swagger'
import Fastify from 'fastify'
import { swaggerOptions } from '../lib/http/openapi.js'
import { accounts } from '../lib/plugin.js'
import { ConfigError, readConfigFile, readPackageJson } from './config.js'
import { isMain } from './is-main.js'

/**
 * Writes the OpenAPI document of the routes (`fastify-accounts-openapi [path]`), pretty-printed, to `path`
 * (default `openapi.json` in the working directory): the plugin under `/auth` with the options of
 * ACCOUNTS_CONFIG, as the example server mounts it. Nothing is read from or written to a database: the
 * stores are in memory and the JWT secret is thrown away. Returns the absolute path written.
 */
export async function writeOpenApi (path = 'openapi.json', env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const { jwt, ...file } = env.ACCOUNTS_CONFIG === undefined || env.ACCOUNTS_CONFIG === '' ? {} : readConfigFile(env.ACCOUNTS_CONFIG)
  const pkg = readPackageJson()
  const app = Fastify({ logger: false })
  try {
    await app.register(swagger, swaggerOptions({ title: pkg.name, version: pkg.version, description: pkg.description }))
    // The example server's defaults: two-factor sign-in on with the djoser dialect (its pages' dialect).
    const mfa = (file.dialect ?? 'djoser') === 'djoser' ? { mfa: true } : {}
    await app.register(accounts, { prefix: '/auth', openApiSecurity: true, ...mfa, ...file, jwt: { ...jwt, signingKey: randomBytes(32).toString('hex') } })
    await app.ready()
    const target = resolve(path)
    writeFileSync(target, JSON.stringify(app.swagger(), null, 2) + '\n')
    return target
  } finally {
    await app.close()
  }
}

if (isMain(import.meta.url)) {
  try {
    const written = await writeOpenApi(process.argv[2])
    console.log(`OpenAPI document written to ${written}`)
  } catch (error) {
    const known = error instanceof ConfigError || (error instanceof Error && error.name === 'OptionsError')
    console.error(known ? `fastify-accounts: ${(error as Error).message.replace(/^fastify-accounts: /, '')}` : error)
    process.exit(1)
  }
}
