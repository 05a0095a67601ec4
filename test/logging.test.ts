import { join } from 'node:path'
import t from 'tap'
import { buildServer } from '../example/app.js'
import { activationLink, smtpServer } from './helpers/smtp.js'

const PASSWORD = 'correct-horse-battery-staple'
const NEW_PASSWORD = 'another-horse-battery-staple'

t.test('the example server logs no password, Authorization header or token, at any level', async (t) => {
  const dir = t.testdir()
  const smtp = await smtpServer(t)
  const lines: string[] = []
  const app = await buildServer(
    { DATA_DIR: dir, DATABASE_URL: `sqlite:${join(dir, 'x.db')}`, SMTP_URL: smtp.url, JWT_SECRET: 'logging-test-secret-0123456789abcdef', LOG_LEVEL: 'trace' },
    { logStream: { write: (line: string) => { lines.push(line) } } }
  )
  t.teardown(() => app.close())
  const secrets: string[] = [PASSWORD, NEW_PASSWORD]
  const post = async (url: string, payload: object, authorization?: string) => {
    const res = await app.inject({ method: 'POST', url, payload, headers: authorization === undefined ? {} : { authorization } })
    return res
  }

  await post('/auth/users/', { username: 'alice', email: 'alice@example.com', password: PASSWORD })
  const link = activationLink(smtp.received[0].raw)
  secrets.push(link.token)
  await post('/auth/users/activation/', link)
  const pair = (await post('/auth/jwt/create/', { username: 'alice', password: PASSWORD })).json()
  secrets.push(pair.access, pair.refresh)
  await app.inject({ url: '/auth/users/me/', headers: { authorization: `Bearer ${pair.access}` } })
  await post('/auth/jwt/refresh/', { refresh: pair.refresh })
  await post('/auth/jwt/verify/', { token: pair.access })
  const key = (await post('/auth/token/login/', { username: 'alice', password: PASSWORD })).json().auth_token
  secrets.push(key)
  await app.inject({ url: '/auth/users/me/', headers: { authorization: `Token ${key}` } })
  await post('/auth/users/set_password/', { current_password: PASSWORD, new_password: NEW_PASSWORD }, `Bearer ${pair.access}`)
  await post('/auth/jwt/create/', { username: 'alice', password: 'wrong-password-0' })
  await post('/auth/token/logout/', {}, `Token ${key}`)

  t.ok(lines.length > 20, `the server logged (${lines.length} lines at trace)`)
  const log = lines.join('')
  t.match(log, /audit: login\.failed/, 'audit events are logged')
  t.match(log, /"audit":"password\.changed"/)
  for (const secret of secrets) {
    t.notOk(log.includes(secret), `the log never holds ${secret.slice(0, 6)}…`)
  }
  t.notMatch(log, /\$argon2/, 'no password hash')
  t.notMatch(log, /"authorization"/i, 'no Authorization header')
})
