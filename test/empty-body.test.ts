import t from 'tap'
import { activeUser, buildApp, json } from './helpers/app.js'

t.test('a bodyless JSON request reads as {} (DRF), so logout from fetch() works', async (t) => {
  const a = await buildApp()
  t.teardown(() => a.app.close())
  await activeUser(a)
  const login = await a.app.inject({ method: 'POST', url: '/auth/token/login/', payload: { username: 'alice', password: 'correct-horse-battery-staple' } })
  const key = (json(login) as { auth_token: string }).auth_token
  const logout = await a.app.inject({ method: 'POST', url: '/auth/token/logout/', headers: { authorization: `Token ${key}`, 'content-type': 'application/json' } })
  t.equal(logout.statusCode, 204)
  const after = await a.app.inject({ url: '/auth/users/me/', headers: { authorization: `Token ${key}` } })
  t.equal(after.statusCode, 401, 'the token is gone')

  const empty = await a.app.inject({ method: 'POST', url: '/auth/jwt/create/', headers: { 'content-type': 'application/json' }, payload: '  ' })
  t.equal(empty.statusCode, 400)
  t.same(json(empty), { username: ['This field is required.'], password: ['This field is required.'] }, 'every field reported as missing')

  const poisoned = await a.app.inject({ method: 'POST', url: '/auth/jwt/create/', headers: { 'content-type': 'application/json' }, payload: '{"__proto__": {"polluted": true}, "username": "a", "password": "b"}' })
  t.equal(poisoned.statusCode, 400, 'prototype poisoning is refused')
  t.type(JSON.parse(poisoned.body).detail, 'string')
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})
