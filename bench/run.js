// npm run bench: token issuance and authentication against a bare Fastify route, measured in one run.
//
// The server under test (bench/server.js) runs in its own process, one process per store; this process
// is the load generator (autocannon's programmatic API). Every figure is a ratio to the bare route of the
// same run: by default a bare Fastify route in a process of its own (BENCH_BARE=same: in the server's process),
// run right before each round of a case. The figure the targets judge is the ratio of server CPU time per
// request (bare / case), which a busy machine disturbs far less than throughput; req/s ratios sit beside it.
// argon2id verify alone (bench/argon2.js, its own process, run before each store's server starts) bounds
// the login routes; verify is measured again while logins run (the event loop is never blocked by
// hashing); and 200,000 refreshes with rotation check that the memory and Redis token stores let expired
// records go.
//
// Environment: see bench/README.md (BENCH_DURATION, BENCH_WARMUP, BENCH_CONNECTIONS, BENCH_STORES,
// BENCH_CASES, BENCH_EVENT_LOOP, BENCH_MEMORY, BENCH_MEMORY_REFRESHES, BENCH_MEMORY_SWEEP,
// BENCH_ARGON2_DURATION, BENCH_PG_URL, BENCH_REDIS_URL, BENCH_CPU_PROF, BENCH_OUT, BENCH_BARE, BENCH_USERS).
import { fork } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, platform, release, tmpdir, totalmem } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import autocannon from 'autocannon'
import { renderSvg } from './chart.js'
import { accessTokens, MANY, PASSWORD, USERNAME } from './common.js'

const here = dirname(fileURLToPath(import.meta.url))
const env = process.env
const DURATION = Number(env.BENCH_DURATION ?? 5)
const ROUNDS = Number(env.BENCH_ROUNDS ?? 3)
/** Each round's two runs (bare route, then the case). */
const ROUND_SECONDS = Number(env.BENCH_ROUND_DURATION ?? Math.max(1, DURATION / 2))
const WARMUP = Number(env.BENCH_WARMUP ?? Math.min(2, DURATION))
const CONNECTIONS = Number(env.BENCH_CONNECTIONS ?? 10)
const STORES = (env.BENCH_STORES ?? 'memory,sqlite,postgres-redis').split(',').filter(Boolean)
const CASE_FILTER = env.BENCH_CASES === undefined || env.BENCH_CASES === '' ? null : new Set(env.BENCH_CASES.split(','))
const MEMORY_CHECK = (env.BENCH_MEMORY ?? 'memory,redis').split(',').filter((s) => s !== '' && s !== '0')
const MEMORY_REFRESHES = Number(env.BENCH_MEMORY_REFRESHES ?? 200_000)
const EVENT_LOOP_CHECK = env.BENCH_EVENT_LOOP !== '0'
const PG_URL = env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const REDIS_URL = env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'
const CPU_PROF = env.BENCH_CPU_PROF
const OUT = resolve(env.BENCH_OUT ?? here)
/** Where the bare route runs: `process` (its own, the default) or `same` (the server under test's). */
const BARE = env.BENCH_BARE ?? 'process'
/** Users (one distinct access token each) of the many-token cases. */
const USERS = Number(env.BENCH_USERS ?? MANY)

const JSON_HEADERS = { 'content-type': 'application/json' }

/**
 * What issue 17 asks of each case: a ratio of server CPU time per request to the bare route's (`cpu`), or a
 * fraction of the argon2 bound, judged on the stores named here; the many-token cases are the ones judged.
 */
const TARGETS = {
  'verify-many': { min: 0.5, of: 'cpu', stores: ['sqlite'] },
  'me-many': { min: 0.45, of: 'cpu', stores: ['sqlite'] },
  'app-auth-many': [{ min: 0.5, of: 'cpu', stores: ['sqlite'] }, { min: 0.35, of: 'cpu', stores: ['postgres-redis'] }],
  'stateless-many': { min: 0.6, of: 'cpu', stores: ['sqlite'] },
  'refresh-many': { min: 0.4, of: 'cpu', stores: ['sqlite'] },
  'refresh-rotate-many': { min: 0.25, of: 'cpu', stores: ['sqlite'] },
  create: { min: 0.9, of: 'argon2', stores: ['memory', 'sqlite', 'postgres', 'postgres-redis'] }
}

/**
 * The floor each judged case stands on, measured in the same run: a route of the host app with no plugin code
 * that does only what the case cannot skip (fast-jwt's verification, which the issue keeps; one SQLite row for
 * a route that loads its user). A case cannot beat its floor; a target above it cannot be met on this machine.
 */
const FLOORS = {
  'stateless-many': 'floor-verify-many',
  'app-auth-many': 'floor-lookup-many',
  'me-many': 'floor-lookup-many',
  'verify-many': 'floor-verify-body-many',
  'refresh-many': 'floor-refresh-many',
  'refresh-rotate-many': 'floor-rotate-many'
}

/** The `-many` cases cycle through one access token per user (BENCH_USERS), so no cache answers. */
const CASES = [
  { id: 'verify-many', label: `POST /jwt/verify/, ${USERS} tokens` },
  { id: 'me-many', label: `GET /users/me/, ${USERS} users' tokens` },
  { id: 'app-auth-many', label: `app route + app.authenticate, ${USERS} tokens` },
  { id: 'stateless-many', label: `app route + stateless app.authenticate, ${USERS} tokens` },
  { id: 'refresh-many', label: `POST /jwt/refresh/ (no rotation), ${USERS} sessions` },
  { id: 'refresh-rotate-many', label: `POST /jwt/refresh/ (rotation), ${USERS} sessions` },
  { id: 'floor-verify-many', label: `floor: fast-jwt verify alone, ${USERS} tokens` },
  { id: 'floor-lookup-many', label: `floor: fast-jwt verify + one SQLite row, ${USERS} tokens`, stores: ['sqlite'] },
  { id: 'floor-verify-body-many', label: `floor: fast-jwt on a POSTed token + one row, ${USERS} tokens`, stores: ['sqlite'] },
  { id: 'floor-refresh-many', label: `floor: a refresh, no plugin code, ${USERS} sessions`, stores: ['sqlite'] },
  { id: 'floor-rotate-many', label: `floor: a rotation, no plugin code, ${USERS} sessions`, stores: ['sqlite'] },
  { id: 'app-open-many', label: `the app route without app.authenticate, ${USERS} tokens sent` },
  { id: 'app-open', label: 'the app route without app.authenticate, one token sent' },
  { id: 'verify', label: 'POST /jwt/verify/, one token' },
  { id: 'me', label: 'GET /users/me/, one token' },
  { id: 'app-auth', label: 'app route + app.authenticate, one token' },
  { id: 'sign', label: 'bare route signing one access token' },
  { id: 'refresh', label: 'POST /jwt/refresh/ (no rotation), one session' },
  { id: 'refresh-rotate', label: 'POST /jwt/refresh/ (rotation), sessions of one user' },
  { id: 'create', label: 'POST /jwt/create/ (argon2id)' },
  { id: 'login', label: 'POST /token/login/ (argon2id)' }
]

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/**
 * Runs of one case as one result: req/s, CPU and counts over all of them; latencies and the rest of
 * `middle`, the run of the median round.
 */
function mergeRuns (runs, middle) {
  const sum = (key) => runs.reduce((a, r) => a + r[key], 0)
  const seconds = sum('seconds')
  const completed = sum('completed')
  return {
    ...middle,
    rps: runs.reduce((a, r) => a + r.rps * r.seconds, 0) / seconds,
    seconds,
    completed,
    ok: sum('ok'),
    non2xx: sum('non2xx'),
    errors: sum('errors'),
    timeouts: sum('timeouts'),
    serverCpuUs: runs.reduce((a, r) => a + r.serverCpuUs * r.completed, 0) / completed,
    serverSystemUs: runs.reduce((a, r) => a + r.serverSystemUs * r.completed, 0) / completed,
    clientCpuUs: runs.reduce((a, r) => a + r.clientCpuUs * r.completed, 0) / completed
  }
}

/** The median of `values` (one per round) and its round (the first round when the median falls between two). */
function medianRound (rounds, values) {
  const value = median(values)
  return { value, round: rounds[values.indexOf(value)] ?? rounds[0] }
}

/**
 * A case measured in rounds of (bare route, case): its CPU ratio (bare server µs per request / the case's)
 * and its req/s ratio are the median of the rounds'; latencies come from the round of the median CPU ratio.
 */
function fromRounds (rounds) {
  const ratios = rounds.map(({ bare, run }) => ({
    cpuRatio: bare.serverCpuUs / run.serverCpuUs, ratio: run.rps / bare.rps, bareRps: bare.rps, bareServerCpuUs: bare.serverCpuUs
  }))
  const { value: cpuRatio, round } = medianRound(rounds, ratios.map((x) => x.cpuRatio))
  return {
    ...mergeRuns(rounds.map((x) => x.run), round.run),
    cpuRatio,
    ratio: median(ratios.map((x) => x.ratio)),
    rounds: ratios
  }
}

/**
 * A login case measured in rounds, each after a timing of one argon2id verify alone: the fraction of the
 * bound (cores / time of one verify) is the median of the rounds'.
 */
function fromArgon2Rounds (rounds) {
  const cores = availableParallelism()
  const fractions = rounds.map(({ alone, run }) => ({
    argon2Fraction: run.rps / (cores * 1000 / alone.sequential.meanMs), verifyMs: alone.sequential.meanMs, rps: run.rps
  }))
  const { value: argon2Fraction, round } = medianRound(rounds, fractions.map((x) => x.argon2Fraction))
  return {
    ...mergeRuns(rounds.map((x) => x.run), round.run),
    argon2Fraction,
    hashCpuMs: median(rounds.map(({ alone }) => alone.sequential.cpuPerVerifyMs)),
    rounds: fractions
  }
}

/** Judged against the argon2 bound, not the bare route. */
const ARGON2_CASES = new Set(['create', 'login'])


const log = (...args) => { process.stderr.write(args.join(' ') + '\n') }

// ---- the server process -------------------------------------------------------------------------------

async function startServer (kind, extraEnv = {}, label = kind) {
  // (BENCH_BLOCK_MS: how long the event-loop control blocks per login, one argon2id verify.)
  const dir = mkdtempSync(join(tmpdir(), 'fastify-accounts-bench-'))
  const child = fork(join(here, 'server.js'), [], {
    execArgv: ['--expose-gc'],
    env: {
      ...env,
      BENCH_STORE: kind,
      BENCH_DIR: dir,
      BENCH_PG_URL: PG_URL,
      BENCH_REDIS_URL: REDIS_URL,
      BENCH_REDIS_PREFIX: `fastify-accounts-bench:${process.pid}:${label}:`,
      ...extraEnv
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const pending = new Map()
  let nextId = 1
  const ready = new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bench server (${kind}) exited with ${code} before it was ready`)))
    child.on('message', (message) => {
      if (message.type === 'ready') resolve(message)
      else if (pending.has(message.id)) {
        const { resolve: done, reject: fail } = pending.get(message.id)
        pending.delete(message.id)
        if (message.type === 'error') fail(new Error(message.error))
        else done(message.stats)
      }
    })
  })
  const { address, userIds, refreshTokens, rotatingRefreshTokens, floorRotatingRefreshTokens } = await ready
  const exited = new Promise((resolve) => child.once('exit', resolve))
  return {
    address,
    userIds,
    /** One session per user (logged in by the server), for refresh-many and refresh-rotate-many. */
    refreshTokens,
    rotatingRefreshTokens,
    /** The sessions of floor-rotate-many, recorded by the server with no plugin code. */
    floorRotatingRefreshTokens,
    pid: child.pid,
    stats: (opts = {}) => new Promise((resolve, reject) => {
      const id = nextId++
      pending.set(id, { resolve, reject })
      child.send({ type: 'stats', id, ...opts })
    }),
    /** BENCH_CPU_PROF: starts the server's CPU profile, or stops it and has it written to `path`. */
    profile: (action, path) => new Promise((resolve, reject) => {
      const id = nextId++
      pending.set(id, { resolve, reject })
      child.send({ type: 'profile', id, action, path })
    }),
    stop: async () => {
      child.send({ type: 'stop' })
      const timer = setTimeout(() => { child.kill('SIGKILL') }, 10_000)
      await exited
      clearTimeout(timer)
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

async function post (address, path, body, headers = {}) {
  const res = await fetch(address + path, { method: 'POST', headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) })
  const text = await res.text()
  if (!res.ok) throw new Error(`${path}: ${res.status} ${text}`)
  return JSON.parse(text)
}

// ---- load ---------------------------------------------------------------------------------------------

function cannon (opts) {
  return new Promise((resolve, reject) => {
    const instance = autocannon({ connections: CONNECTIONS, ...opts }, (error, result) => {
      if (error) reject(error)
      else resolve(result)
    })
    // Without a listener autocannon prints nothing; keep it that way.
    instance.on('error', () => {})
  })
}

function summarize (result) {
  const seconds = (new Date(result.finish).getTime() - new Date(result.start).getTime()) / 1000
  return {
    rps: result['2xx'] / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok: result['2xx'],
    completed: result.latency.totalCount,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds
  }
}

/**
 * Rotating refresh tokens are single-use: each request takes the oldest token of a queue and puts back the one
 * the response carries, so with many sessions every request rotates another one. Without `tokens`, the queue
 * starts with the bench user's logins: more than connections, so it never runs dry.
 */
async function rotationPool (address, prefix, size, tokens = undefined) {
  const queue = tokens === undefined
    ? (await Promise.all(Array.from({ length: size }, () => post(address, `${prefix}/jwt/create/`, { username: USERNAME, password: PASSWORD })))).map((t) => t.refresh)
    : [...tokens]
  let dry = 0
  return {
    get dry () { return dry },
    get size () { return queue.length },
    request: {
      method: 'POST',
      path: `${prefix}/jwt/refresh/`,
      headers: JSON_HEADERS,
      setupRequest (req) {
        const token = queue.shift()
        if (token === undefined) dry++
        req.body = JSON.stringify({ refresh: token ?? 'pool-ran-dry' })
        return req
      },
      onResponse (status, body) {
        if (status === 200) queue.push(JSON.parse(body).refresh)
      }
    }
  }
}

/** autocannon options of each case, given the tokens of the bench user. */
function caseOptions (id, address, t) {
  const auth = { authorization: `Bearer ${t.access}` }
  const login = JSON.stringify({ username: USERNAME, password: PASSWORD })
  switch (id) {
    case 'bare': return { url: address + '/bare', method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ hello: 'world' }) }
    case 'verify': return { url: address + '/auth/jwt/verify/', method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ token: t.access }) }
    case 'me': return { url: address + '/auth/users/me/', method: 'GET', headers: auth }
    case 'app-auth': return { url: address + '/app/private', method: 'GET', headers: auth }
    case 'app-open': return { url: address + '/app/open', method: 'GET', headers: auth }
    case 'floor-verify': return { url: address + '/floor/verify', method: 'GET', headers: auth }
    case 'floor-lookup': return { url: address + '/floor/lookup', method: 'GET', headers: auth }
    case 'floor-verify-body': return { url: address + '/floor/verify-body', method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ token: t.access }) }
    case 'floor-refresh': return { url: address + '/floor/refresh', method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ refresh: t.refresh }) }
    case 'stateless': return { url: address + '/stateless/private', method: 'GET', headers: auth }
    case 'sign': return { url: address + '/app/sign', method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ refresh: t.refresh }) }
    case 'refresh': return { url: address + '/auth/jwt/refresh/', method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ refresh: t.refresh }) }
    case 'create': return { url: address + '/auth/jwt/create/', method: 'POST', headers: JSON_HEADERS, body: login }
    case 'login': return { url: address + '/auth/token/login/', method: 'POST', headers: JSON_HEADERS, body: login }
    default: throw new Error(`unknown case ${id}`)
  }
}

/**
 * A case of one token per user, in turn: the one-token case's request with each user's token in its place.
 * There are more of them (BENCH_USERS, 5,000) than the verified-token cache's window (it keeps a token on its
 * second verification within 4,096 first sights), so no request finds its token verified already, and each one
 * loads another user: real traffic.
 */
function manyTokens (server, id) {
  const refreshes = id === 'refresh' || id === 'floor-refresh'
  const pool = refreshes ? server.refreshTokens : accessTokens(server.userIds.length, { userIds: server.userIds })
  if (pool.length === 0) throw new Error('BENCH_USERS must be at least 1 for the many-token cases')
  const one = caseOptions(id, server.address, { access: pool[0] })
  let i = 0
  return {
    opts: {
      url: server.address,
      requests: [{
        method: one.method,
        path: new URL(one.url).pathname,
        headers: one.headers,
        setupRequest (req) {
          const token = pool[i++ % pool.length]
          if (one.body === undefined) req.headers = { ...one.headers, authorization: `Bearer ${token}` }
          else req.body = JSON.stringify(refreshes ? { refresh: token } : { token })
          return req
        }
      }]
    }
  }
}

/** What autocannon sends for a case: built once per case, so its token pools carry over between rounds. */
async function loadOf (server, id, tokens) {
  if (id === 'refresh-rotate-many') {
    // A session per user, each rotated in turn: queue order, so no session is rotated twice in a row.
    const pool = await rotationPool(server.address, '/rot/auth', 0, server.rotatingRefreshTokens)
    return { opts: { url: server.address, requests: [pool.request] }, pool }
  }
  if (id === 'floor-rotate-many') {
    const pool = await rotationPool(server.address, '/floor-rot', 0, server.floorRotatingRefreshTokens)
    return { opts: { url: server.address, requests: [pool.request] }, pool }
  }
  if (id.endsWith('-many')) return manyTokens(server, id.slice(0, -'-many'.length))
  if (id === 'refresh-rotate') {
    // Requests in flight when a run stops take their tokens with them: room for every round's losses.
    const pool = await rotationPool(server.address, '/rot/auth', CONNECTIONS * (ROUNDS + 2) + 4)
    return { opts: { url: server.address, requests: [pool.request] }, pool }
  }
  return { opts: caseOptions(id, server.address, tokens) }
}

async function measure (server, id, tokens, seconds = DURATION, warmup = WARMUP, load = undefined) {
  const { opts, pool } = load ?? await loadOf(server, id, tokens)
  if (warmup > 0) await cannon({ ...opts, duration: warmup })
  const start = await server.stats({ resetEld: true })
  const clientStart = process.cpuUsage()
  const result = summarize(await cannon({ ...opts, duration: seconds }))
  const client = process.cpuUsage(clientStart)
  const stats = await server.stats({ resetEld: true })
  result.eld = stats.eld
  // CPU time per completed request, in microseconds: steadier than req/s on a busy machine.
  result.serverCpuUs = (stats.cpuMicros - start.cpuMicros) / result.completed
  result.serverSystemUs = (stats.systemMicros - start.systemMicros) / result.completed
  result.clientCpuUs = (client.user + client.system) / result.completed
  if (pool !== undefined) result.poolRanDry = pool.dry
  return result
}

// ---- the pieces of the run ----------------------------------------------------------------------------

function runArgon2 (extraEnv = {}) {
  return new Promise((resolve, reject) => {
    const child = fork(join(here, 'argon2.js'), [], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], env: { ...process.env, ...extraEnv } })
    let out = ''
    child.stdout.on('data', (chunk) => { out += chunk })
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`bench/argon2.js exited with ${code}`))
      else resolve(JSON.parse(out))
    })
  })
}

function describeArgon2 (a) {
  return `one verify ${fmt(a.sequential.meanMs, 1)} ms (${fmt(a.sequential.cpuPerVerifyMs, 1)} ms CPU); bound ${a.cores} cores / hash time = ${fmt(a.boundPerSecond, 1)}/s; ` +
    `argon2 alone with ${a.concurrent.map((c) => `${c.workers} at once: ${fmt(c.perSecond, 1)}/s`).join(', ')}`
}

async function benchStore (kind, withEventLoopCheck) {
  // argon2id alone, right before this store's cases and with no server running: the bound of its logins.
  const argon2 = await runArgon2()
  log(`\n[${kind}] argon2id alone (default parameters): ${describeArgon2(argon2)}`)
  log(`[${kind}] starting the server`)
  const server = await startServer(kind, { BENCH_BLOCK_MS: String(argon2.sequential.meanMs), BENCH_USERS: String(USERS) })
  // The reference: by default a process of its own, so the plugin's heap and timers do not weigh on it.
  const bareServer = BARE === 'same' ? server : await startServer('bare', {}, `${kind}-bare`)
  try {
    const tokens = await post(server.address, '/auth/jwt/create/', { username: USERNAME, password: PASSWORD })
    const out = { kind, argon2, bareProcess: BARE !== 'same', users: server.userIds.length, bare: [], cases: {} }
    const bare = async (warmup, seconds = DURATION) => {
      const r = await measure(bareServer, 'bare', tokens, seconds, warmup)
      out.bare.push(r)
      log(`[${kind}] bare route: ${r.rps.toFixed(0)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms; CPU per request: server ${r.serverCpuUs.toFixed(0)} µs, load generator ${r.clientCpuUs.toFixed(0)} µs`)
      return r
    }
    // Each case runs in ROUNDS rounds, each a bare-route run right before a run of the case, and is judged
    // on the median of the rounds' ratios: the speed of this machine drifts and jumps between runs (by a
    // third on a shared VM), and a reference taken minutes away, or a single pair, would carry that into
    // the ratio.
    await bare(WARMUP)
    for (const c of CASES) {
      if (CASE_FILTER !== null && !CASE_FILTER.has(c.id)) continue
      if (c.stores !== undefined && !c.stores.includes(kind)) continue
      const load = await loadOf(server, c.id, tokens)
      // One CPU profile per case, over its runs only (the bare route's run in their own process).
      if (CPU_PROF !== undefined && CPU_PROF !== '') await server.profile('start')
      if (ARGON2_CASES.has(c.id)) {
        // Rounds as well: one argon2id verify timed alone (its own process, the server idle), then the
        // logins; the fraction of the bound is the median round's.
        const rounds = []
        for (let i = 0; i < ROUNDS; i++) {
          const alone = await runArgon2({ BENCH_ARGON2_SEQUENTIAL_ONLY: '1', BENCH_ARGON2_DURATION: String(ROUND_SECONDS) })
          rounds.push({ alone, run: await measure(server, c.id, tokens, ROUND_SECONDS, i === 0 ? WARMUP : 0, load) })
        }
        out.cases[c.id] = fromArgon2Rounds(rounds)
      } else {
        const rounds = []
        for (let i = 0; i < ROUNDS; i++) {
          const reference = await bare(0, ROUND_SECONDS)
          rounds.push({ bare: reference, run: await measure(server, c.id, tokens, ROUND_SECONDS, i === 0 ? WARMUP : 0, load) })
        }
        out.cases[c.id] = fromRounds(rounds)
      }
      if (CPU_PROF !== undefined && CPU_PROF !== '') {
        mkdirSync(resolve(CPU_PROF), { recursive: true })
        const path = join(resolve(CPU_PROF), `${kind}-${c.id}.cpuprofile`)
        await server.profile('stop', path)
        log(`[${kind}] ${c.id}: CPU profile in ${path}`)
      }
      const r = out.cases[c.id]
      log(`[${kind}] ${c.id}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms; CPU per request: server ${r.serverCpuUs.toFixed(0)} µs, load generator ${r.clientCpuUs.toFixed(0)} µs` +
        (r.cpuRatio === undefined ? '' : `; CPU ratio to bare by round ${r.rounds.map((x) => fmt(x.cpuRatio, 2)).join(' ')}, req/s ratio ${r.rounds.map((x) => fmt(x.ratio, 2)).join(' ')}`) +
        (r.argon2Fraction === undefined ? '' : `; fraction of the argon2 bound by round ${r.rounds.map((x) => fmt(x.argon2Fraction, 2)).join(' ')}`) +
        (r.non2xx + r.errors > 0 ? `  (${r.non2xx} non-2xx, ${r.errors} errors)` : ''))
    }
    await bare(0)
    out.reference = out.bare.reduce((a, r) => a + r.rps, 0) / out.bare.length
    out.bareDrift = out.bare[out.bare.length - 1].rps / out.bare[0].rps
    if (withEventLoopCheck) out.eventLoop = await eventLoopCheck(server, tokens)
    return out
  } finally {
    await server.stop()
    if (bareServer !== server) await bareServer.stop()
  }
}

/**
 * /jwt/verify/ alone, then while logins run on other connections (argon2 in the threadpool: the loop stays
 * free), then while logins run against a control hasher that spends the same time on the main thread.
 */
async function eventLoopCheck (server, tokens) {
  log('[event loop] verify alone, then verify while POST /jwt/create/ runs (argon2id, then the blocking control)')
  const verify = caseOptions('verify', server.address, tokens)
  const create = caseOptions('create', server.address, tokens)
  const loginConnections = availableParallelism()
  const alone = await measure(server, 'verify', tokens)
  const withLogins = async (url) => {
    await server.stats({ resetEld: true })
    const [during, logins] = await Promise.all([
      cannon({ ...verify, duration: DURATION }),
      cannon({ ...create, url, connections: loginConnections, duration: DURATION })
    ])
    const stats = await server.stats({ resetEld: true })
    return { verify: { ...summarize(during), eld: stats.eld }, logins: summarize(logins) }
  }
  const during = await withLogins(create.url)
  const blocking = await withLogins(create.url.replace('/auth/', '/blocking/auth/'))
  const out = { alone, loginConnections, during: during.verify, logins: during.logins, blocking }
  for (const [name, r] of [['argon2id', during], ['blocking control', blocking]]) {
    log(`[event loop] ${name}: verify ${r.verify.rps.toFixed(0)} req/s p99 ${r.verify.p99} ms while ${r.logins.rps.toFixed(1)} logins/s; event-loop delay p99 ${r.verify.eld.p99} ms, max ${r.verify.eld.max} ms`)
  }
  return out
}

/** 200,000 refreshes with rotation; RSS, heap and record counts before, right after, and once expired. */
async function memoryCheck (which) {
  const kind = which === 'redis' ? 'postgres-redis' : 'memory'
  const lifetime = 2
  const grace = 1
  // BENCH_MEMORY_SWEEP=0 shows the memory store without its sweep (as it was before issue 5).
  const sweep = Number(env.BENCH_MEMORY_SWEEP ?? 1)
  log(`\n[memory check: ${which}] ${MEMORY_REFRESHES} refreshes with rotation, refresh lifetime ${lifetime} s`)
  const server = await startServer(kind, { BENCH_REFRESH_LIFETIME: String(lifetime), BENCH_GRACE: String(grace), BENCH_SWEEP: String(sweep) }, `memcheck-${which}`)
  try {
    const rotate = async (amount) => {
      const pool = await rotationPool(server.address, '/rot/auth', CONNECTIONS * 2 + 4)
      const result = summarize(await cannon({ url: server.address, requests: [pool.request], amount }))
      result.poolRanDry = pool.dry
      return result
    }
    const settle = async () => {
      // Past every expiry, plus one small burst of traffic (the memory store sweeps on write).
      await sleep((lifetime + grace + sweep + 1) * 1000)
      await rotate(100)
    }
    await rotate(10_000) // warm-up
    await settle()
    const before = await server.stats({ gc: true })
    const run = await rotate(MEMORY_REFRESHES)
    const end = await server.stats({ gc: true })
    await settle()
    const after = await server.stats({ gc: true })
    const out = { store: which, refreshes: MEMORY_REFRESHES, lifetimeSeconds: lifetime, graceSeconds: grace, sweepSeconds: which === 'memory' ? sweep : null, run, before, end, after }
    out.recordsGone = after.records !== null && after.records.refresh < Math.max(1000, end.records.refresh / 10)
    log(`[memory check: ${which}] ${run.rps.toFixed(0)} refreshes/s (${run.non2xx} non-2xx); RSS ${mb(before.rss)} -> ${mb(end.rss)} -> ${mb(after.rss)} MB; ` +
      `heap ${mb(before.heapUsed)} -> ${mb(end.heapUsed)} -> ${mb(after.heapUsed)} MB; refresh records ${before.records.refresh} -> ${end.records.refresh} -> ${after.records.refresh}`)
    return out
  } finally {
    await server.stop()
  }
}

// ---- report -------------------------------------------------------------------------------------------

const mb = (bytes) => (bytes / 1024 / 1024).toFixed(1)
const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '-')

const TARGET_OF = { cpu: 'bare (server CPU per request)', bare: 'bare (req/s)', argon2: 'argon2 bound' }

function judge (store, caseId, r) {
  const target = [TARGETS[caseId] ?? []].flat().find((t) => t.stores.includes(store))
  if (target === undefined) return { target: null, met: null }
  const value = target.of === 'argon2' ? r.argon2Fraction : target.of === 'cpu' ? r.cpuRatio : r.ratio
  return { target: `${target.min} of ${TARGET_OF[target.of]}`, min: target.min, of: target.of, met: value >= target.min }
}

function pad (s, n, right = false) {
  s = String(s)
  return right ? s.padStart(n) : s.padEnd(n)
}

function table (results) {
  const lines = []
  // The CPU ratio first: it is what the targets judge, and the steadier figure on a shared machine.
  const head = [pad('store', 15), pad('case', 52), pad('CPU x', 6, true), pad('srv µs', 8, true), pad('kernel', 7, true), pad('req/s x', 8, true), pad('req/s', 8, true), pad('p50 ms', 7, true), pad('p99 ms', 7, true), pad('x argon2', 9, true), pad('target', 7, true), '  ']
  lines.push(head.join(' '))
  lines.push('-'.repeat(lines[0].length))
  for (const s of results.stores) {
    const b = s.bare
    const rps = b.map((r) => r.rps)
    const cpu = b.map((r) => r.serverCpuUs)
    const kernel = b.map((r) => r.serverSystemUs)
    lines.push([pad(s.kind, 15), pad(`bare route${s.bareProcess ? ' (own process)' : ''}, ${b.length} runs (${fmt(Math.min(...rps))}-${fmt(Math.max(...rps))}/s)`, 52), pad('1.00', 6, true),
      pad(`${fmt(Math.min(...cpu))}-${fmt(Math.max(...cpu))}`, 8, true), pad(`${fmt(Math.min(...kernel))}-${fmt(Math.max(...kernel))}`, 7, true), pad('1.00', 8, true), pad(fmt(s.reference), 8, true), pad(fmt(b[0].p50, 1), 7, true), pad(fmt(b[0].p99, 1), 7, true), pad('', 9, true), pad('', 7, true)].join(' '))
    for (const c of CASES) {
      const r = s.cases[c.id]
      if (r === undefined) continue
      const flag = r.non2xx + r.errors > 0 ? `  !${r.non2xx} non-2xx` : ''
      const target = r.verdict.target === null ? '' : `${r.verdict.min}`
      const met = r.verdict.met === null ? '' : r.verdict.met ? 'ok' : 'MISSED'
      const fast = r.argon2Fraction === undefined
      lines.push([pad('', 15), pad(c.label, 52), pad(fast ? fmt(r.cpuRatio, 2) : '', 6, true), pad(fmt(r.serverCpuUs), 8, true), pad(fmt(r.serverSystemUs), 7, true), pad(fast ? fmt(r.ratio, 2) : '', 8, true), pad(fmt(r.rps), 8, true),
        pad(fmt(r.p50, 1), 7, true), pad(fmt(r.p99, 1), 7, true), pad(fast ? '' : fmt(r.argon2Fraction, 2), 9, true), pad(target, 7, true), met + flag].join(' '))
    }
  }
  return lines.join('\n')
}

function machine () {
  const cpu = cpus()[0]?.model ?? 'unknown'
  return { cpu, cores: availableParallelism(), memoryGiB: Math.round(totalmem() / 2 ** 30 * 10) / 10, node: process.version, os: `${platform()} ${release()}`, loadAverage: loadavg().map((l) => Math.round(l * 100) / 100) }
}

// ---- main ---------------------------------------------------------------------------------------------

const started = new Date()
const results = {
  date: started.toISOString(),
  command: 'npm run bench',
  machine: machine(),
  config: { durationSeconds: DURATION, rounds: ROUNDS, roundSeconds: ROUND_SECONDS, warmupSeconds: WARMUP, connections: CONNECTIONS, stores: STORES, memoryRefreshes: MEMORY_REFRESHES, bare: BARE, users: USERS },
  targets: TARGETS,
  floors: FLOORS,
  cases: CASES,
  stores: [],
  eventLoop: null,
  memory: []
}
log(`fastify-accounts bench: ${results.machine.cpu}, ${results.machine.cores} cores, Node ${process.version}; ` +
  `${ROUNDS} rounds of ${ROUND_SECONDS} s bare + ${ROUND_SECONDS} s case (logins: ${DURATION} s), ${WARMUP} s warm-up, ${CONNECTIONS} connections; load average ${results.machine.loadAverage.join(' ')}`)

for (const [i, kind] of STORES.entries()) {
  const s = await benchStore(kind, i === 0 && EVENT_LOOP_CHECK)
  if (s.eventLoop !== undefined) {
    results.eventLoop = { store: kind, ...s.eventLoop, argon2VerifyMs: s.argon2.sequential.meanMs }
    delete s.eventLoop
  }
  const measuredBound = Math.max(...s.argon2.concurrent.map((c) => c.perSecond))
  const bareCpu = s.bare.reduce((a, r) => a + r.serverCpuUs, 0) / s.bare.length
  for (const [id, r] of Object.entries(s.cases)) {
    // (Cases run in rounds carry their own, from the bare runs beside them.)
    r.ratio ??= r.rps / s.reference
    r.cpuRatio ??= bareCpu / r.serverCpuUs
    if (id === 'create' || id === 'login') {
      // The issue's bound (every core hashing back to back), what argon2 alone reached with every core
      // busy, and how much of the server's CPU per login the hash itself is.
      r.argon2MeasuredFraction = r.rps / measuredBound
      r.hashShareOfCpu = r.hashCpuMs * 1000 / r.serverCpuUs
    }
    r.verdict = judge(kind, id, r)
  }
  results.stores.push(s)
}

for (const which of MEMORY_CHECK) results.memory.push(await memoryCheck(which))
results.machine.loadAverageAtEnd = loadavg().map((l) => Math.round(l * 100) / 100)
results.elapsedSeconds = Math.round((Date.now() - started.getTime()) / 1000)

// ---- print and write ----------------------------------------------------------------------------------

const out = []
out.push(`\nfastify-accounts bench, ${results.date}`)
out.push(`machine: ${results.machine.cpu}, ${results.machine.cores} cores (nproc), ${results.machine.memoryGiB} GiB, ${results.machine.os}, Node ${results.machine.node}`)
out.push(`load: autocannon in this process, ${CONNECTIONS} connections; each case ${ROUNDS} rounds of ${ROUND_SECONDS} s of the bare route then ${ROUND_SECONDS} s of the case (CPU x: bare server µs per request / the case's, the median round; req/s x beside it), logins ${DURATION} s; ${WARMUP} s of warm-up per case; server in its own process, one per store; bare route ${BARE === 'same' ? "in the server's process" : 'in a process of its own'}; many-token cases: ${USERS} users, one token each, cycled`)
out.push(`load average at start ${results.machine.loadAverage.join(' ')}, at end ${results.machine.loadAverageAtEnd.join(' ')}\n`)
out.push(table(results))
if (results.stores.length > 0) {
  const p = results.stores[0].argon2.params
  out.push(`\nargon2id verify alone (m=${p.memoryCost} KiB, t=${p.timeCost}, p=${p.parallelism}), measured before each store's cases:`)
  for (const s of results.stores) {
    out.push(`  ${pad(s.kind, 15)} ${describeArgon2(s.argon2)}`)
    for (const id of ['create', 'login']) {
      const r = s.cases[id]
      if (r === undefined) continue
      out.push(`  ${pad('', 15)} ${id}: ${fmt(r.rps, 1)}/s = ${fmt(r.argon2Fraction, 2)} of the bound (median of ${r.rounds.map((x) => `${fmt(x.argon2Fraction, 2)} at ${fmt(x.verifyMs, 1)} ms`).join(', ')}), ${fmt(r.argon2MeasuredFraction, 2)} of argon2 alone; ` +
        `server CPU ${fmt(r.serverCpuUs / 1000, 1)} ms per login, of which the hash ${fmt(r.hashShareOfCpu * 100)}%`)
    }
  }
}
if (results.eventLoop !== null) {
  const e = results.eventLoop
  out.push(`\nevent loop (${e.store}): verify alone ${fmt(e.alone.rps)} req/s, p99 ${e.alone.p99} ms, loop delay max ${e.alone.eld.max} ms; ` +
    `while ${fmt(e.logins.rps, 1)} logins/s run: verify ${fmt(e.during.rps)} req/s, p99 ${e.during.p99} ms, loop delay p99 ${e.during.eld.p99} ms, max ${e.during.eld.max} ms ` +
    `(one argon2 verify: ${fmt(e.argon2VerifyMs, 1)} ms)`)
  const b = e.blocking
  out.push(`  control, the same time spent on the main thread: verify ${fmt(b.verify.rps)} req/s, p99 ${b.verify.p99} ms, loop delay p99 ${b.verify.eld.p99} ms, max ${b.verify.eld.max} ms, ${fmt(b.logins.rps, 1)} logins/s`)
}
for (const m of results.memory) {
  out.push(`\nmemory (${m.store} token store): ${m.refreshes} refreshes with rotation at ${fmt(m.run.rps)} req/s (${m.run.non2xx} non-2xx), refresh lifetime ${m.lifetimeSeconds} s + ${m.graceSeconds} s grace` +
    `\n  RSS ${mb(m.before.rss)} MB before, ${mb(m.end.rss)} MB right after, ${mb(m.after.rss)} MB once expired; heap ${mb(m.before.heapUsed)} / ${mb(m.end.heapUsed)} / ${mb(m.after.heapUsed)} MB` +
    `\n  refresh records ${m.before.records.refresh} / ${m.end.records.refresh} / ${m.after.records.refresh}` +
    (m.store === 'redis' ? `; Redis used_memory ${mb(m.before.records.redisUsedMemory)} / ${mb(m.end.records.redisUsedMemory)} / ${mb(m.after.records.redisUsedMemory)} MB` : '') +
    `: expired records ${m.recordsGone ? 'gone' : 'NOT gone'}`)
}
for (const s of results.stores) {
  const floors = Object.entries(FLOORS).filter(([id, floor]) => s.cases[id] !== undefined && s.cases[floor] !== undefined)
  if (floors.length === 0) continue
  out.push(`\nfloors (${s.kind}): ` + floors.map(([id, floor]) => {
    const { min } = s.cases[id].verdict
    const [c, f] = [s.cases[id], s.cases[floor]]
    // What the case reaches of its floor: the figure a target stated against the floor would judge.
    return `${id} ${fmt(c.cpuRatio, 2)} on a floor of ${fmt(f.cpuRatio, 2)} (${floor}; ${fmt(c.serverCpuUs)} µs against ${fmt(f.serverCpuUs)}, ` +
      `${fmt(c.cpuRatio / f.cpuRatio, 2)} of the floor${min === undefined ? '' : `; target ${min}`})`
  }).join('; '))
}
const verdicts = results.stores.flatMap((s) => Object.entries(s.cases).filter(([, r]) => r.verdict.met !== null).map(([id, r]) => ({ store: s.kind, id, ...r.verdict })))
const missed = verdicts.filter((v) => !v.met)
out.push(`\ntargets: ${verdicts.length - missed.length} of ${verdicts.length} met` + (missed.length > 0 ? `; missed: ${missed.map((v) => `${v.id} on ${v.store}`).join(', ')}` : ''))
out.push(`elapsed ${results.elapsedSeconds} s`)
process.stdout.write(out.join('\n') + '\n')

mkdirSync(OUT, { recursive: true })
writeFileSync(join(OUT, 'results.json'), JSON.stringify(results, null, 2) + '\n')
writeFileSync(join(OUT, 'results.svg'), renderSvg(results))
log(`\nwrote ${join(OUT, 'results.json')} and ${join(OUT, 'results.svg')}`)
