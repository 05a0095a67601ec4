import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Kind, type TObject, type TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import AjvModule from 'ajv'
import t from 'tap'
import { optionsJsonSchema, writeOptionsJsonSchema } from '../bin/options-schema.js'
import { optionRows, optionsTable, TABLE_END, TABLE_START, withOptionsTable } from '../bin/options-table.js'
import { DJ_REST_AUTH_DEFAULTS, DjRestAuthOptionsSchema } from '../lib/dialects/dj-rest-auth/options.js'
import { DRF_JWT_DEFAULTS, DrfJwtOptionsSchema } from '../lib/dialects/drf-jwt/options.js'
import { SANIC_JWT_DEFAULTS, SanicJwtOptionsSchema } from '../lib/dialects/sanic-jwt/options.js'
import { AccountsOptionsSchema, CoreOptionsSchema, DEFAULTS, resolveOptions } from '../lib/options.js'
import { ARGON2_DEFAULTS } from '../lib/passwords/argon2.js'
import { buildServer } from '../example/app.js'

const Ajv = AjvModule.default

/** Ajv (draft-07) for the JSON Schema file; `errorMessage` is an annotation (ajv-errors' and VS Code's). */
function validator () {
  const ajv = new Ajv({ allErrors: false })
  ajv.addKeyword('errorMessage')
  return ajv.compile(optionsJsonSchema())
}

/** Every option of an object schema by its dotted name, with its schema: into objects, a union's object, an array's objects. */
function options (schema: TObject, prefix = ''): Array<[string, TSchema]> {
  return Object.entries<TSchema>(schema.properties).flatMap(([key, property]): Array<[string, TSchema]> => {
    const name = `${prefix}${key}`
    const objects = [property, ...((property.anyOf as TSchema[] | undefined) ?? [])].filter((s) => s[Kind] === 'Object' && Object.keys(s.properties as object).length > 0)
    const items = property[Kind] === 'Array' && (property.items as TSchema)[Kind] === 'Object' ? [property.items as TObject] : []
    return [
      [name, property],
      ...objects.flatMap((object) => options(object as TObject, `${name}.`)),
      ...items.flatMap((object) => options(object, `${name}[].`))
    ]
  })
}

function at (value: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((object, key) => (object as Record<string, unknown> | undefined)?.[key], value)
}

t.test('the JSON Schema file', async t => {
  const schema = optionsJsonSchema()
  const validate = validator()

  t.test('names itself and its draft; holds no option only code can set', async t => {
    t.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#')
    t.match(schema.$id, /^https:\/\/.*\/options\.schema\.json$/)
    t.equal(schema.title, 'fastify-accounts options')
    const properties = schema.properties as Record<string, any>
    for (const name of ['store', 'mailer', 'passwordHasher']) t.notOk(name in properties, name)
    t.notOk('redis' in properties.rateLimit.anyOf[1].properties, 'rateLimit.redis')
    t.notOk('payloadHandler' in properties.drfJwt.properties, 'drfJwt.payloadHandler')
    t.notOk('responsePayloadHandler' in properties.drfJwt.properties, 'drfJwt.responsePayloadHandler')
    t.notOk(JSON.stringify(schema).includes('"Function"'), 'no TypeBox-only kinds')
    t.notOk('required' in schema, 'nothing required: the JWT key comes from the environment')
  })

  t.test('accepts a correct config, with its $schema', async t => {
    const config = {
      $schema: './node_modules/fastify-accounts/dist/options.schema.json',
      prefix: '/api',
      dialect: 'drf-jwt',
      hideUsers: false,
      rateLimit: { perIp: { max: 100, timeWindow: 60 } },
      passwordValidation: { minLength: 10, userAttributeSimilarity: false },
      decorators: { user: 'account' },
      jwt: { accessTokenLifetime: 600, authHeaderTypes: ['JWT'], verifyingKeys: [{ kid: 'old', key: 'an-old-shared-secret-0123456789' }] },
      drfJwt: { allowRefresh: true, authCookie: 'jwt' },
      sanicJwt: { cookieSamesite: 'Lax' },
      djRestAuth: { useJwt: true, jwtAuthCookie: null }
    }
    t.ok(validate(config), JSON.stringify(validate.errors))
    t.ok(validate({}), 'an empty file')
    t.ok(validate({ rateLimit: false }))
  })

  t.test('rejects a wrong one, naming the option', async t => {
    const cases: Array<[unknown, string]> = [
      [{ jwt: { accessTokenLifetime: 0 } }, '/jwt/accessTokenLifetime'],
      [{ hideUsers: 'no' }, '/hideUsers'],
      [{ loginField: 'phone' }, '/loginField'],
      [{ activationUrl: '#/activate/{token}' }, '/activationUrl'],
      [{ sanicJwt: { pathToVerify: 'verify' } }, '/sanicJwt/pathToVerify'],
      [{ djRestAuth: { jwtAuthCookie: 'bad name' } }, '/djRestAuth/jwtAuthCookie']
    ]
    for (const [config, path] of cases) {
      t.notOk(validate(config), JSON.stringify(config))
      t.ok(validate.errors?.some((error) => error.instancePath === path), `${path}: ${JSON.stringify(validate.errors)}`)
    }
    t.notOk(validate({ hideUser: false }))
    t.match(validate.errors, [{ keyword: 'additionalProperties', params: { additionalProperty: 'hideUser' } }])
    t.notOk(validate({ store: { users: {} } }), 'store cannot come from a file')
  })

  t.test('the file it writes', async t => {
    const path = writeOptionsJsonSchema(join(t.testdir(), 'dist', 'options.schema.json'))
    t.same(JSON.parse(readFileSync(path, 'utf8')), schema)
  })
})

t.test('the defaults are the schemas\' defaults', async t => {
  const blocks: Array<[string, TObject, unknown]> = [
    ['core', CoreOptionsSchema, DEFAULTS],
    ['djRestAuth', DjRestAuthOptionsSchema, DJ_REST_AUTH_DEFAULTS],
    ['drfJwt', DrfJwtOptionsSchema, DRF_JWT_DEFAULTS],
    ['sanicJwt', SanicJwtOptionsSchema, SANIC_JWT_DEFAULTS]
  ]
  for (const [block, schema, defaults] of blocks) {
    const declared = options(schema).filter(([name, s]) => s.default !== undefined && !name.includes('[]'))
    for (const [name, property] of declared) {
      const inside = name.split('.').slice(0, -1).join('.')
      if (inside !== '' && declared.some(([other]) => other === inside)) continue // inside a default of its own (rateLimit.perIp)
      t.same(at(defaults, name), property.default, `${block}: ${name}`)
      t.ok(Value.Check(property, property.default), `${block}: the default of ${name} is valid`)
    }
    const leaves = (value: unknown, prefix = ''): string[] => Object.entries(value as object).flatMap(([key, v]) =>
      declared.some(([name]) => name === `${prefix}${key}`) ? [`${prefix}${key}`] : leaves(v, `${prefix}${key}.`))
    t.same(leaves(defaults).sort(), declared.map(([name]) => name).filter((name) => !declared.some(([other]) => name.startsWith(`${other}.`))).sort(),
      `${block}: nothing in the defaults but the schema's`)
    t.ok(Object.isFrozen(defaults), `${block}: frozen`)
  }
  t.same(DEFAULTS.argon2, ARGON2_DEFAULTS, "argon2's defaults are the hasher's")
})

t.test('every option has a description', async t => {
  for (const [name, schema] of options(AccountsOptionsSchema)) t.ok(typeof schema.description === 'string' && schema.description.length > 0, name)
})

t.test('the README table lists every option', async t => {
  const table = optionsTable()
  const names = options(AccountsOptionsSchema).map(([name]) => name)
  t.ok(names.length > 100)
  for (const name of names) t.match(table, `\n| \`${name}\` | `, name)
  t.equal(table.trim().split('\n').length, names.length + 2, 'one row each, after the header')
  t.same(optionRows().find((row) => row.name === 'jwt.accessTokenLifetime'), {
    name: 'jwt.accessTokenLifetime', type: 'integer', default: '`300`', description: 'Lifetime of an access token, seconds.'
  })
  t.match(table, /\| `dialect` \| "djoser" \\\| "dj-rest-auth" \\\| "sanic-jwt" \\\| "drf-jwt" \| `"djoser"` \|/, 'a | inside a cell is escaped')
  t.match(table, /\| `jwt.signingKey` \| string \| required \|/)
  t.match(table, /\| `mailer` \| Mailer \| — \|/)

  const readme = `# x\n\n${TABLE_START}\nold\n${TABLE_END}\n\nafter\n`
  t.equal(withOptionsTable(readme), `# x\n\n${TABLE_START}\n${table}${TABLE_END}\n\nafter\n`)
  t.throws(() => withOptionsTable('# no table'), /no options table/)
})

t.test('the example server takes an ACCOUNTS_CONFIG file that names the JSON Schema', async t => {
  const dir = t.testdir()
  const file = join(dir, 'accounts.json')
  const config = { $schema: './node_modules/fastify-accounts/dist/options.schema.json', hideUsers: false, jwt: { accessTokenLifetime: 600 } }
  writeFileSync(file, JSON.stringify(config))
  t.ok(validator()(config), 'the JSON Schema accepts it')
  const app = await buildServer({ DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:', ACCOUNTS_CONFIG: file }, { logger: false })
  t.teardown(() => app.close())
  t.equal(app.accounts.options.hideUsers, false)
  t.equal(app.accounts.options.jwt.accessTokenLifetime, 600)
  t.throws(() => resolveOptions({ $schema: 'x', jwt: { signingKey: 'a-secret-that-is-long-enough' } } as never), /unknown option "\$schema"/,
    'the plugin itself takes no $schema: readConfigFile drops it')
})
