import Fastify, { type InjectOptions, type LightMyRequestResponse, type RouteOptions } from 'fastify'
import t, { type Test } from 'tap'
import accounts from '../lib/index.js'
import type { User } from '../lib/ports.js'
import { activeUser, buildApp, fastHasher, json, linkFrom, PASSWORD, SECRET, type TestApp } from './helpers/app.js'

type Json = any

const BODY_LIMIT = 16384

/** Every retype field on, so re_* fields are real fields (with retype off djoser ignores them, as unknown keys). */
const RETYPE = {
  userCreatePasswordRetype: true,
  setPasswordRetype: true,
  passwordResetConfirmRetype: true,
  setUsernameRetype: true,
  usernameResetConfirmRetype: true
}

interface BodyRoute {
  method: string
  /** With /auth and the trailing slash. */
  url: string
  hidden: boolean
  /** The route's body schema: properties and required names. */
  properties: Record<string, { maxLength?: number }>
  required: string[]
  authenticated: boolean
}

/** Every route of the plugin that reads a body, found with an onRoute hook (so a new route cannot be missed). */
async function bodyRoutes (): Promise<BodyRoute[]> {
  const found: BodyRoute[] = []
  const app = Fastify({ logger: false })
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    for (const method of methods) {
      if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) continue
      const schema = (route.schema ?? {}) as Json
      found.push({
        method,
        url: route.url,
        hidden: schema.hide === true,
        properties: schema.body?.properties ?? {},
        required: schema.body?.required ?? [],
        authenticated: route.onRequest !== undefined
      })
    }
  })
  await app.register(accounts, { prefix: '/auth', passwordHasher: fastHasher, ...RETYPE, jwt: { signingKey: SECRET } })
  await app.ready()
  await app.close()
  return found
}

const all = await bodyRoutes()
const routes = all.filter((r) => !r.hidden)
const withBody = routes.filter((r) => Object.keys(r.properties).length > 0)
/** With the slash-less twins. */
const allWithBody = all.filter((r) => Object.keys(r.properties).length > 0)

t.test('the route list this file sweeps', async t => {
  t.same(routes.map((r) => `${r.method} ${r.url}`).sort(), [
    'DELETE /auth/users/me/',
    'DELETE /auth/users/me/sessions/',
    'DELETE /auth/users/me/sessions/:id/',
    'PATCH /auth/users/me/',
    'POST /auth/jwt/blacklist/',
    'POST /auth/jwt/create/',
    'POST /auth/jwt/refresh/',
    'POST /auth/jwt/verify/',
    'POST /auth/token/login/',
    'POST /auth/token/logout/',
    'POST /auth/users/',
    'POST /auth/users/activation/',
    'POST /auth/users/reset_password/',
    'POST /auth/users/reset_password_confirm/',
    'POST /auth/users/reset_username/',
    'POST /auth/users/reset_username_confirm/',
    'POST /auth/users/resend_activation/',
    'POST /auth/users/set_password/',
    'POST /auth/users/set_username/',
    'PUT /auth/users/me/'
  ].sort())
  t.equal(all.filter((r) => r.hidden).length, routes.length, 'each has a slash-less twin, swept too')
  for (const r of withBody) {
    for (const [field, schema] of Object.entries(r.properties)) {
      t.type(schema.maxLength, 'number', `${r.method} ${r.url}: ${field} declares a maxLength`)
    }
  }
})

/** A well-formed value for each field, so that one wrong field is the only problem of a body. */
function validBody (route: BodyRoute): Record<string, string> {
  const values: Record<string, string> = {
    username: 'bob',
    email: 'bob@example.com',
    password: 'another-long-passphrase-42',
    re_password: 'another-long-passphrase-42',
    current_password: PASSWORD,
    new_password: 'brand-new-passphrase-77',
    re_new_password: 'brand-new-passphrase-77',
    new_username: 'carol',
    re_new_username: 'carol',
    uid: 'MQ',
    token: 'abc-123',
    refresh: 'a.b.c'
  }
  // Log in as the existing user, so a wrong field is the only reason to fail.
  if (route.url.endsWith('/jwt/create/') || route.url.endsWith('/token/login/')) Object.assign(values, { username: 'alice', password: PASSWORD })
  return Object.fromEntries(Object.keys(route.properties).map((field) => [field, values[field] ?? 'x']))
}

interface Session extends TestApp {
  access: string
  auth: { authorization: string }
  snapshot (): Promise<User[]>
}

/** A fresh app with an active user, alice, and her access token. */
async function session (t: Test, overrides: Parameters<typeof buildApp>[0] = {}): Promise<Session> {
  const a = await buildApp(overrides)
  t.teardown(() => a.app.close())
  let access: string
  if (overrides.userCreatePasswordRetype === true) {
    const created = await a.app.inject({ method: 'POST', url: '/auth/users/', payload: { username: 'alice', email: 'alice@example.com', password: PASSWORD, re_password: PASSWORD } })
    if (created.statusCode !== 201) throw new Error(`register failed: ${created.body}`)
    const activated = await a.app.inject({ method: 'POST', url: '/auth/users/activation/', payload: linkFrom(a.mailer, 'alice@example.com') })
    if (activated.statusCode !== 204) throw new Error(`activation failed: ${activated.body}`)
    access = (json(await a.app.inject({ method: 'POST', url: '/auth/jwt/create/', payload: { username: 'alice', password: PASSWORD } })) as { access: string }).access
  } else {
    access = (await activeUser(a)).access
  }
  return { ...a, access, auth: { authorization: `Bearer ${access}` }, snapshot: async () => a.users.listUsers() }
}

/** A 4xx answer whose body is a JSON object (never a 500, never HTML or text). */
function clientError (t: Test, res: LightMyRequestResponse, status: number | null, what: string): Json {
  if (status === null) t.ok(res.statusCode >= 400 && res.statusCode < 500, `${what}: 4xx (got ${res.statusCode} ${res.body})`)
  else t.equal(res.statusCode, status, `${what}: ${status} (got ${res.body})`)
  t.match(res.headers['content-type'], /^application\/json/, `${what}: JSON`)
  let body: Json
  try { body = JSON.parse(res.body) } catch { t.fail(`${what}: body is not JSON: ${res.body}`); return undefined }
  t.ok(body !== null && typeof body === 'object' && !Array.isArray(body), `${what}: a JSON object`)
  return body
}

function hasDetail (t: Test, body: Json, what: string): void {
  t.type(body?.detail, 'string', `${what}: {detail}`)
}

/** `{field: [messages]}` with `field` among the keys. */
function fieldError (t: Test, body: Json, field: string, what: string): void {
  t.ok(Array.isArray(body?.[field]) && body[field].length > 0 && body[field].every((m: unknown) => typeof m === 'string'),
    `${what}: {${field}: [..]} (got ${JSON.stringify(body)})`)
}

t.test('malformed JSON on every body route → 400 {detail}, nothing changes', async t => {
  const s = await session(t)
  const before = await s.snapshot()
  const bad = ['{', '{"username": "bob",}', "{'username': 'bob'}", '{"username": "bob"} trailing', 'NaN', '\u0000']
  for (const route of all) {
    for (const payload of bad) {
      const what = `${route.method} ${route.url} ${JSON.stringify(payload)}`
      const res = await s.app.inject({ method: route.method as 'POST', url: route.url, headers: { ...s.auth, 'content-type': 'application/json' }, payload })
      hasDetail(t, clientError(t, res, 400, what), what)
    }
  }
  t.same(await s.snapshot(), before, 'the user store is unchanged')
})

t.test(`a body over bodyLimit (${BODY_LIMIT} bytes) → 413 {detail}`, async t => {
  const s = await session(t)
  const before = await s.snapshot()
  const big = 'x'.repeat(BODY_LIMIT + 1)
  for (const route of all) {
    const what = `${route.method} ${route.url}`
    const asJson = await s.app.inject({ method: route.method as 'POST', url: route.url, headers: s.auth, payload: { username: big, email: 'a@example.com', password: big } })
    hasDetail(t, clientError(t, asJson, 413, `${what} JSON`), `${what} JSON`)
    const asForm = await s.app.inject({ method: route.method as 'POST', url: route.url, headers: { ...s.auth, 'content-type': 'application/x-www-form-urlencoded' }, payload: `username=${big}` })
    hasDetail(t, clientError(t, asForm, 413, `${what} form`), `${what} form`)
  }
  t.same(await s.snapshot(), before, 'the user store is unchanged')
})

t.test('bodyLimit is the configured one', async t => {
  const a = await buildApp({ bodyLimit: 1024 })
  t.teardown(() => a.app.close())
  const res = await a.app.inject({ method: 'POST', url: '/auth/users/', payload: { username: 'bob', email: 'bob@example.com', password: 'p'.repeat(1100) } })
  hasDetail(t, clientError(t, res, 413, 'over 1024 bytes'), 'over 1024 bytes')
  const under = await a.app.inject({ method: 'POST', url: '/auth/users/', payload: { username: 'bob', email: 'bob@example.com', password: 'another-long-passphrase-42' } })
  t.equal(under.statusCode, 201, 'under the limit is fine')
})

t.test('unsupported content types on a route that reads a body → 415 {detail}', async t => {
  const s = await session(t)
  const before = await s.snapshot()
  for (const route of allWithBody) {
    for (const type of ['text/plain', 'application/xml', 'multipart/form-data; boundary=x']) {
      const what = `${route.method} ${route.url} ${type}`
      const res = await s.app.inject({ method: route.method as 'POST', url: route.url, headers: { ...s.auth, 'content-type': type }, payload: 'username=bob' })
      hasDetail(t, clientError(t, res, 415, what), what)
    }
  }
  t.same(await s.snapshot(), before, 'the user store is unchanged')
})

t.test('a body that is not an object → 400', async t => {
  const s = await session(t)
  const before = await s.snapshot()
  for (const route of withBody) {
    for (const payload of ['[]', '[{"username": "bob"}]', '"username"', '42', 'true', 'null']) {
      const what = `${route.method} ${route.url} ${payload}`
      const res = await s.app.inject({ method: route.method as 'POST', url: route.url, headers: { ...s.auth, 'content-type': 'application/json' }, payload })
      const body = clientError(t, res, 400, what)
      if (payload !== 'null') fieldError(t, body, 'non_field_errors', what)
    }
  }
  t.same(await s.snapshot(), before, 'the user store is unchanged')
})

t.test('wrong types as field values → 400 {field: [..]}, nothing changes', async t => {
  const wrong: Array<[string, unknown]> = [
    ['an object', { a: 1 }], ['an empty object', {}], ['an array', ['x']], ['an empty array', []],
    ['true', true], ['false', false], ['null', null]
  ]
  for (const route of withBody) {
    t.test(`${route.method} ${route.url}`, async t => {
      const s = await session(t, RETYPE)
      for (const field of Object.keys(route.properties)) {
        for (const [label, value] of wrong) {
          const what = `${field}: ${label}`
          const before = await s.snapshot()
          const res = await s.app.inject({ method: route.method as 'POST', url: route.url, headers: s.auth, payload: { ...validBody(route), [field]: value } })
          fieldError(t, clientError(t, res, 400, what), field, what)
          t.same(await s.snapshot(), before, `${what}: the user store is unchanged`)
        }
      }
    })
  }
})

t.test('booleans are not text (DRF\'s CharField refuses them): no user named "true"', async t => {
  const s = await session(t)
  const before = await s.snapshot()
  const created = await s.app.inject({ method: 'POST', url: '/auth/users/', payload: { username: true, email: 'b@example.com', password: 'another-long-passphrase-42' } })
  fieldError(t, clientError(t, created, 400, 'register with username: true'), 'username', 'register with username: true')
  const renamed = await s.app.inject({ method: 'POST', url: '/auth/users/set_username/', headers: s.auth, payload: { new_username: false, current_password: PASSWORD } })
  fieldError(t, clientError(t, renamed, 400, 'set_username with new_username: false'), 'new_username', 'set_username with new_username: false')
  t.same(await s.snapshot(), before, 'the user store is unchanged')
})

t.test('numbers as field values are read as text, as DRF\'s CharField does; never a 500', async t => {
  const s = await session(t)
  const created = await s.app.inject({ method: 'POST', url: '/auth/users/', payload: { username: 12345, email: 'n@example.com', password: 'another-long-passphrase-42' } })
  t.equal(created.statusCode, 201, created.body)
  t.same(json(created), { id: (json(created) as Json).id, username: '12345', email: 'n@example.com' })

  const weak = await s.app.inject({ method: 'POST', url: '/auth/users/set_password/', headers: s.auth, payload: { new_password: 12345678, current_password: PASSWORD } })
  fieldError(t, clientError(t, weak, 400, 'a numeric password'), 'new_password', 'a numeric password')

  for (const route of withBody) {
    for (const field of Object.keys(route.properties)) {
      for (const value of [0, -1, 1.5, 1e308, 12345678901234567890]) {
        const res = await s.app.inject({ method: route.method as 'POST', url: route.url, headers: s.auth, payload: { ...validBody(route), [field]: value } })
        t.ok(res.statusCode < 500, `${route.method} ${route.url} ${field}=${value}: ${res.statusCode}`)
      }
    }
  }
})

t.test('strings over maxLength → 400 {field}, nothing changes', async t => {
  const s = await session(t, RETYPE)
  for (const route of withBody) {
    for (const [field, schema] of Object.entries(route.properties)) {
      if (schema.maxLength === undefined) continue
      const what = `${route.method} ${route.url} ${field} of ${schema.maxLength + 1} characters`
      const before = await s.snapshot()
      const res = await s.app.inject({ method: route.method as 'POST', url: route.url, headers: s.auth, payload: { ...validBody(route), [field]: 'a'.repeat(schema.maxLength + 1) } })
      fieldError(t, clientError(t, res, 400, what), field, what)
      t.same(await s.snapshot(), before, `${what}: the user store is unchanged`)
    }
  }
})

t.test('__proto__ and constructor keys: refused or ignored, no prototype pollution', async t => {
  const s = await session(t, RETYPE)
  const before = await s.snapshot()
  const payloads = [
    '{"__proto__": {"polluted": "yes"}, "email": "x"}',
    '{"email": "x", "nested": {"__proto__": {"polluted": "yes"}}}',
    '{"constructor": {"prototype": {"polluted": "yes"}}, "email": "x"}',
    '{"__proto__": {"isStaff": true, "isActive": true}, "username": "mallory", "email": "m@example.com"}'
  ]
  for (const route of all) {
    for (const payload of payloads) {
      const what = `${route.method} ${route.url} ${payload}`
      const res = await s.app.inject({ method: route.method as 'POST', url: route.url, headers: { ...s.auth, 'content-type': 'application/json' }, payload })
      hasDetail(t, clientError(t, res, 400, what), what)
    }
    // Form keys are plain strings: nothing to refuse, and the unknown keys are dropped. A route that reads no
    // body (DELETE users/me/sessions/ ends the other sessions) would just do its work: nothing to sweep there.
    if (Object.keys(route.properties).length === 0) continue
    for (const payload of ['__proto__[polluted]=yes', '__proto__=yes&constructor=yes', 'constructor[prototype][polluted]=yes', 'hasOwnProperty=x&toString=y']) {
      const what = `${route.method} ${route.url} form ${payload}`
      const res = await s.app.inject({ method: route.method as 'POST', url: route.url, headers: { ...s.auth, 'content-type': 'application/x-www-form-urlencoded' }, payload })
      if (route.required.length > 0) {
        const body = clientError(t, res, 400, what)
        for (const field of route.required) fieldError(t, body, field, `${what}: ${field} still missing`)
      } else {
        t.ok(res.statusCode < 500, `${what}: ${res.statusCode}`)
      }
    }
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is untouched')
  t.equal((Object.prototype as Record<string, unknown>).isStaff, undefined)
  t.same(await s.snapshot(), before, 'the user store is unchanged')

  // With otherwise valid fields the extra keys are just ignored, as DRF ignores unknown fields.
  const form = await s.app.inject({
    method: 'POST',
    url: '/auth/users/',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: '__proto__=x&constructor=y&is_staff=true&username=mallory&email=m%40example.com&password=another-long-passphrase-42&re_password=another-long-passphrase-42'
  })
  t.equal(form.statusCode, 201, form.body)
  t.same(Object.keys(json(form) as object).sort(), ['email', 'id', 'username'])
  const mallory = await s.users.findUserByUsername('mallory')
  t.equal(mallory?.isStaff, false, 'is_staff is not settable')
  t.equal(Object.getPrototypeOf(mallory), Object.prototype)
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})

t.test('odd ids and Authorization headers → 4xx JSON, never 500', async t => {
  const s = await session(t)
  for (const id of ['abc', '0', '-1', '1e3', '1.5', '99999999999999999999', '%00', '%E2%80%AE1', 'x'.repeat(40)]) {
    const res = await s.app.inject({ method: 'GET', url: `/auth/users/${id}/`, headers: s.auth })
    hasDetail(t, clientError(t, res, 404, `/users/${id}/`), `/users/${id}/`)
  }
  for (const authorization of ['Bearer', 'Bearer ', 'Bearer a.b.c', `Bearer ${'x'.repeat(10000)}`, 'Bearer a b', 'Token', `Token ${'f'.repeat(5000)}`, 'Basic YTpi', '\u00e9']) {
    const res = await s.app.inject({ method: 'GET', url: '/auth/users/me/', headers: { authorization } })
    hasDetail(t, clientError(t, res, null, `Authorization: ${authorization.slice(0, 20)}`), `Authorization: ${authorization.slice(0, 20)}`)
  }
})

/** Every string and key of a JSON value. */
function walk (value: Json, visit: (key: string | null, value: unknown) => void): void {
  if (Array.isArray(value)) { value.forEach((v) => walk(v, visit)); return }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) { visit(k, v); walk(v, visit) }
    return
  }
  visit(null, value)
}

t.test('no response ever carries a password hash or a password key', async t => {
  const a = await buildApp()
  t.teardown(() => a.app.close())
  const responses: Array<{ what: string, res: LightMyRequestResponse }> = []
  const call = async (what: string, opts: InjectOptions): Promise<LightMyRequestResponse> => {
    const res = await a.app.inject(opts)
    responses.push({ what, res })
    return res
  }
  const NEW_PASSWORD = 'brand-new-passphrase-77'

  const created = await call('register', { method: 'POST', url: '/auth/users/', payload: { username: 'alice', email: 'alice@example.com', password: PASSWORD } })
  t.equal(created.statusCode, 201)
  await call('register (form)', { method: 'POST', url: '/auth/users/', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'username=bob&email=bob%40example.com&password=another-long-passphrase-42' })
  t.equal((await call('activate', { method: 'POST', url: '/auth/users/activation/', payload: linkFrom(a.mailer, 'alice@example.com') })).statusCode, 204)
  const pair = await call('jwt create', { method: 'POST', url: '/auth/jwt/create/', payload: { username: 'alice', password: PASSWORD } })
  t.equal(pair.statusCode, 200)
  const { access, refresh } = json(pair) as { access: string, refresh: string }
  const bearer = { authorization: `Bearer ${access}` }
  const id = (json(created) as { id: number }).id
  t.equal((await call('me', { url: '/auth/users/me/', headers: bearer })).statusCode, 200)
  t.equal((await call('list', { url: '/auth/users/', headers: bearer })).statusCode, 200)
  t.equal((await call('by id', { url: `/auth/users/${id}/`, headers: bearer })).statusCode, 200)
  t.equal((await call('patch me', { method: 'PATCH', url: '/auth/users/me/', headers: bearer, payload: {} })).statusCode, 200)
  t.equal((await call('private', { url: '/private', headers: bearer })).statusCode, 200)
  t.equal((await call('refresh', { method: 'POST', url: '/auth/jwt/refresh/', payload: { refresh } })).statusCode, 200)
  t.equal((await call('verify', { method: 'POST', url: '/auth/jwt/verify/', payload: { token: access } })).statusCode, 200)
  const login = await call('token login', { method: 'POST', url: '/auth/token/login/', payload: { username: 'alice', password: PASSWORD } })
  t.equal(login.statusCode, 200)
  const token = { authorization: `Token ${(json(login) as { auth_token: string }).auth_token}` }
  t.equal((await call('me (token)', { url: '/auth/users/me/', headers: token })).statusCode, 200)
  t.equal((await call('private (token)', { url: '/private', headers: token })).statusCode, 200)
  t.equal((await call('wrong password', { method: 'POST', url: '/auth/token/login/', payload: { username: 'alice', password: 'nope' } })).statusCode, 400)
  t.equal((await call('wrong current password', { method: 'POST', url: '/auth/users/set_password/', headers: token, payload: { new_password: NEW_PASSWORD, current_password: 'nope' } })).statusCode, 400)
  t.equal((await call('set password', { method: 'POST', url: '/auth/users/set_password/', headers: token, payload: { new_password: NEW_PASSWORD, current_password: PASSWORD } })).statusCode, 204)
  t.equal((await call('reset password', { method: 'POST', url: '/auth/users/reset_password/', payload: { email: 'alice@example.com' } })).statusCode, 204)
  const again = await call('jwt create (new password)', { method: 'POST', url: '/auth/jwt/create/', payload: { username: 'alice', password: NEW_PASSWORD } })
  t.equal(again.statusCode, 200)
  t.equal((await call('blacklist', { method: 'POST', url: '/auth/jwt/blacklist/', payload: { refresh: (json(again) as { refresh: string }).refresh } })).statusCode, 200)
  const newToken = await call('token login (form)', { method: 'POST', url: '/auth/token/login/', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `username=alice&password=${NEW_PASSWORD}` })
  t.equal(newToken.statusCode, 200, 'form-encoded token login works')
  t.equal((await call('logout', { method: 'POST', url: '/auth/token/logout/', headers: { authorization: `Token ${(json(newToken) as { auth_token: string }).auth_token}` } })).statusCode, 204)
  t.equal((await call('delete me', { method: 'DELETE', url: '/auth/users/me/', headers: { authorization: `Bearer ${(json(again) as { access: string }).access}` }, payload: { current_password: NEW_PASSWORD } })).statusCode, 204)

  t.ok(responses.length >= 20)
  for (const { what, res } of responses) {
    t.notMatch(res.body, /\$argon2|pbkdf2_sha256\$/, `${what}: no password hash in the body`)
    t.notMatch(JSON.stringify(res.headers), /\$argon2/, `${what}: nor in a header`)
    if (res.statusCode >= 200 && res.statusCode < 300 && res.body !== '') {
      const keys: string[] = []
      walk(JSON.parse(res.body), (key) => { if (key !== null) keys.push(key) })
      t.same(keys.filter((k) => /password/i.test(k)), [], `${what}: no password key`)
    }
  }
  for (const mail of a.mailer.outbox) t.notMatch(`${mail.text}${mail.html ?? ''}`, /\$argon2/, `mail "${mail.subject}": no hash`)
})

t.test('form-encoded bodies work on /users/ and /token/login/', async t => {
  const a = await buildApp({ sendActivationEmail: false })
  t.teardown(() => a.app.close())
  const form = { 'content-type': 'application/x-www-form-urlencoded' }
  const created = await a.app.inject({ method: 'POST', url: '/auth/users/', headers: form, payload: `username=alice&email=alice%40example.com&password=${encodeURIComponent(PASSWORD)}` })
  t.equal(created.statusCode, 201, created.body)
  t.same(json(created), { id: (json(created) as Json).id, username: 'alice', email: 'alice@example.com' })
  const login = await a.app.inject({ method: 'POST', url: '/auth/token/login/', headers: form, payload: `username=alice&password=${encodeURIComponent(PASSWORD)}` })
  t.equal(login.statusCode, 200, login.body)
  t.match(json(login), { auth_token: /^[0-9a-f]{40}$/ })
  const me = await a.app.inject({ url: '/auth/users/me/', headers: { authorization: `Token ${(json(login) as { auth_token: string }).auth_token}` } })
  t.equal(me.statusCode, 200)

  const missing = await a.app.inject({ method: 'POST', url: '/auth/token/login/', headers: form, payload: 'username=alice' })
  fieldError(t, clientError(t, missing, 400, 'form without password'), 'password', 'form without password')
  const repeated = await a.app.inject({ method: 'POST', url: '/auth/token/login/', headers: form, payload: `username=alice&username=bob&password=${encodeURIComponent(PASSWORD)}` })
  t.ok(repeated.statusCode === 400 || repeated.statusCode === 200, `a repeated form field is a 400 or takes one value, never a 500 (got ${repeated.statusCode})`)
  clientError(t, await a.app.inject({ method: 'POST', url: '/auth/users/', headers: form, payload: 'username[]=a&email[x]=b&password=%ZZ' }), 400, 'a form with odd keys and bad escapes')
})
