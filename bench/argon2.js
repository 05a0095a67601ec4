// argon2id verify alone, with the plugin's default parameters, in its own process (run by run.js).
// Prints one JSON line: the time of one verify when nothing else hashes (sequential), and the verifies
// per second when `cores` (and 2 x cores) run at once, as the server's libuv threadpool runs them.
import { availableParallelism } from 'node:os'
import { Argon2Hasher, ARGON2_DEFAULTS } from '../dist/lib/index.js'

const seconds = Number(process.env.BENCH_ARGON2_DURATION ?? Math.min(3, Number(process.env.BENCH_DURATION ?? 5)))
const cores = availableParallelism()
const hasher = new Argon2Hasher()
const password = 'correct-horse-battery-staple-42'
const encoded = await hasher.hash(password)

/** CPU time of this process (all threads, so the threadpool's hashing too), in milliseconds. */
const cpuMs = (since) => { const c = process.cpuUsage(since); return (c.user + c.system) / 1000 }

async function sequential (ms) {
  const times = []
  const cpu = process.cpuUsage()
  const end = performance.now() + ms
  while (performance.now() < end || times.length < 5) {
    const start = performance.now()
    if (!(await hasher.verify(encoded, password))) throw new Error('argon2 verify failed')
    times.push(performance.now() - start)
  }
  const cpuPerVerifyMs = cpuMs(cpu) / times.length
  times.sort((a, b) => a - b)
  const mean = times.reduce((a, b) => a + b, 0) / times.length
  return { count: times.length, meanMs: mean, p50Ms: times[Math.floor(times.length / 2)], minMs: times[0], cpuPerVerifyMs }
}

async function concurrent (workers, ms) {
  let count = 0
  const cpu = process.cpuUsage()
  const start = performance.now()
  const end = start + ms
  await Promise.all(Array.from({ length: workers }, async () => {
    while (performance.now() < end) {
      if (!(await hasher.verify(encoded, password))) throw new Error('argon2 verify failed')
      count++
    }
  }))
  const elapsed = (performance.now() - start) / 1000
  return { workers, count, perSecond: count / elapsed, cpuPerVerifyMs: cpuMs(cpu) / count }
}

// BENCH_ARGON2_SEQUENTIAL_ONLY=1: the time of one verify only (a round of run.js's login cases).
const sequentialOnly = process.env.BENCH_ARGON2_SEQUENTIAL_ONLY === '1'
await sequential(300) // warm-up
const seq = await sequential(seconds * 1000)
const par = sequentialOnly ? null : await concurrent(cores, seconds * 1000)
const par2 = sequentialOnly ? null : await concurrent(cores * 2, seconds * 1000)
process.stdout.write(JSON.stringify({
  params: { ...ARGON2_DEFAULTS, type: 'argon2id' },
  cores,
  threadpool: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
  sequential: seq,
  concurrent: sequentialOnly ? [] : [par, par2],
  // What the issue calls the argon2 bound: every core hashing back to back.
  boundPerSecond: cores * 1000 / seq.meanMs
}) + '\n')
