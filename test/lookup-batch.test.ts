import t from 'tap'
import pg from 'pg'
import { LookupBatch } from '../lib/stores/lookup-batch.js'
import { createPostgresStores } from '../lib/stores/postgres.js'
import { PG_URL, serviceTest, testSchema } from './helpers/services.js'

interface Row { id: number, name: string }

function counted (rows: Row[], fail = false): { batch: LookupBatch<number, Row>, calls: Array<[string, number[]]> } {
  const calls: Array<[string, number[]]> = []
  const batch = new LookupBatch<number, Row>(
    async (id) => {
      calls.push(['one', [id]])
      if (fail) throw new Error('database down')
      return rows.find((r) => r.id === id)
    },
    async (ids) => {
      calls.push(['many', ids])
      if (fail) throw new Error('database down')
      return new Map(rows.filter((r) => ids.includes(r.id)).map((r) => [r.id, { ...r }]))
    },
    (row) => ({ ...row }))
  return { batch, calls }
}

const rows: Row[] = [{ id: 1, name: 'one' }, { id: 2, name: 'two' }, { id: 3, name: 'three' }]

t.test('lookups of one turn of the event loop go out as one query, each caller gets its answer', async (t) => {
  const { batch, calls } = counted(rows)
  const answers = await Promise.all([batch.load(1), batch.load(3), batch.load(404), batch.load(1)])
  t.same(calls, [['many', [1, 3, 404]]], 'one query, each key once')
  t.same(answers, [rows[0], rows[2], undefined, rows[0]], 'each its own row; an unknown key: undefined')
  t.not(answers[0], answers[3], 'two requests of the same key get objects of their own')
})

t.test('a lone lookup uses the single-key query; lookups of a later turn make a query of their own', async (t) => {
  const { batch, calls } = counted(rows)
  t.same(await batch.load(2), rows[1])
  t.same(await batch.load(404), undefined)
  t.same(await Promise.all([batch.load(1), batch.load(2)]), [rows[0], rows[1]])
  t.same(calls, [['one', [2]], ['one', [404]], ['many', [1, 2]]])
})

t.test('a failing query fails every lookup waiting on it, and the next turn queries again', async (t) => {
  const failing = counted(rows, true)
  const settled = await Promise.allSettled([failing.batch.load(1), failing.batch.load(2), failing.batch.load(2)])
  t.same(settled.map((s) => s.status), ['rejected', 'rejected', 'rejected'])
  t.match(settled[0], { reason: { message: 'database down' } })
  t.equal(failing.calls.length, 1)
  await t.rejects(failing.batch.load(3), { message: 'database down' }, 'a later lookup queries again')
  t.equal(failing.calls.length, 2)
})

await serviceTest(t, 'postgres', ['postgres'], async (t) => {
  t.test('PostgreSQL: concurrent user lookups are one query and answer each id with its own user', async (t) => {
    const schema = testSchema(t)
    const stores = await createPostgresStores(PG_URL, { schema, poolSize: 4 })
    t.teardown(stores.close)
    const made = await Promise.all(['ann', 'bob', 'cy'].map(async (name) =>
      await stores.users.createUser({ username: name, email: `${name}@example.com`, password: 'x', isActive: name !== 'cy' })))
    // Every query the pool's clients send, by its statement name.
    const sent: string[] = []
    const query = pg.Client.prototype.query
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const config = args[0] as { name?: string }
      if (typeof config === 'object' && config !== null && typeof config.name === 'string') sent.push(config.name)
      return (query as (...a: unknown[]) => unknown).apply(this, args)
    } as typeof query
    t.teardown(() => { pg.Client.prototype.query = query })
    const found = await Promise.all([...made.map((u) => stores.users.findUserById(u.id)), stores.users.findUserById(999_999), stores.users.findUserById(made[0].id)])
    t.same(found.map((u) => u?.username ?? null), ['ann', 'bob', 'cy', null, 'ann'])
    t.same(found.map((u) => u?.isActive ?? null), [true, true, false, null, true])
    t.not(found[0], found[4], 'the same user for two requests: two objects')
    t.same(sent, ['fastify_accounts_users_by_ids'], 'one query for five lookups')
    t.same((await stores.users.findUserById(made[1].id))?.email, 'bob@example.com', 'a lone lookup')
    t.same(sent, ['fastify_accounts_users_by_ids', 'fastify_accounts_user_by_id'], 'by the single-id statement')
  })
})
