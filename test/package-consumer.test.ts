// The package as a user gets it: `npm pack` (its prepack builds dist/), installed into scratch projects in the
// system's temp directory that have nothing else but fastify, typescript 6.0, @types/node and what the
// consumer itself uses, type-checked strictly (`strict`, `skipLibCheck: false`) and run with node.
//
// - consumer A (fixtures/consumer/consumer.mts, with pg): the plugin on PostgreSQL from
//   fastify-accounts/stores/postgres, app.authenticate, request.user and requireUser; the optional packages it
//   did not install fail with their names; exactly one fastify in its tree; the `bin` entries work; the types
//   of every subpath compile without any driver's @types (fixtures/consumer/subpaths.mts). And
//   fixtures/consumer/jwt-verify.mts must fail to compile: nothing declares request.jwtVerify & co.
// - consumer B (fixtures/consumer/beside-jwt.mts, with @fastify/jwt, on fastify 5.0.0, the lowest version the
//   peer range allows, while A runs the newest): @fastify/jwt keeps request.user,
//   request.jwtVerify and app.jwt; the plugin's decorators are renamed through AccountsDecoratorNames and the
//   `decorators` option; both kinds of token work on their own routes.
//
// One `npm pack` and one `npm install` per scratch project (npm's cache is warm; --prefer-offline), the two
// installs and the three compilations in parallel, all in t.before. Child processes get an environment
// without npm's and tap's variables, and run through `env -u NODE_OPTIONS`: tap's process tracker adds
// itself to every child's NODE_OPTIONS, and the packed code is not this repository's source to cover.
import { execFile } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { dropSchema, PG_URL, uniqueName } from './helpers/services.js'

t.setTimeout(240_000)

const root = fileURLToPath(new URL('..', import.meta.url))
const fixtures = fileURLToPath(new URL('./fixtures/consumer/', import.meta.url))
const repoPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string
  version: string
  exports: Record<string, string | { types: string, import: string }>
  bin: Record<string, string>
  devDependencies: Record<string, string>
}

const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) =>
  !/^npm_/i.test(key) && !/^_?TAP/i.test(key) && key !== 'NODE_OPTIONS'))

interface Run { code: number, stdout: string, stderr: string, ms: number }

/** Runs a command outside tap's tracking; resolves (never rejects) with its exit code and output. */
async function run (file: string, args: string[], options: { cwd: string, env?: NodeJS.ProcessEnv }): Promise<Run> {
  const started = Date.now()
  return await new Promise((resolve) => {
    execFile('env', ['-u', 'NODE_OPTIONS', file, ...args], { cwd: options.cwd, env: { ...env, ...options.env }, maxBuffer: 64 * 1024 * 1024, timeout: 180_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1
      resolve({ code, stdout, stderr: stderr + (error !== null && typeof error.code !== 'number' ? `\n${error.message}` : ''), ms: Date.now() - started })
    })
  })
}

function outputOf (r: Run): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`
}

/** Every installed copy of package `name` under `dir`'s node_modules, nested ones included. */
function copiesOf (dir: string, name: string): string[] {
  const found: string[] = []
  const modules = join(dir, 'node_modules')
  if (!existsSync(modules)) return found
  const visit = (pkg: string): void => {
    const manifest = join(pkg, 'package.json')
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === name) found.push(pkg)
    found.push(...copiesOf(pkg, name))
  }
  for (const entry of readdirSync(modules)) {
    if (entry.startsWith('.')) continue
    if (entry.startsWith('@')) for (const scoped of readdirSync(join(modules, entry))) visit(join(modules, entry, scoped))
    else visit(join(modules, entry))
  }
  return found
}

const timings: Record<string, number> = {}
const work = mkdtempSync(join(tmpdir(), 'fastify-accounts-consumer-'))
t.teardown(() => { rmSync(work, { recursive: true, force: true }) })
const schema = uniqueName('consumer')
t.teardown(async () => { await dropSchema(schema) })

const dev = repoPackage.devDependencies
/** The bottom of the `fastify` peer range: consumer B runs on it. */
const LOWEST_FASTIFY = '5.0.0'
const tarball = join(work, `${repoPackage.name}-${repoPackage.version}.tgz`)
const a = join(work, 'a')
const b = join(work, 'b')
let files: Array<{ path: string }> = []
let compiledA: Run
let compiledNegative: Run
let compiledB: Run

/** With `emit`, strictly and with the libraries' declarations checked too; without, only the listed files' errors matter. */
const tsconfig = (include: string[], emit: boolean): string => JSON.stringify({
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    // consumer A's own compile checks every declaration already; the negative compile only looks for its three errors.
    skipLibCheck: !emit,
    types: ['node'],
    rootDir: '.',
    ...(emit ? { outDir: 'dist' } : { noEmit: true })
  },
  files: include
}, null, 2)

/** A scratch project: the tarball, fastify, typescript, @types/node and `dependencies`, with `sources` copied in. */
function scratch (dir: string, dependencies: Record<string, string>, sources: string[]): void {
  mkdirSync(dir)
  const deps = { 'fastify-accounts': `file:${tarball}`, fastify: dev.fastify, typescript: dev.typescript, '@types/node': dev['@types/node'], ...dependencies }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `consumer-${dir.slice(-1)}`, private: true, type: 'module', dependencies: deps }, null, 2))
  for (const source of sources) copyFileSync(join(fixtures, source), join(dir, source))
}

const install = async (dir: string): Promise<Run> => await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir })
const tsc = async (dir: string, project: string): Promise<Run> =>
  await run(process.execPath, [join(dir, 'node_modules/typescript/bin/tsc'), '-p', project], { cwd: dir })

t.before(async () => {
  const packed = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: root })
  timings.pack = packed.ms
  if (packed.code !== 0) throw new Error(`npm pack failed: ${outputOf(packed)}`)
  files = (JSON.parse(packed.stdout.slice(packed.stdout.search(/^\[/m))) as Array<{ files: Array<{ path: string }> }>)[0].files

  scratch(a, { pg: dev.pg }, ['consumer.mts', 'subpaths.mts', 'jwt-verify.mts'])
  writeFileSync(join(a, 'tsconfig.json'), tsconfig(['consumer.mts', 'subpaths.mts'], true))
  writeFileSync(join(a, 'tsconfig.jwt-verify.json'), tsconfig(['jwt-verify.mts'], false))
  scratch(b, { '@fastify/jwt': dev['@fastify/jwt'], fastify: LOWEST_FASTIFY }, ['beside-jwt.mts'])
  writeFileSync(join(b, 'tsconfig.json'), tsconfig(['beside-jwt.mts'], true))

  const [installedA, installedB] = await Promise.all([install(a), install(b)])
  timings.installA = installedA.ms
  timings.installB = installedB.ms
  if (installedA.code !== 0) throw new Error(`npm install (consumer A) failed: ${outputOf(installedA)}`)
  if (installedB.code !== 0) throw new Error(`npm install (consumer B) failed: ${outputOf(installedB)}`)

  ;[compiledA, compiledNegative, compiledB] = await Promise.all([tsc(a, 'tsconfig.json'), tsc(a, 'tsconfig.jwt-verify.json'), tsc(b, 'tsconfig.json')])
  timings.tscA = compiledA.ms
  timings.tscNegative = compiledNegative.ms
  timings.tscB = compiledB.ms
})

t.test('the tarball: dist/lib, dist/schemas and dist/bin only, every export and bin present', async (t) => {
  t.ok(existsSync(tarball), 'npm pack wrote the tarball')
  const paths = files.map((f) => f.path)
  t.ok(paths.length > 50, `${paths.length} files`)
  const stray = paths.filter((p) => !/^dist\/(lib|schemas|bin)\//.test(p) && p !== 'dist/options.schema.json' &&
    !/^(package\.json|README\.md|LICENSE[^/]*)$/i.test(p))
  t.same(stray, [], 'nothing outside dist/lib, dist/schemas, dist/bin, the options\' JSON Schema (and what npm always adds)')
  t.same(paths.filter((p) => /(^|\/)(test|example|bench)(\/|$)|\.test\./.test(p)), [], 'no tests, example server or benchmarks')
  t.ok(paths.includes('dist/lib/ui/public/index.html') && paths.includes('dist/lib/ui/public/app.js'), 'the account pages\' static files, beside their plugin')
  for (const [subpath, target] of Object.entries(repoPackage.exports)) {
    const targets = typeof target === 'string' ? [target] : [target.types, target.import]
    for (const file of targets) t.ok(paths.includes(file.replace(/^\.\//, '')), `${subpath}: ${file} is in the tarball`)
  }
  for (const [name, file] of Object.entries(repoPackage.bin)) t.ok(paths.includes(file.replace(/^\.\//, '')), `bin ${name}: ${file}`)
})

t.test('consumer A: exactly one fastify, none of the optional packages it did not ask for', async (t) => {
  t.equal(copiesOf(a, 'fastify').length, 1, `one fastify: ${copiesOf(a, 'fastify').join(', ')}`)
  t.equal(copiesOf(b, 'fastify').length, 1, `one fastify beside @fastify/jwt too: ${copiesOf(b, 'fastify').join(', ')}`)
  t.equal((JSON.parse(readFileSync(join(b, 'node_modules/fastify/package.json'), 'utf8')) as { version: string }).version, LOWEST_FASTIFY, 'B runs on the lowest fastify the peer range allows')
  for (const name of ['better-sqlite3', 'ioredis', 'bcrypt', 'nodemailer', '@types/pg', '@types/better-sqlite3', '@fastify/swagger-ui']) {
    t.same(copiesOf(a, name), [], `${name} is not installed`)
  }
  t.equal(copiesOf(a, 'pg').length, 1, 'pg is, because the consumer asked for it')
})

t.test('consumer A compiles strictly (skipLibCheck false) and runs on PostgreSQL', async (t) => {
  t.equal(compiledA.code, 0, 'tsc passes (consumer.mts, and the types of every subpath)', { output: outputOf(compiledA) })
  if (compiledA.code !== 0) return
  const ran = await run(process.execPath, ['dist/consumer.mjs'], { cwd: a, env: { DATABASE_URL: PG_URL, CONSUMER_SCHEMA: schema } })
  timings.runA = ran.ms
  t.equal(ran.code, 0, 'it runs', { output: outputOf(ran) })
  if (ran.code !== 0) return
  const out = JSON.parse(ran.stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>
  t.match(out, {
    created: 201,
    activated: 204,
    login: 200,
    me: { status: 200, body: { username: 'carol', email: 'carol@example.com', id: Number } },
    anonymous: 401
  })
  const missing = out.missing as Record<string, string>
  t.equal(missing.sqlite, 'fastify-accounts: sqlite: URLs need the optional package better-sqlite3: npm install better-sqlite3')
  t.equal(missing.redis, 'fastify-accounts: redis:// URLs need the optional package ioredis: npm install ioredis')
  t.equal(missing.bcrypt, "fastify-accounts: Django's bcrypt and bcrypt_sha256 password hashes need the optional package bcrypt: npm install bcrypt")
  t.match(missing.smtp, /^Cannot find package 'nodemailer' imported from /, 'the SMTP subpath needs nodemailer (Node\'s own error names it)')
})

t.test('consumer A: request.jwtVerify, reply.jwtSign and app.jwt do not type-check without @fastify/jwt', async (t) => {
  t.not(compiledNegative.code, 0, 'tsc fails', { output: outputOf(compiledNegative) })
  const errors = (compiledNegative.stdout + compiledNegative.stderr).split('\n').filter((line) => /error TS\d+/.test(line))
  t.equal(errors.length, 3, 'three errors, no other', { errors })
  t.match(errors, [/TS2339: Property 'jwtVerify' does not exist/, /TS2339: Property 'jwtSign' does not exist/, /TS2339: Property 'jwt' does not exist/])
})

t.test('consumer A: the bin entries are installed and run; the options\' JSON Schema is there', async (t) => {
  const schemaFile = join(a, 'node_modules', repoPackage.name, 'dist/options.schema.json')
  t.match(JSON.parse(readFileSync(schemaFile, 'utf8')), { $id: /options\.schema\.json$/, type: 'object' }, 'fastify-accounts/options.schema.json')
  for (const [name, file] of Object.entries(repoPackage.bin)) {
    const installed = join(a, 'node_modules', repoPackage.name, file)
    t.ok((statSync(installed).mode & 0o111) !== 0, `${file} is executable`)
    t.ok(existsSync(join(a, 'node_modules/.bin', name)), `node_modules/.bin/${name}`)
  }
  const migrated = await run(join(a, 'node_modules/.bin/fastify-accounts-migrate'), [], { cwd: a, env: { DATABASE_URL: PG_URL, DATABASE_SCHEMA: schema } })
  t.equal(migrated.code, 0, 'fastify-accounts-migrate runs', { output: outputOf(migrated) })
  t.match(migrated.stdout, /is up to date/, 'the consumer\'s schema was migrated when it opened its store')
  const help = await run(join(a, 'node_modules/.bin/fastify-accounts-import-django'), ['--help'], { cwd: a })
  t.equal(help.code, 0, 'fastify-accounts-import-django --help runs', { output: outputOf(help) })
  t.match(help.stdout, /usage: /)
})

t.test('consumer B: beside @fastify/jwt, with the decorators renamed, compiles and both tokens work', async (t) => {
  t.equal(compiledB.code, 0, 'tsc passes', { output: outputOf(compiledB) })
  if (compiledB.code !== 0) return
  const ran = await run(process.execPath, ['dist/beside-jwt.mjs'], { cwd: b })
  timings.runB = ran.ms
  t.equal(ran.code, 0, 'it runs', { output: outputOf(ran) })
  if (ran.code !== 0) return
  const out = JSON.parse(ran.stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>
  t.match(out, {
    created: 201,
    activated: 204,
    login: 200,
    host: { status: 200, body: { host: { sub: 'service-7' } } },
    mine: { status: 200, body: { username: 'dora' } },
    ourTokenAtHost: 401,
    hostTokenAtMine: 401
  })
})

t.test('timings', async (t) => {
  t.pass(`ms: ${JSON.stringify(timings)}`)
})
