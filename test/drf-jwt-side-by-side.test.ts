import SwaggerParser from '@apidevtools/swagger-parser'
import t from 'tap'
import { json, linkFrom, PASSWORD } from './helpers/app.js'
import { apiPost, buildDrfJwtApp, getPrivate } from './helpers/drf-jwt.js'
import { decodeJwt } from './helpers/jwt.js'

type Json = any

/** djoser (the core) at /auth and drf-jwt at /api on one user store, with the OpenAPI document. */
const app = await buildDrfJwtApp({ corePrefix: '/auth', drfJwt: { allowRefresh: true }, swagger: true })
t.teardown(() => app.app.close())

t.test('a user registered and activated through djoser logs in through drf-jwt', async t => {
  const register = await app.app.inject({ method: 'POST', url: '/auth/users/', payload: { username: 'carol', email: 'carol@example.com', password: PASSWORD } })
  t.equal(register.statusCode, 201, register.body)
  const { id } = json(register) as { id: number }

  const early = await apiPost(app, '/api-token-auth/', { username: 'carol', password: PASSWORD })
  t.same([early.statusCode, json(early)], [400, { non_field_errors: ['Unable to log in with provided credentials.'] }], 'not before activation')

  const activation = await app.app.inject({ method: 'POST', url: '/auth/users/activation/', payload: linkFrom(app.mailer, 'carol@example.com') })
  t.equal(activation.statusCode, 204)

  const login = await apiPost(app, '/api-token-auth/', { username: 'carol', password: PASSWORD })
  t.equal(login.statusCode, 200, login.body)
  const token = (json(login) as { token: string }).token
  t.match(decodeJwt(token).payload, { user_id: id, username: 'carol', email: 'carol@example.com' })

  const me = await getPrivate(app, { authorization: `JWT ${token}` })
  t.equal(me.statusCode, 200)
  t.equal((json(me) as { user: { id: number } }).user.id, id)

  const refreshed = await apiPost(app, '/api-token-refresh/', { token })
  t.equal(refreshed.statusCode, 200)

  // The same user, through djoser and simplejwt, on the same store.
  const pair = await app.app.inject({ method: 'POST', url: '/auth/jwt/create/', payload: { username: 'carol', password: PASSWORD } })
  t.equal(pair.statusCode, 200)
  const { access } = json(pair) as { access: string }
  const djoserMe = await app.app.inject({ method: 'GET', url: '/auth/users/me/', headers: { authorization: `Bearer ${access}` } })
  t.same(json(djoserMe), { email: 'carol@example.com', id, username: 'carol' })

  // Each dialect refuses the other's token, in its own words.
  t.same(json(await getPrivate(app, { authorization: `JWT ${access}` })), { detail: 'Invalid payload.' })
  const crossed = await app.app.inject({ method: 'GET', url: '/auth/users/me/', headers: { authorization: `Bearer ${token}` } })
  t.equal(crossed.statusCode, 401)
  t.match(json(crossed), { code: 'token_not_valid' })

  // A password changed through djoser is the password drf-jwt checks.
  const changed = await app.app.inject({
    method: 'POST', url: '/auth/users/set_password/', headers: { authorization: `Bearer ${access}` },
    payload: { current_password: PASSWORD, new_password: 'another-long-passphrase-42' }
  })
  t.equal(changed.statusCode, 204, changed.body)
  t.equal((await apiPost(app, '/api-token-auth/', { username: 'carol', password: PASSWORD })).statusCode, 400)
  t.equal((await apiPost(app, '/api-token-auth/', { username: 'carol', password: 'another-long-passphrase-42' })).statusCode, 200)
})

t.test('the OpenAPI document covers both dialects', async t => {
  const doc = app.app.swagger() as Json
  const validated = await SwaggerParser.validate(structuredClone(doc))
  t.ok(validated, 'swagger-parser validates it')

  const paths = Object.keys(doc.paths)
  for (const path of ['/auth/users/', '/auth/users/me/', '/auth/jwt/create/', '/auth/jwt/refresh/', '/auth/token/login/']) {
    t.ok(paths.includes(path), `djoser: ${path}`)
  }
  for (const path of ['/api/api-token-auth/', '/api/api-token-refresh/', '/api/api-token-verify/']) {
    t.ok(paths.includes(path), `drf-jwt: ${path}`)
    const operation = doc.paths[path].post
    t.same(operation.tags, ['drf-jwt'])
    t.ok(operation.requestBody.content['application/json'].schema, 'a request body schema')
    t.same(Object.keys(operation.responses).sort(), path.endsWith('auth/') ? ['200', '400', '429'] : ['200', '400'])
  }
  t.notOk(paths.some((path) => path.startsWith('/api') && !path.endsWith('/')), 'the slash-less twins are hidden')

  const login = doc.paths['/api/api-token-auth/'].post
  t.same(login.requestBody.content['application/json'].schema.required, ['username', 'password'])
  t.same(login.responses['200'].content['application/json'].schema.properties, { token: { type: 'string' } })
  const verify = doc.paths['/api/api-token-verify/'].post
  t.same(verify.requestBody.content['application/json'].schema.required, ['token'])

  const components = Object.keys(doc.components.schemas)
  t.ok(components.includes('DrfJwtErrors') && components.includes('DrfJwtDetail'), 'drf-jwt components')
  t.ok(components.includes('DjoserUser'), 'djoser components')
  t.notOk(components.some((name) => /^def-\d+$/.test(name)), 'every component is named after its $id')
})
