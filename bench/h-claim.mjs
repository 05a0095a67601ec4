import { randomUUID } from 'node:crypto'
import { rmSync } from 'node:fs'
import { createSqliteStores } from '../dist/lib/stores/sqlite.js'
const file = `/tmp/h/db/claim-${process.pid}.db`
const stores = await createSqliteStores(file)
const { users, tokens } = stores
const ids = []
for (let i = 0; i < 200; i++) ids.push((await users.createUser({ username: `u${i}`, email: `u${i}@x.org`, password: 'x', isActive: true })).id)
const jti = () => randomUUID().replaceAll('-', '')
const exp = new Date(Date.now() + 86400e3)
// 5000 sessions, each with one live token
const live = []
for (let i = 0; i < 5000; i++) { const t = { jti: jti(), userId: ids[i % 200], family: jti(), expiresAt: exp }; await tokens.saveRefreshToken(t); live.push(t) }
const N = Number(process.env.N ?? 30000)
const t0 = process.cpuUsage(); const w0 = performance.now()
for (let i = 0; i < N; i++) {
  const k = i % live.length; const old = live[k]
  const next = { jti: jti(), expiresAt: exp }
  const r = await tokens.claimRefreshToken(old.jti, old, next)
  if (r.status !== 'claimed') throw new Error(r.status)
  live[k] = { jti: next.jti, userId: old.userId, family: old.family, expiresAt: exp }
}
const c = process.cpuUsage(t0)
console.log(`claim: ${((c.user + c.system) / N).toFixed(1)} µs CPU (${(c.system / N).toFixed(1)} sys), ${((performance.now() - w0) * 1000 / N).toFixed(1)} µs wall`)
await stores.close(); rmSync(file, { force: true }); rmSync(file + '-wal', { force: true }); rmSync(file + '-shm', { force: true })
