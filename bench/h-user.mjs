import { rmSync } from 'node:fs'
import { createSqliteStores } from '../dist/lib/stores/sqlite.js'
import Database from 'better-sqlite3'
const file = `/tmp/h/db/user-${process.pid}.db`
const stores = await createSqliteStores(file)
const ids = []
for (let i = 0; i < 5000; i++) ids.push((await stores.users.createUser({ username: `u${i}`, email: `u${i}@x.org`, password: 'argon2$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g', isActive: true })).id)
const db = new Database(file, { readonly: true })
const narrow = db.prepare('select sessions_valid_after, is_active from accounts_user where id = ?').raw()
const wide = db.prepare('select * from accounts_user where id = ?').raw()
const N = 200000
async function time (label, fn) {
  for (let i = 0; i < 20000; i++) await fn(ids[i % ids.length])
  const t0 = process.cpuUsage()
  for (let i = 0; i < N; i++) await fn(ids[i % ids.length])
  const c = process.cpuUsage(t0); console.log(label.padEnd(20), ((c.user + c.system) / N).toFixed(2), 'µs')
}
for (let r = 0; r < 2; r++) {
  await time('findUserById', (id) => stores.users.findUserById(id))
  await time('raw select *', (id) => wide.get(id))
  await time('raw narrow', (id) => narrow.get(id))
}
db.close(); await stores.close(); for (const s of ['', '-wal', '-shm']) rmSync(file + s, { force: true })
