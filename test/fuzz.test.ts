/**
 * Property-based fuzzing (fast-check) of every operation in the app's own OpenAPI document (issue 6).
 *
 * For each operation, requests are generated from its request body schema and its security: bodies
 * shaped like the schema and mutated (wrong types, missing and extra fields, `__proto__`/`constructor`
 * keys, repeated keys, nesting thousands deep, strings past the body limit, NUL and control characters,
 * lone surrogates, numbers where text goes), raw payloads (invalid and truncated JSON, bytes that are not
 * UTF-8, UTF-16, form bodies with bad escapes), every kind of Content-Type, Authorization headers of every
 * scheme (working credentials of the seeded users, tokens of the wrong type, of an inactive or missing
 * user, expired, forged, tampered, garbage, 10 KB), and odd path parameters. Every answer must be:
 *   - never a 5xx; a 204 with no body, anything else JSON;
 *   - a 4xx in djoser's shape (`{detail[, code, messages]}` or `{field: [messages]}`), 401s with the challenge;
 *   - a 2xx that is a documented answer and matches its documented schema (ajv);
 *   - free of password hashes, and of `password` keys outside the top-level field errors;
 *   - 401 for a protected operation without a working credential, never 401 with one; a 200 to a known
 *     user shows that user (staff: what staff may see), never another;
 * a 4xx leaves the user store, the token store and the outbox exactly as they were; after any request
 * (2xx too) no account gained staff or superuser, no new account is active, every stored username is
 * what Django would store (NFKC-normalized, UnicodeUsernameValidator), no opaque token or live refresh
 * token outlives its user; and the built-in prototypes gain no keys. Stores go back to the seed before
 * every request, so a request that legitimately succeeds cannot affect the next one.
 * Path parameters the router itself refuses (bad escapes, over maxParamLength) are fuzzed against the
 * example server of lib/app.ts, the owner of the Fastify instance that answers them.
 *
 * Runs in `npm test` with a fixed seed and a bounded count. Knobs (environment):
 *   FUZZ_RUNS=<n>    requests per operation (default 100)
 *   FUZZ_SEED=<n>    fast-check seed (default 4242)
 *   FUZZ_ONLY=<re>   only the operations whose "METHOD /path" matches this regular expression
 * A longer run (lift tap's per-file timeout):
 *   FUZZ_RUNS=2000 FUZZ_SEED=$RANDOM npx tap test/fuzz.test.ts --disable-coverage --timeout=0
 * A failure prints fast-check's counterexample (shrunk) with its seed and path, and the answer. The
 * default run is about 2,300 requests, a few seconds of the file's time (loading the TypeScript is most of it).
 */
import fc from 'fast-check'
import t, { type Test } from 'tap'
import { buildServer } from '../example/app.js'
import { SECRET } from './helpers/app.js'
import {
  authArb, buildFuzzWorld, describe, djoserErrorProblems, injectPayload, isDjoserErrorBody, operationsOf, POLLUTION_PROBES, prototypeFingerprint,
  requestArb, responseProblems, ResponseSchemas, routerErrorParamArb, type FuzzRequest
} from './helpers/fuzz.js'

const RUNS = Number(process.env.FUZZ_RUNS ?? 100)
const SEED = Number(process.env.FUZZ_SEED ?? 4242)
const ONLY = process.env.FUZZ_ONLY === undefined || process.env.FUZZ_ONLY === '' ? null : new RegExp(process.env.FUZZ_ONLY)
if (!Number.isSafeInteger(RUNS) || RUNS < 1) throw new Error(`FUZZ_RUNS must be a positive whole number, not ${process.env.FUZZ_RUNS}`)
if (!Number.isSafeInteger(SEED)) throw new Error(`FUZZ_SEED must be a whole number, not ${process.env.FUZZ_SEED}`)

const prototypesBefore = prototypeFingerprint()
const world = await buildFuzzWorld()
t.teardown(() => world.app.close())
const schemas = new ResponseSchemas(world.doc)
const operations = operationsOf(world.doc)

t.test('the document lists the routes to fuzz', async t => {
  const names = operations.map((op) => `${op.method} ${op.path}`)
  t.ok(operations.length >= 22, `${operations.length} operations`)
  for (const name of ['POST /auth/users/', 'GET /auth/users/{id}/', 'DELETE /auth/users/me/', 'POST /auth/jwt/refresh/', 'POST /auth/token/logout/', 'GET /private']) {
    t.ok(names.includes(name), name)
  }
  t.ok(operations.filter((op) => op.secured).length >= 9, 'protected operations are marked')
  t.ok(operations.filter((op) => op.body !== undefined).length >= 17, 'body schemas are found')
})

t.test('isDjoserErrorBody accepts djoser\'s shapes and nothing else', async t => {
  for (const body of [
    { detail: 'Not found.' },
    { detail: 'Given token not valid for any token type', code: 'token_not_valid', messages: [{ token_class: 'AccessToken', token_type: 'access', message: 'x' }] },
    { detail: 'User is inactive', code: 'user_inactive' },
    { username: ['This field is required.'], password: ['This field is required.'] },
    { non_field_errors: ['Unable to log in with provided credentials.'] }
  ]) t.ok(isDjoserErrorBody(body), JSON.stringify(body))
  for (const body of [
    null, [], 'x', 42, {}, { message: 'x', statusCode: 400, error: 'Bad Request' }, { detail: 'x', statusCode: 400 },
    { detail: 'x', code: 1 }, { detail: 'x', messages: [{ message: 'x' }] }, { username: 'x' }, { username: [] }, { username: [1] },
    { '': ['x'] }, { detail: ['x'], other: 'y' }
  ]) t.notOk(isDjoserErrorBody(body), JSON.stringify(body))
  t.same(djoserErrorProblems({ detail: 'x' }), [])
})

t.test('the checks catch what they look for (a self-test)', async t => {
  await world.reset()
  const seed = await world.snapshot()
  t.same(await world.invariants(), [], 'the seed holds every invariant')
  await world.app.accounts.tokens.createAuthToken(1)
  t.not(await world.snapshot(), seed, 'a new opaque token shows in the snapshot')
  await world.reset()
  t.equal(await world.snapshot(), seed, 'reset puts it back')
  await world.stores.tokens.revokeUserRefreshTokens(1)
  t.not(await world.snapshot(), seed, 'a revoked refresh token shows in the snapshot')
  await world.reset()
  await world.stores.users.updateUser(1, { lastLogin: new Date() })
  t.not(await world.snapshot(), seed, 'a new last login shows in the snapshot')
  await world.reset()
  await world.stores.users.updateUser(1, { isStaff: true, username: 'a\u0301' })
  await world.stores.users.deleteUser(3)
  const problems = (await world.invariants()).join('\n')
  t.match(problems, /isStaff is true/, 'a privilege gained is caught')
  t.match(problems, /not NFKC-normalized/, 'a username Django would normalize is caught')
  t.match(problems, /opaque token of user 3, who does not exist/, 'an orphan opaque token is caught')
  t.match(problems, /live refresh token of deleted user 3/, 'a live refresh token of a deleted user is caught')
  await world.reset()
  const op = operations.find((o) => o.method === 'GET' && o.path === '/auth/users/me/')!
  const req = { method: 'GET', url: '/auth/users/me/', headers: {}, payload: undefined, kind: 'none', auth: 'none', chunked: false } as const
  const fake = (statusCode: number, body: string, type = 'application/json'): Parameters<typeof responseProblems>[2] =>
    ({ statusCode, body, headers: { 'content-type': type, 'www-authenticate': 'Bearer realm="api"' } }) as unknown as Parameters<typeof responseProblems>[2]
  t.same(responseProblems(op, req, fake(401, '{"detail":"Authentication credentials were not provided."}'), schemas), [], 'a proper 401 passes')
  t.match(responseProblems(op, req, fake(500, '{"detail":"A server error occurred."}'), schemas).join(), /a 500/, 'a 500 is caught')
  t.match(responseProblems(op, req, fake(401, '<html></html>', 'text/html'), schemas).join(), /content-type text\/html/, 'HTML is caught')
  t.match(responseProblems(op, req, fake(200, '{"email":"a@b.c","id":1,"username":"a"}'), schemas).join(), /no credential got a 200/, 'an unauthenticated 200 is caught')
  t.match(responseProblems(op, { ...req, auth: 'valid', user: 1 }, fake(200, '{"email":"a@b.c","id":3,"username":"staff"}'), schemas).join(), /user 1 was shown user 3/, 'another user\'s data is caught')
  t.match(responseProblems(op, { ...req, auth: 'valid', user: 1 }, fake(200, '{"email":"a@b.c","id":1,"username":"a","password":"$argon2id$x"}'), schemas).join(), /password hash.*password key.*documented 200 schema/s, 'a leaked hash is caught')
})

/** A failed property as one failing assertion: the answer and what is wrong with it, then fast-check's report (seed, path, counterexample). */
async function reportFailure<Ts extends unknown[]> (t: Test, name: string, details: fc.RunDetails<Ts>): Promise<void> {
  const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)
  const [answer = '', ...problems] = error.split('\n  - ')
  t.fail(`${name}: ${problems[0] ?? answer}`, { answer, problems, fastCheck: (await fc.asyncDefaultReportMessage(details)) ?? '' })
}

/** Statuses seen per operation, for the summary. */
const seen = new Map<string, Map<number, number>>()

for (const op of operations) {
  const name = `${op.method} ${op.path}`
  if (ONLY !== null && !ONLY.test(name)) continue
  t.test(name, async t => {
    const statuses = new Map<number, number>()
    seen.set(name, statuses)
    // Shrinking is bounded: a counterexample of a few hundred steps is small enough to read.
    const property = fc.asyncProperty(fc.limitShrink(requestArb(op, world), 400), async (req: FuzzRequest) => {
      await world.reset()
      const before = await world.snapshot()
      const res = await world.app.inject({ method: req.method as 'GET', url: req.url, headers: req.headers, payload: injectPayload(req) })
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      const problems = responseProblems(op, req, res, schemas)
      if (res.statusCode >= 400 && res.statusCode < 500) {
        const after = await world.snapshot()
        if (after !== before) problems.push(`a ${res.statusCode} changed the stores: ${world.tokenCalls().join('; ') || 'user store or outbox'}\n    before ${before.slice(0, 1500)}\n    after  ${after.slice(0, 1500)}`)
      }
      problems.push(...await world.invariants())
      if (prototypeFingerprint() !== prototypesBefore) problems.push('a built-in prototype has new keys')
      const probe = {} as Record<string, unknown>
      const polluted = POLLUTION_PROBES.filter((key) => probe[key] !== undefined)
      if (polluted.length > 0) problems.push(`({}).${polluted.join(', ')} is defined`)
      if (problems.length > 0) throw new Error(`${describe(req, res)}\n  - ${problems.join('\n  - ')}`)
    })
    const details = await fc.check(property, { seed: SEED, numRuns: RUNS })
    if (details.failed) await reportFailure(t, name, details)
    else t.pass(`${name}: ${details.numRuns} requests`)
    t.comment(`${name}: ${[...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(' ')}`)
  })
}

/**
 * The router answers some path parameters before any route runs: escapes that are not UTF-8 (400
 * FST_ERR_BAD_URL) and parameters over maxParamLength (414). Only the Fastify instance's
 * `frameworkErrors` option can put those in djoser's shape, so this runs against the example server
 * itself (lib/app.ts), which owns that instance.
 */
t.test('GET /auth/users/{id}/ on the example server: parameters the router refuses', async t => {
  const app = await buildServer({ DATA_DIR: t.testdir(), DATABASE_URL: 'sqlite::memory:', JWT_SECRET: SECRET }, { logger: false })
  t.teardown(() => app.close())
  const statuses = new Map<number, number>()
  const property = fc.asyncProperty(fc.limitShrink(routerErrorParamArb(), 200), authArb(world, true), async (param, auth) => {
    const res = await app.inject({ method: 'GET', url: `/auth/users/${param}/`, headers: auth.value === undefined ? {} : { authorization: auth.value } })
    statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
    const problems: string[] = []
    if (res.statusCode >= 500 || res.statusCode < 400) problems.push(`a ${res.statusCode}`)
    if (!/^application\/json(;|$)/.test(String(res.headers['content-type']))) problems.push(`content-type ${String(res.headers['content-type'])}`)
    let body: unknown
    try { body = JSON.parse(res.body) } catch { problems.push('the body is not JSON') }
    problems.push(...djoserErrorProblems(body))
    if (problems.length > 0) throw new Error(`GET /auth/users/${param.slice(0, 120)}/ → ${res.statusCode} ${res.body.slice(0, 400)}\n  - ${problems.join('\n  - ')}`)
  })
  const details = await fc.check(property, { seed: SEED, numRuns: Math.max(10, Math.ceil(RUNS / 3)) })
  if (details.failed) await reportFailure(t, 'GET /auth/users/{id}/ (router errors)', details)
  else t.pass(`${details.numRuns} requests`)
  t.comment(`router errors: ${[...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(' ')}`)
})

t.test('no built-in prototype was polluted by the whole run', async t => {
  t.equal(prototypeFingerprint(), prototypesBefore, 'Object, Array, Function, String, Number and Boolean prototypes have no new keys')
  const probe = {} as Record<string, unknown>
  for (const key of POLLUTION_PROBES) t.equal(probe[key], undefined, `({}).${key}`)
  t.equal(Object.getPrototypeOf({}), Object.prototype)
  const total = [...seen.values()].reduce((sum, m) => sum + [...m.values()].reduce((a, b) => a + b, 0), 0)
  t.comment(`${total} requests over ${seen.size} operations (FUZZ_RUNS=${RUNS}, FUZZ_SEED=${SEED})`)
})
