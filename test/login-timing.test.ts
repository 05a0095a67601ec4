import t from 'tap'
import { Argon2Hasher, type PasswordHasher } from '../lib/index.js'
import { activeUser, buildApp, fastHasher, PASSWORD } from './helpers/app.js'

/** Wraps the test hasher and counts the work each login does. */
function countingHasher (): PasswordHasher & { hashes: number, verifies: number, failNextHash: boolean } {
  return {
    hashes: 0,
    verifies: 0,
    failNextHash: false,
    async hash (password) {
      this.hashes++
      if (this.failNextHash) {
        this.failNextHash = false
        throw new Error('out of memory')
      }
      return fastHasher.hash(password)
    },
    async verify (encoded, password) {
      this.verifies++
      return fastHasher.verify(encoded, password)
    },
    needsRehash: (encoded) => fastHasher.needsRehash(encoded)
  }
}

t.test('an unknown user costs one password verification, like a wrong password', async (t) => {
  const hasher = countingHasher()
  const a = await buildApp({ passwordHasher: hasher, sendActivationEmail: false })
  t.teardown(() => a.app.close())
  await activeUser(a)

  for (const url of ['/auth/jwt/create/', '/auth/token/login/']) {
    hasher.verifies = 0
    const unknown = await a.app.inject({ method: 'POST', url, payload: { username: 'nobody', password: PASSWORD } })
    t.equal(hasher.verifies, 1, `${url}: unknown user verified once`)
    hasher.verifies = 0
    const wrong = await a.app.inject({ method: 'POST', url, payload: { username: 'alice', password: 'wrong-password-1' } })
    t.equal(hasher.verifies, 1, `${url}: wrong password verified once`)
    t.equal(unknown.statusCode, wrong.statusCode, `${url}: same status`)
    t.equal(unknown.body, wrong.body, `${url}: same body`)
  }
})

t.test('the dummy hash is made once and retried after a failure', async (t) => {
  const hasher = countingHasher()
  const a = await buildApp({ passwordHasher: hasher })
  t.teardown(() => a.app.close())
  hasher.failNextHash = true
  const failed = await a.app.inject({ method: 'POST', url: '/auth/jwt/create/', payload: { username: 'nobody', password: 'x' } })
  t.equal(failed.statusCode, 503, 'a hasher failure is a 503, not a login answer')
  t.same(JSON.parse(failed.body), { detail: 'Password checking is unavailable. Try again later.' })
  hasher.hashes = 0
  for (let i = 0; i < 3; i++) {
    const res = await a.app.inject({ method: 'POST', url: '/auth/jwt/create/', payload: { username: 'nobody', password: 'x' } })
    t.equal(res.statusCode, 401)
  }
  t.equal(hasher.hashes, 1, 'one dummy hash for all later logins')
})

t.test('a login with an outdated hash upgrades it', async (t) => {
  const a = await buildApp({ passwordHasher: new Argon2Hasher({ memoryCost: 2048, timeCost: 1, parallelism: 1 }) })
  t.teardown(() => a.app.close())
  const user = await a.users.createUser({ username: 'alice', email: 'alice@example.com', password: await fastHasher.hash(PASSWORD), isActive: true })
  const res = await a.app.inject({ method: 'POST', url: '/auth/jwt/create/', payload: { username: 'alice', password: PASSWORD } })
  t.equal(res.statusCode, 200)
  const stored = await a.users.findUserById(user.id)
  t.match(stored?.password, /^\$argon2id\$v=19\$m=2048,t=1,p=1\$/, 'rehashed with the current parameters')
  const again = await a.app.inject({ method: 'POST', url: '/auth/jwt/create/', payload: { username: 'alice', password: PASSWORD } })
  t.equal(again.statusCode, 200, 'the new hash verifies')
})
