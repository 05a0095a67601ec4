// fastify-accounts/testing's node:test runner: runStoreContract drives the store contract with node:test
// and node:assert, passes on the memory stores, and fails, naming the case, on a broken store. The fixture
// runs through node:test's own `run` (one child process, as `node --test` would run it; the child inherits
// this process's flags, so tap's TypeScript loader too), and its reported events are checked here.
import { run } from 'node:test'
import { fileURLToPath } from 'node:url'
import t from 'tap'

interface Reported { name: string, ok: boolean, error?: { message?: string, cause?: { code?: string } } }

const fixture = fileURLToPath(new URL('./fixtures/store-contract-node.ts', import.meta.url))

// In report order a test comes after its subtests, so each contract's cases are the results since the previous top-level one.
const reported: Reported[] = []
let diagnostics: string[] = []
for await (const event of run({ files: [fixture], timeout: 60_000 })) {
  const { type, data } = event as { type: string, data: { name: string, message: string, details?: { error?: Reported['error'] } } }
  if (type === 'test:pass' || type === 'test:fail') {
    reported.push({ name: data.name, ok: type === 'test:pass', error: data.details?.error })
  } else if (type === 'test:diagnostic') {
    diagnostics = [...diagnostics, data.message]
  }
}

const contracts = new Map<string, { ok: boolean, cases: Reported[] }>()
let pending: Reported[] = []
for (const result of reported) {
  if (result.name.endsWith(' store contract')) {
    contracts.set(result.name, { ok: result.ok, cases: pending })
    pending = []
  } else {
    pending.push(result)
  }
}
const names = (cases: Reported[]): string[] => cases.map((c) => c.name)

t.test('the memory stores pass the contract under node:test', async (t) => {
  const memory = contracts.get('memory store contract')
  t.ok(memory?.ok, 'the contract test passed')
  t.ok((memory?.cases.length ?? 0) > 20, 'every case ran as a subtest of its own')
  t.equal(memory?.cases[0]?.name, 'createUser stores every field and numbers ids from 1', 'in the order declared')
  t.same(names(memory?.cases.filter((c) => !c.ok) ?? []), [], 'no case failed')
})

t.test('a store with a case-sensitive email lookup fails, naming the cases', async (t) => {
  const broken = contracts.get('case-sensitive email store contract')
  t.equal(broken?.ok, false, 'the contract test failed')
  t.same(names(broken?.cases ?? []), names(contracts.get('memory store contract')?.cases ?? []), 'the same cases ran')
  const failed = broken?.cases.filter((c) => !c.ok) ?? []
  t.same(names(failed), [
    'lookups: email in any case, username exactly',
    'updateUser applies a patch and keeps lookups in step'
  ], 'exactly the cases that look an email up in another case failed')
  for (const c of failed) t.equal(c.error?.cause?.code, 'ERR_ASSERTION', `${c.name}: failed by an assertion`)
  t.match(failed[0]?.error?.message ?? '', /strictly deep-equal/, 'the report shows the difference')
})

t.test('every case closed its stores, failed ones too', async (t) => {
  t.same(reported.filter((r) => r.name === 'every case closed the stores it opened').map((r) => r.ok), [true])
})

t.test('the run counts the failures', async (t) => {
  t.ok(diagnostics.includes('fail 3'), 'two cases and their contract test')
})
