/**
 * revokeAccessOnPasswordChange is folded into the session cut-off (test/sessions-end.test.ts): what it did
 * (refuse at once the access tokens issued before a password change) is now what a password change does by
 * default, in every dialect, and better (the session that made the change goes on; a rehash at login ends
 * nothing). The option is still accepted so that configurations keep loading, logs that it has no effect,
 * and changes nothing; tokens no longer carry `ver`.
 */
import Fastify from 'fastify'
import t from 'tap'
import accounts, { MemoryMailer } from '../lib/index.js'
import { fastHasher, json, PASSWORD, SECRET } from './helpers/app.js'
import { claims, decodeJwt, me, post, setup, signHmac } from './helpers/jwt.js'

type Body = Record<string, unknown>
const NEW_PASSWORD = 'a-brand-new-passphrase-42'

/** The warnings the plugin logs while registering with `options`. */
async function warningsWith (options: Record<string, unknown>): Promise<string[]> {
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => { lines.push(line) } } } })
  await app.register(accounts, { prefix: '/auth', mailer: new MemoryMailer(), passwordHasher: fastHasher, rateLimit: false, jwt: { signingKey: SECRET }, ...options })
  await app.ready()
  await app.close()
  return lines.map((line) => (JSON.parse(line) as { msg: string }).msg)
}

t.test('on: accepted, with one warning that it has no effect; off or absent: no warning', async t => {
  const on = await warningsWith({ revokeAccessOnPasswordChange: true })
  t.equal(on.filter((msg) => msg.includes('revokeAccessOnPasswordChange')).length, 1, on.join('\n'))
  t.match(on.join('\n'), /revokeAccessOnPasswordChange is deprecated and has no effect: a password change now ends the user's other sessions/)
  t.same((await warningsWith({ revokeAccessOnPasswordChange: false })).filter((msg) => msg.includes('revokeAccessOnPasswordChange')), [])
  t.same((await warningsWith({})).filter((msg) => msg.includes('revokeAccessOnPasswordChange')), [])
})

t.test('tokens carry no ver, with or without the option: the session (sid) replaces it', async t => {
  for (const options of [{}, { revokeAccessOnPasswordChange: true }]) {
    const { access, refresh } = await setup(options)
    for (const token of [access, refresh]) {
      const payload = decodeJwt(token).payload
      t.notOk('ver' in payload, `no ver (${JSON.stringify(options)})`)
      t.type(payload.sid, 'string', 'a sid instead')
    }
  }
})

t.test('on: a token without ver (simplejwt\'s, from before a move) is accepted until a password change, as with it off', async t => {
  const { app, id } = await setup({ revokeAccessOnPasswordChange: true })
  t.equal((await me(app, `Bearer ${signHmac(claims(id, 'access', { iatOffset: -60 }), SECRET)}`)).statusCode, 200, 'access')
  t.equal((await post(app, '/jwt/refresh/', { refresh: signHmac(claims(id, 'refresh', { iatOffset: -60 }), SECRET) })).statusCode, 200, 'refresh')
})

t.test('a ver written by an earlier release is an ordinary claim now: its tokens work until the next change', async t => {
  const { app, id, access: changer } = await setup()
  const old = signHmac({ ...claims(id, 'access', { iatOffset: -60 }), ver: 'AbCdEfGhIjKl' }, SECRET)
  t.equal((await me(app, `Bearer ${old}`)).statusCode, 200)
  const changed = await post(app, '/users/set_password/', { current_password: PASSWORD, new_password: NEW_PASSWORD }, { authorization: `Bearer ${changer}` })
  t.equal(changed.statusCode, 204, changed.body)
  const res = await me(app, `Bearer ${old}`)
  t.equal(res.statusCode, 401)
  t.match(json(res) as Body, { code: 'token_not_valid' })
})

t.test('on or off, a rehash at login (a Django hash becoming argon2id) ends no session: only a password change does', async t => {
  for (const options of [{}, { revokeAccessOnPasswordChange: true }]) {
    const { app, id, username, access } = await setup(options)
    // The stored hash changes under the session, as a rehash on login does.
    await app.users.updateUser(id, { password: await fastHasher.hash(PASSWORD) })
    t.equal((await me(app, `Bearer ${access}`)).statusCode, 200, `the session goes on (${JSON.stringify(options)})`)
    t.equal((await post(app, '/jwt/create/', { username, password: PASSWORD })).statusCode, 200)
  }
})
