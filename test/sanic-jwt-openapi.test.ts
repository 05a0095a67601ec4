import SwaggerParser from '@apidevtools/swagger-parser'
import t from 'tap'
import { json, linkFrom } from './helpers/app.js'
import { bearer, buildSanicApp, get, login, PASSWORD, refresh } from './helpers/sanic-jwt.js'

type Json = any

t.test('djoser (the core, /djoser) and sanic-jwt (/auth) side by side on one user store', async t => {
  const a = await buildSanicApp({ refreshTokenEnabled: true }, { core: { sendActivationEmail: true }, swagger: true })
  t.teardown(() => a.app.close())

  t.test('a user registered and activated through djoser logs in through sanic-jwt', async t => {
    const created = await a.app.inject({ method: 'POST', url: '/djoser/users/', payload: { username: 'carol', email: 'carol@example.com', password: PASSWORD } })
    t.equal(created.statusCode, 201)
    const id = (json(created) as { id: number }).id

    const early = await login(a, { username: 'carol', password: PASSWORD })
    t.equal(early.statusCode, 401, 'not before activation')
    t.equal((json(early) as Json).exception, 'AuthenticationFailed')

    const activated = await a.app.inject({ method: 'POST', url: '/djoser/users/activation/', payload: linkFrom(a.mailer, 'carol@example.com') })
    t.equal(activated.statusCode, 204)

    const res = await login(a, { username: 'carol', password: PASSWORD })
    t.equal(res.statusCode, 200)
    const { access_token: access, refresh_token: refreshToken } = json(res) as Record<string, string>
    t.same(json(await get(a, '/auth/me', bearer(access))), { me: { user_id: id, username: 'carol', email: 'carol@example.com' } })
    t.equal((await refresh(a, { refresh_token: refreshToken }, bearer(access))).statusCode, 200)

    const pair = await a.app.inject({ method: 'POST', url: '/djoser/jwt/create/', payload: { username: 'carol', password: PASSWORD } })
    t.equal(pair.statusCode, 200, 'the same user logs in through djoser too')
    const me = await a.app.inject({ method: 'GET', url: '/djoser/users/me/', headers: bearer((json(pair) as Json).access) })
    t.same(json(me), { email: 'carol@example.com', id, username: 'carol' })
  })

  t.test('the OpenAPI document covers both dialects and is valid', async t => {
    const doc = a.app.swagger() as Json
    const validated = await SwaggerParser.validate(structuredClone(doc))
    t.ok(validated, 'swagger-parser validates it')
    const paths = Object.keys(doc.paths)
    for (const path of ['/djoser/users/', '/djoser/users/me/', '/djoser/jwt/create/', '/djoser/token/login/']) t.ok(paths.includes(path), `djoser: ${path}`)
    t.same(Object.keys(doc.paths['/auth']), ['post'], 'sanic-jwt: POST /auth')
    t.same(Object.keys(doc.paths['/auth/verify']), ['get'])
    t.same(Object.keys(doc.paths['/auth/me']), ['get'])
    t.same(Object.keys(doc.paths['/auth/refresh']), ['post'])
    t.notOk(paths.some((path) => path.startsWith('/auth') && path.endsWith('/')), 'the slash twins of sanic-jwt\'s routes are hidden')
    t.notOk(paths.includes('/private'), 'only documented routes')

    const schemas = doc.components.schemas
    for (const id of ['SanicJwtError', 'SanicJwtValid', 'SanicJwtInvalid', 'DjoserUser']) t.ok(schemas[id] !== undefined, `component ${id}`)
    const json200 = (operation: Json): Json => operation.responses['200'].content['application/json'].schema
    const login = doc.paths['/auth'].post
    t.same(login.tags, ['sanic-jwt'])
    t.same(Object.keys(login.requestBody.content['application/json'].schema.properties).sort(), ['password', 'username'])
    t.same(Object.keys(login.responses).sort(), ['200', '400', '401'])
    const tokens = json200(login)
    t.same(Object.keys(tokens.properties).sort(), ['access_token', 'refresh_token'])
    t.same(tokens.required.sort(), ['access_token', 'refresh_token'])
    t.same(Object.keys(login.responses['401'].content['application/json'].schema.properties).sort(), ['exception', 'reasons'])
    t.same(Object.keys(schemas.SanicJwtError.properties).sort(), ['exception', 'reasons'])
    const me = json200(doc.paths['/auth/me'].get).properties.me
    t.equal(me.nullable, true, '{me: null} is declared (OpenAPI 3.0 nullable)')
    t.same(Object.keys(me.properties).sort(), ['email', 'user_id', 'username'])
    t.same(doc.paths['/auth/me'].get.security, [{ jwt: [] }])
    const refreshOp = doc.paths['/auth/refresh'].post
    t.same(Object.keys(refreshOp.requestBody.content['application/json'].schema.properties), ['refresh_token'])
    t.same(Object.keys(json200(refreshOp).properties), ['access_token'])
    t.same(Object.keys(doc.paths['/auth/verify'].get.responses).sort(), ['200', '400', '401'])
  })
})

t.test('without refresh tokens, the document has no refresh route nor refresh field', async t => {
  const a = await buildSanicApp({}, { swagger: true })
  t.teardown(() => a.app.close())
  const doc = a.app.swagger() as Json
  t.notOk('/auth/refresh' in doc.paths)
  t.same(Object.keys(doc.paths['/auth'].post.responses['200'].content['application/json'].schema.properties), ['access_token'])
  t.ok(await SwaggerParser.validate(structuredClone(doc)))
})
