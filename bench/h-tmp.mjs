// Paired rounds in one server: routes alternate, server CPU per request each, median over rounds.
import { fork } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { accessTokens } from './common.js'
const SERVER = process.env.H_SERVER ?? '/work/main/bench/server.js'
const routes = (process.env.H_ROUTES ?? '/app/open,/floor/verify,/floor/lookup').split(',')
const rounds = Number(process.env.H_ROUNDS ?? 5)
const dur = Number(process.env.H_DUR ?? 2)
const dir = mkdtempSync(join(tmpdir(), 'h-'))
const child = fork(SERVER, [], { env: { ...process.env, BENCH_STORE: process.env.H_STORE ?? 'sqlite', BENCH_DIR: dir, BENCH_USERS: '5000' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
let pendingStats
const ready = new Promise((resolve) => child.on('message', (m) => { if (m.type === 'ready') resolve(m); else if (m.type === 'stats' && pendingStats) { const p = pendingStats; pendingStats = null; p(m.stats) } }))
const { address, userIds } = await ready
const stats = () => new Promise((resolve) => { pendingStats = resolve; child.send({ type: 'stats', id: 1 }) })
const tokens = accessTokens(5000, { userIds })
console.error('server pid', child.pid)
if (process.env.H_WAIT) await new Promise((r) => setTimeout(r, Number(process.env.H_WAIT) * 1000))
function run (path, seconds) {
  let i = 0
  return autocannon({ url: address, connections: 10, duration: seconds, requests: [{ method: 'GET', path, setupRequest (req) { req.headers = { authorization: `Bearer ${tokens[i++ % tokens.length]}` }; return req } }] })
}
for (const r of routes) await run(r, 1)
const res = Object.fromEntries(routes.map((r) => [r, []]))
for (let k = 0; k < rounds; k++) {
  for (const r of routes) {
    const a = await stats(); const out = await run(r, dur); const b = await stats()
    const n = out.requests.total
    if (out.non2xx > 0) console.error('non2xx', r, out.non2xx)
    res[r].push({ us: (b.cpuMicros - a.cpuMicros) / n, sys: (b.systemMicros - a.systemMicros) / n })
  }
}
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }
for (const r of routes) console.log(r.padEnd(24), 'cpu', med(res[r].map((x) => x.us)).toFixed(1), 'sys', med(res[r].map((x) => x.sys)).toFixed(1), ' rounds', res[r].map((x) => x.us.toFixed(1)).join(' '))
child.send({ type: 'stop' })
