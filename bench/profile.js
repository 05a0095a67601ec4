// Summarizes a V8 .cpuprofile (BENCH_CPU_PROF=dir npm run bench writes one per store and case, over that
// case's runs only): self time by function, and by package / file, the busiest first, as shares of the time
// the process was busy (the idle samples, while the load generator ran the bare route, are left out).
//   node bench/profile.js bench/profiles/sqlite-me-many.cpuprofile [top]
import { readFileSync } from 'node:fs'

const [file, topArg] = process.argv.slice(2)
if (file === undefined) {
  console.error('usage: node bench/profile.js FILE.cpuprofile [top]')
  process.exit(2)
}
const top = Number(topArg ?? 30)
const profile = JSON.parse(readFileSync(file, 'utf8'))
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const self = new Map()
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0
  self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt)
}
const sampled = [...self.values()].reduce((a, b) => a + b, 0)

function area (url) {
  if (url === '') return '(native / V8)'
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg !== null) return pkg[1]
  if (url.startsWith('node:')) return url
  const own = /\/(dist\/lib\/.*|bench\/.*)$/.exec(url)
  return own === null ? url : own[1]
}

const idleNodes = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id))
const idle = [...idleNodes].reduce((a, id) => a + (self.get(id) ?? 0), 0)
const total = sampled - idle
const fns = new Map()
const areas = new Map()
for (const [id, t] of self) {
  if (idleNodes.has(id)) continue
  const { callFrame: f } = byId.get(id)
  const key = `${f.functionName || '(anonymous)'}  ${area(f.url)}:${f.lineNumber + 1}`
  fns.set(key, (fns.get(key) ?? 0) + t)
  const a = f.functionName === '(garbage collector)' ? '(garbage collector)' : f.functionName === '(idle)' ? '(idle)' : f.functionName === '(program)' ? '(program)' : area(f.url)
  areas.set(a, (areas.get(a) ?? 0) + t)
}
const show = (map, n) => [...map].sort((a, b) => b[1] - a[1]).slice(0, n)
  .map(([k, t]) => `${(t / total * 100).toFixed(1).padStart(5)}%  ${(t / 1000).toFixed(0).padStart(7)} ms  ${k}`).join('\n')
console.log(`${file}: ${(sampled / 1e6).toFixed(1)} s sampled, ${(total / 1e6).toFixed(1)} s busy (shares below are of the busy time)\n\n` +
  `by package or file:\n${show(areas, 25)}\n\nby function (self time):\n${show(fns, top)}`)
