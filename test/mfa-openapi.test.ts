import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import SwaggerParser from '@apidevtools/swagger-parser'
import t, { type Test } from 'tap'
import { buildServer } from '../example/app.js'

// The document as parsed JSON, walked by path.
type Json = any

/** The example server's OpenAPI document with `config` as its ACCOUNTS_CONFIG. */
async function documentWith (t: Test, config: object): Promise<Json> {
  const dir = t.testdir()
  const file = join(dir, 'accounts.json')
  writeFileSync(file, JSON.stringify(config))
  const app = await buildServer({ DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:', JWT_SECRET: 'openapi-test-secret-0123456789abcdef', ACCOUNTS_CONFIG: file }, { logger: false })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/openapi.json' })
  t.equal(res.statusCode, 200)
  return JSON.parse(res.body)
}

t.test('djoser with mfa: trench\'s routes in a valid document; jwt/create/ documents the first step', async (t) => {
  const doc = await documentWith(t, { mfa: true })
  t.ok(await SwaggerParser.validate(structuredClone(doc)), 'valid OpenAPI 3')
  const paths = Object.keys(doc.paths)
  for (const path of ['/login/', '/login/code/', '/{method}/activate/', '/{method}/activate/confirm/', '/{method}/deactivate/', '/{method}/codes/regenerate/', '/mfa/config/', '/mfa/user-active-methods/']) {
    t.ok(paths.some((p) => p.endsWith(path)), path)
  }
  const create = doc.paths[paths.find((p) => p.endsWith('/jwt/create/')) as string].post.responses['200'].content['application/json'].schema
  t.match(JSON.stringify(create), /ephemeral_token/, 'jwt/create/ may answer the first step')
})

t.test('dj-rest-auth with mfa: its mfa/ routes in a valid document; login/ documents the ephemeral token', async (t) => {
  const doc = await documentWith(t, { dialect: 'dj-rest-auth', djRestAuth: { mfa: true, emailVerification: 'none' }, sendActivationEmail: false })
  t.ok(await SwaggerParser.validate(structuredClone(doc)), 'valid OpenAPI 3')
  const paths = Object.keys(doc.paths)
  for (const path of ['/mfa/verify/', '/mfa/totp/activate/', '/mfa/totp/deactivate/', '/mfa/status/', '/mfa/recovery-codes/', '/mfa/recovery-codes/regenerate/']) {
    t.ok(paths.some((p) => p.endsWith(path)), path)
  }
  const login = doc.paths[paths.find((p) => p.endsWith('/login/')) as string].post.responses['200'].content['application/json'].schema
  t.match(JSON.stringify(login), /mfa_required/)
})

t.test('without mfa: none of them', async (t) => {
  // The example server turns MFA on by default (its pages show it): off here by the config.
  const doc = await documentWith(t, { mfa: false })
  t.notOk(Object.keys(doc.paths).some((p) => p.includes('/mfa/') || p.endsWith('/login/code/')))
})
