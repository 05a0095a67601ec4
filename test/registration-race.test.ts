/**
 * Concurrent registrations of the same username or email (any letter case) on two app instances sharing
 * PostgreSQL: one 201, the others 400 with the field's error; never a 500, never two rows.
 */
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { DuplicateUserError, type UserStore } from '../lib/ports.js'
import { createPostgresStores } from '../lib/stores/postgres.js'
import { PASSWORD } from './helpers/app.js'
import { body, buildInstance, PG_URL, serviceTest, testSchema, type Instance } from './helpers/services.js'

/** `users` with its createUser rejections counted: proof that the database, not the pre-check, settled a race. */
function counting (users: UserStore): { users: UserStore, duplicates: () => number } {
  let duplicates = 0
  const wrapped: UserStore = {
    createUser: async (data) => {
      try {
        return await users.createUser(data)
      } catch (error) {
        if (error instanceof DuplicateUserError) duplicates++
        throw error
      }
    },
    findUserById: async (id) => await users.findUserById(id),
    findUserByUsername: async (username) => await users.findUserByUsername(username),
    findUserByEmail: async (email) => await users.findUserByEmail(email),
    findUsersByUsernameIgnoringCase: async (username) => await users.findUsersByUsernameIgnoringCase(username),
    updateUser: async (id, patch, expect) => await users.updateUser(id, patch, expect),
    deleteUser: async (id) => await users.deleteUser(id),
    listUsers: async () => await users.listUsers()
  }
  return { users: wrapped, duplicates: () => duplicates }
}

function statuses (answers: LightMyRequestResponse[]): number[] {
  return answers.map((r) => r.statusCode).sort((x, y) => x - y)
}

function assertOneCreated (t: Test, answers: LightMyRequestResponse[], field: 'username' | 'email'): void {
  t.same(statuses(answers), [201, ...Array<number>(answers.length - 1).fill(400)], `one 201, ${answers.length - 1} × 400`)
  for (const res of answers.filter((r) => r.statusCode === 400)) {
    const errors = body(res)
    t.same(Object.keys(errors), [field], `the 400 names ${field} only (${res.body})`)
    t.ok(Array.isArray(errors[field]) && (errors[field] as unknown[]).every((m) => typeof m === 'string'), 'as a list of messages')
  }
}

await serviceTest(t, 'postgres: two instances registering at once', ['postgres'], async (t) => {
  const schema = testSchema(t)
  const storesA = await createPostgresStores(PG_URL, { schema })
  const storesB = await createPostgresStores(PG_URL, { schema })
  t.teardown(async () => { await Promise.all([storesA.close(), storesB.close()]) })
  const usersA = counting(storesA.users)
  const usersB = counting(storesB.users)
  const a = await buildInstance(t, { users: usersA.users, tokens: storesA.tokens })
  const b = await buildInstance(t, { users: usersB.users, tokens: storesB.tokens })
  const apps: Instance[] = [a, b]
  const register = async (i: number, username: string, email: string): Promise<LightMyRequestResponse> =>
    await apps[i % 2].post('/users/', { username, email, password: PASSWORD })
  const rows = async (where: (u: { username: string, email: string }) => boolean): Promise<number> =>
    (await storesA.users.listUsers()).filter(where).length

  t.test('the same username twice at once', async (t) => {
    for (let round = 0; round < 10; round++) {
      const username = `twin${round}`
      const answers = await Promise.all([register(0, username, `${username}-a@example.com`), register(1, username, `${username}-b@example.com`)])
      assertOneCreated(t, answers, 'username')
      t.equal(await rows((u) => u.username === username), 1, 'one row')
    }
  })

  t.test('the same email in another letter case twice at once', async (t) => {
    for (let round = 0; round < 10; round++) {
      const answers = await Promise.all([
        register(0, `mail${round}a`, `Same.Person${round}@Example.com`),
        register(1, `mail${round}b`, `same.person${round}@EXAMPLE.COM`)
      ])
      assertOneCreated(t, answers, 'email')
      t.equal(await rows((u) => u.email.toLowerCase() === `same.person${round}@example.com`), 1, 'one row')
    }
  })

  t.test('ten at once, five on each instance', async (t) => {
    const byName = await Promise.all(Array.from({ length: 10 }, async (_, i) => await register(i, 'crowd', `crowd${i}@example.com`)))
    assertOneCreated(t, byName, 'username')
    const byEmail = await Promise.all(Array.from({ length: 10 }, async (_, i) =>
      await register(i, `crowd${i}`, i % 2 === 0 ? 'CROWD@example.com' : 'crowd@EXAMPLE.com')))
    assertOneCreated(t, byEmail, 'email')
    t.equal(await rows((u) => u.username === 'crowd'), 1)
    t.equal(await rows((u) => u.email.toLowerCase() === 'crowd@example.com'), 1)
  })

  t.test('the database settled races the pre-check could not see', async (t) => {
    const duplicates = usersA.duplicates() + usersB.duplicates()
    t.ok(duplicates > 0, `${duplicates} createUser calls lost on the unique index and were answered 400`)
  })
})
