// The plugin's share of a request, without HTTP: each step of the hot paths called in a loop over 5,000 users'
// tokens in one process, timed by its CPU time per call. Where `npm run bench` says how a route compares with a
// bare one (noisy on a shared VM), this says which step costs what (steady to a few percent), so a change to
// one step can be judged on its own.
//   npm run build && node bench/paths.js              # SQLite (a temporary file)
//   BENCH_PATHS_STORE=memory node bench/paths.js
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import accounts, { MemoryMailer, MemoryTokenStore, MemoryUserStore } from '../dist/lib/index.js'
import { createStores } from '../dist/lib/stores/factory.js'
import { accessTokens, MANY, SECRET } from './common.js'

const kind = process.env.BENCH_PATHS_STORE ?? 'sqlite'
const CALLS = Number(process.env.BENCH_PATHS_CALLS ?? 100_000)
const dir = mkdtempSync(join(tmpdir(), 'fa-paths-'))
const stores = kind === 'memory'
  ? { users: new MemoryUserStore(), tokens: new MemoryTokenStore(), close: async () => {} }
  : await createStores({ databaseUrl: `sqlite:${join(dir, 'paths.db')}` })
// A real argon2id hash's length, so the rows are as large as real ones (nothing here verifies it).
const hash = '$argon2id$v=19$m=19456,t=2,p=1$' + 'c2FsdHNhbHRzYWx0c2FsdA' + '$' + 'a'.repeat(43)
const userIds = []
for (let i = 0; i < MANY; i++) userIds.push((await stores.users.createUser({ username: `user${i}`, email: `user${i}@example.com`, password: hash, isActive: true })).id)

const app = Fastify({ logger: false })
await app.register(accounts, { store: { users: stores.users, tokens: stores.tokens }, mailer: new MemoryMailer(), rateLimit: false, jwt: { signingKey: SECRET, accessTokenLifetime: 3600 } })
await app.ready()
const { tokens, authenticateRequest, users } = app.accounts
const access = accessTokens(MANY, { userIds })
const refresh = []
for (const id of userIds) refresh.push((await tokens.issuePair(id)).refresh)

async function time (label, fn) {
  for (let i = 0; i < 10_000; i++) await fn(i)
  const start = process.cpuUsage()
  for (let i = 0; i < CALLS; i++) await fn(i)
  const used = process.cpuUsage(start)
  console.log(`${label.padEnd(52)} ${((used.user + used.system) / CALLS).toFixed(2).padStart(7)} µs`)
}

console.log(`${kind} store, ${MANY} users, ${CALLS} calls each; CPU time per call:`)
await time('nothing (an await)', async () => {})
await time('users.findUser (the user lookup)', async (i) => { await users.findUser(userIds[i % MANY]) })
await time('tokens.verify, a token not in the cache', async (i) => { tokens.verify(access[(i * 7919) % MANY], 'access') })
await time('app.authenticate\'s authenticator (JWT, 5,000 tokens)', async (i) => { await authenticateRequest({ headers: { authorization: `Bearer ${access[i % MANY]}` } }) })
await time('tokens.verifyForClient (/jwt/verify/)', async (i) => { await tokens.verifyForClient(access[i % MANY]) })
await time('tokens.refresh, no rotation (5,000 sessions)', async (i) => { await tokens.refresh(refresh[i % MANY]) })
await time('tokens.issuePair (a login\'s tokens and records)', async (i) => { await tokens.issuePair({ id: userIds[i % MANY], sessionsValidAfter: null }) })

await app.close()
await stores.close()
rmSync(dir, { recursive: true, force: true })
