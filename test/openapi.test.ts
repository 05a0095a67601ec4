import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import SwaggerParser from '@apidevtools/swagger-parser'
import type { FastifyInstance, RouteOptions } from 'fastify'
import t from 'tap'
import { buildServer } from '../example/app.js'
import { writeOpenApi } from '../bin/openapi.js'

type Json = any

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name: string, version: string }
const dir = t.testdir()

/** The example server with every route it registers recorded (an onRoute hook added before the plugin). */
async function serverWithRoutes (env: NodeJS.ProcessEnv = {}): Promise<{ app: FastifyInstance, routes: RouteOptions[], doc: Json }> {
  const routes: RouteOptions[] = []
  const app = await buildServer({ DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:', JWT_SECRET: 'openapi-test-secret-0123456789abcdef', ...env }, {
    logger: false,
    configure: (app) => { app.addHook('onRoute', (route) => { routes.push(route) }) }
  })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/openapi.json' })
  t.equal(res.statusCode, 200)
  return { app, routes, doc: JSON.parse(res.body) }
}

const { routes, doc } = await serverWithRoutes()

interface Operation { method: string, path: string, route: RouteOptions }

/** The routes a client sees in the document: not HEAD, not the hidden slash-less twins, not the docs themselves. */
const operations: Operation[] = routes.flatMap((route) => {
  const methods = Array.isArray(route.method) ? route.method : [route.method]
  const url = route.url
  if ((route.schema as Json)?.hide === true) return []
  if (url === '/openapi.json' || url === '/docs' || url.startsWith('/docs/')) return []
  return methods.filter((m) => m !== 'HEAD').map((method) => ({
    method: method.toLowerCase(),
    path: url.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}'),
    route
  }))
})

/** Follows a local `#/components/schemas/X` reference. */
function deref (schema: Json): Json {
  if (schema?.$ref === undefined) return schema
  const match = /^#\/components\/schemas\/(.+)$/.exec(schema.$ref)
  if (match === null) throw new Error(`not a local schema reference: ${schema.$ref}`)
  return doc.components.schemas[decodeURIComponent(match[1])]
}

function successCode (route: RouteOptions): string | undefined {
  return Object.keys((route.schema as Json)?.response ?? {}).filter((code) => /^2\d\d$/.test(code)).sort()[0]
}

t.test('the document is valid OpenAPI 3', async t => {
  t.match(doc.openapi, /^3\.0\.\d+$/)
  t.same(doc.info, { title: pkg.name, version: pkg.version, description: doc.info.description })
  const validated = await SwaggerParser.validate(structuredClone(doc))
  t.ok(validated, 'swagger-parser validates it')
})

t.test('security schemes: jwt (bearer) and token (Authorization: Token <key>)', async t => {
  t.same(doc.components.securitySchemes.jwt, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: doc.components.securitySchemes.jwt.description })
  t.match(doc.components.securitySchemes.token, { type: 'apiKey', in: 'header', name: 'Authorization', description: /Token <key>/ })
})

t.test('every route of the app is in the document, and nothing else', async t => {
  t.ok(operations.length >= 20, `found ${operations.length} operations`)
  const documented = new Set<string>()
  for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
    for (const method of Object.keys(item)) if (method !== 'parameters') documented.add(`${method} ${path}`)
  }
  const registered = new Set(operations.map((o) => `${o.method} ${o.path}`))
  t.same([...registered].filter((op) => !documented.has(op)), [], 'no route missing from the document')
  t.same([...documented].filter((op) => !registered.has(op)), [], 'no documented operation without a route')
  t.ok(documented.has('post /auth/users/'), 'the trailing-slash URLs, as djoser writes them')
  t.notOk(Object.keys(doc.paths).some((path) => !path.endsWith('/')), 'the slash-less twins are hidden')
})

t.test('each operation: request body, success response, parameters, security', async t => {
  for (const { method, path, route } of operations) {
    const name = `${method.toUpperCase()} ${path}`
    const op = doc.paths[path]?.[method]
    if (op === undefined) { t.fail(`${name} is not documented`); continue }
    const schema = (route.schema ?? {}) as Json

    t.type(op.summary, 'string', `${name}: has a summary`)
    t.ok(Array.isArray(op.tags) && op.tags.length > 0, `${name}: is tagged`)

    if (schema.body !== undefined) {
      const body = deref(op.requestBody?.content?.['application/json']?.schema)
      t.ok(body, `${name}: documents its JSON request body`)
      t.same(Object.keys(body?.properties ?? {}).sort(), Object.keys(schema.body.properties ?? {}).sort(), `${name}: request body fields`)
      t.same([...(body?.required ?? [])].sort(), [...(schema.body.required ?? [])].sort(), `${name}: required fields`)
    } else {
      t.equal(op.requestBody, undefined, `${name}: no request body`)
    }

    const code = successCode(route)
    t.ok(code, `${name}: the route declares its success response`)
    if (code === undefined) continue
    const response = op.responses?.[code]
    t.ok(response, `${name}: documents ${code}`)
    if (code === '204') {
      t.equal(response?.content, undefined, `${name}: 204 has no content`)
    } else {
      const documented = deref(response?.content?.['application/json']?.schema)
      t.ok(documented, `${name}: ${code} has a JSON schema`)
      const declared = schema.response[code]
      if (declared.properties !== undefined) {
        t.same(Object.keys(documented?.properties ?? {}).sort(), Object.keys(declared.properties).sort(), `${name}: ${code} fields`)
      }
      if (declared.type === 'array') t.equal(documented?.type, 'array', `${name}: ${code} is a list`)
    }
    for (const error of Object.keys(schema.response ?? {}).filter((c) => /^[45]\d\d$/.test(c))) {
      t.ok(op.responses[error]?.content?.['application/json']?.schema, `${name}: documents its ${error} body`)
    }

    for (const param of path.match(/\{[^}]+\}/g) ?? []) {
      const p = (op.parameters ?? []).find((x: Json) => x.in === 'path' && `{${String(x.name)}}` === param)
      t.ok(p?.required, `${name}: path parameter ${param}`)
    }

    const authenticated = route.onRequest !== undefined
    if (authenticated) {
      t.same(op.security, [{ jwt: [] }, { token: [] }], `${name}: needs a JWT or an opaque token`)
    } else {
      t.equal(op.security, undefined, `${name}: public`)
    }
  }
})

t.test('components: $id-named schemas, and every $ref resolves', async t => {
  const names = Object.keys(doc.components.schemas)
  for (const id of ['DjoserUser', 'Detail', 'FieldErrors', 'TokenError', 'Empty']) {
    t.ok(names.includes(id), `components.schemas.${id}`)
  }
  t.same(names.filter((n) => /^def-\d+$/.test(n)), [], 'no generated def-N names')
  t.same(Object.keys(doc.components.schemas.DjoserUser.properties).sort(), ['email', 'id', 'username'])
  t.notOk(JSON.stringify(doc.components.schemas.DjoserUser).includes('password'), 'the user schema has no password')

  const refs: string[] = []
  const walk = (node: Json): void => {
    if (Array.isArray(node)) { node.forEach(walk); return }
    if (node === null || typeof node !== 'object') return
    if (typeof node.$ref === 'string') refs.push(node.$ref)
    Object.values(node).forEach(walk)
  }
  walk(doc)
  t.ok(refs.length > 0, 'the document uses references')
  for (const ref of new Set(refs)) {
    t.ok(deref({ $ref: ref }), `${ref} resolves`)
  }
  t.notOk(JSON.stringify(doc).includes('$id'), 'no $id left in the document (OpenAPI 3.0 has none)')
})

t.test('the document follows ACCOUNTS_CONFIG (prefix, login field)', async t => {
  const config = join(dir, 'email-login.json')
  writeFileSync(config, JSON.stringify({ prefix: '/api', loginField: 'email' }))
  const { doc } = await serverWithRoutes({ ACCOUNTS_CONFIG: config })
  t.ok(doc.paths['/api/users/set_email/']?.post, 'set_email instead of set_username')
  t.notOk(doc.paths['/api/users/set_username/'])
  const login = doc.paths['/api/jwt/create/'].post.requestBody.content['application/json'].schema
  t.same(Object.keys(login.properties).sort(), ['email', 'password'])
  await SwaggerParser.validate(structuredClone(doc))
})

t.test('npm run openapi: writeOpenApi writes the document', async t => {
  t.test('to the given path, pretty-printed, equal to the served document', async t => {
    const out = t.testdir()
    const cwd = process.cwd()
    process.chdir(out)
    t.teardown(() => { process.chdir(cwd) })
    const written = await writeOpenApi('nested-name.json', {})
    t.equal(written, join(out, 'nested-name.json'), 'a relative path is taken from the working directory')
    const text = readFileSync(written, 'utf8')
    t.match(text, /^\{\n {2}"openapi": "3\.0\.\d+",\n/, 'pretty-printed')
    t.ok(text.endsWith('}\n'), 'ends with a newline')
    t.same(JSON.parse(text), doc, 'the same document the server serves')
    t.same(readdirSync(out), ['nested-name.json'], 'no ./data, no database, no secret written')
  })

  t.test('honours ACCOUNTS_CONFIG', async t => {
    const out = t.testdir({ 'cfg.json': JSON.stringify({ prefix: '/v2/auth' }) })
    const written = await writeOpenApi(join(out, 'openapi.json'), { ACCOUNTS_CONFIG: join(out, 'cfg.json') })
    const paths = Object.keys(JSON.parse(readFileSync(written, 'utf8')).paths)
    t.ok(paths.length > 0 && paths.every((p) => p.startsWith('/v2/auth/')))
  })

  t.test('a bad ACCOUNTS_CONFIG: rejects and writes nothing', async t => {
    const out = t.testdir({ 'cfg.json': '{ nope' })
    await t.rejects(writeOpenApi(join(out, 'openapi.json'), { ACCOUNTS_CONFIG: join(out, 'cfg.json') }), { message: /cfg\.json is not valid JSON/ })
    t.notOk(existsSync(join(out, 'openapi.json')))
  })
})
