import t from 'tap'
import { maskEmail } from '../lib/mail/templates.js'
import type { MailMessage } from '../lib/ports.js'
import { activeUser, buildApp, json, linkFrom, PASSWORD, type TestApp } from './helpers/app.js'
import { buildDjRestAuthApp, dra, registered, tokenKey } from './helpers/dj-rest-auth.js'
import { assertFieldErrors, bearer, send } from './helpers/users.js'

const ME = '/auth/users/me/'
const OLD = 'alice@example.com'
const NEW = 'newbox@example.org'
const MASKED = 'n***x@e***.org'
const SUBJECT = /Your email address has been changed/

type Options = Parameters<typeof buildApp>[0]

async function withAlice (options: Options = {}): Promise<{ a: TestApp, access: string, id: number }> {
  const a = await buildApp({ sendActivationEmail: false, ...options })
  const { access, id } = await activeUser(a)
  a.mailer.clear()
  return { a, access, id }
}

/** Every mail on its way in the background has reached the mailer. */
async function settled (a: TestApp): Promise<void> {
  await a.app.accounts.users.mailsSent()
}

function notices (a: TestApp, to = OLD): MailMessage[] {
  return a.mailer.outbox.filter((mail) => mail.to === to && SUBJECT.test(mail.subject))
}

t.test('maskEmail', async t => {
  t.equal(maskEmail('alice@example.com'), 'a***e@e***.com')
  t.equal(maskEmail(NEW), MASKED)
  t.equal(maskEmail('al@x.org'), 'a***@x***.org', 'a short local part keeps only its first letter')
  t.equal(maskEmail('a@mail.example.co.uk'), 'a***@m***.uk', 'only the last label of the domain')
  t.equal(maskEmail('bob@localhost'), 'b***b@l***', 'a domain without a dot')
  t.equal(maskEmail('émilie@exämple.de'), 'é***e@e***.de')
  t.equal(maskEmail('😀x😀@🙂.com'), '😀***😀@🙂***.com', 'whole code points, never half a surrogate pair')
})

t.test('djoser users/me/: the old address is told, with the new one masked', async t => {
  for (const method of ['PATCH', 'PUT'] as const) {
    t.test(method, async t => {
      const { a, access, id } = await withAlice()
      t.teardown(async () => { await a.app.close() })
      const res = await send(a, method, ME, { email: NEW }, bearer(access))
      t.equal(res.statusCode, 200, res.body)
      t.same(json(res), { id, username: 'alice', email: NEW })
      await settled(a)
      const sent = notices(a)
      t.equal(sent.length, 1, 'one notice to the old address')
      t.match(sent[0].text, MASKED)
      t.match(sent[0].html ?? '', MASKED)
      t.notMatch(sent[0].text, NEW, 'the new address is not given away whole')
      t.match(sent[0].text, /alice/)
      t.equal(a.mailer.outbox.filter((mail) => mail.to === NEW).length, 0, 'nothing to the new address without activation')
    })
  }

  t.test('app.close() waits for the notice', async t => {
    const { a, access } = await withAlice()
    t.equal((await send(a, 'PATCH', ME, { email: NEW }, bearer(access))).statusCode, 200)
    await a.app.close()
    t.equal(notices(a).length, 1)
  })

  t.test('no mail when the email is unchanged (or changes only in the case of its domain)', async t => {
    const { a, access } = await withAlice()
    t.teardown(async () => { await a.app.close() })
    t.equal((await send(a, 'PATCH', ME, { email: OLD }, bearer(access))).statusCode, 200)
    t.equal((await send(a, 'PUT', ME, { email: 'alice@EXAMPLE.com' }, bearer(access))).statusCode, 200)
    t.equal((await send(a, 'PATCH', ME, {}, bearer(access))).statusCode, 200)
    await settled(a)
    t.same(a.mailer.outbox, [])
  })

  t.test('no mail with emailChangedEmailConfirmation: false', async t => {
    const { a, access } = await withAlice({ emailChangedEmailConfirmation: false })
    t.teardown(async () => { await a.app.close() })
    t.equal((await send(a, 'PATCH', ME, { email: NEW }, bearer(access))).statusCode, 200)
    await settled(a)
    t.same(a.mailer.outbox, [])
  })

  t.test('a refused change (taken address) mails nobody', async t => {
    const { a, access } = await withAlice()
    t.teardown(async () => { await a.app.close() })
    await activeUser(a, 'bob', NEW)
    a.mailer.clear()
    assertFieldErrors(t, await send(a, 'PATCH', ME, { email: NEW }, bearer(access)), ['email'])
    await settled(a)
    t.same(a.mailer.outbox, [])
  })

  t.test('a failing mailer does not fail the change', async t => {
    const { a, access } = await withAlice()
    t.teardown(async () => { await a.app.close() })
    a.mailer.send = async () => { throw new Error('smtp down') }
    t.equal((await send(a, 'PATCH', ME, { email: NEW }, bearer(access))).statusCode, 200)
    await settled(a)
    t.equal((await a.users.findUserById(1))?.email, NEW)
  })
})

t.test('with sendActivationEmail: the account waits for the new address, the old one is told', async t => {
  const a = await buildApp()
  t.teardown(async () => { await a.app.close() })
  const { access } = await activeUser(a)
  a.mailer.clear()
  const res = await send(a, 'PATCH', ME, { email: NEW }, bearer(access))
  t.equal(res.statusCode, 200, res.body)
  await settled(a)
  t.equal((await a.users.findUserById(1))?.isActive, false, 'deactivated until the new address is confirmed')
  t.equal(notices(a).length, 1, 'the notice went to the old address')
  t.match(notices(a)[0].text, MASKED)
  t.equal(a.mailer.outbox.filter((mail) => mail.to === OLD).length, 1, 'the old address gets the notice only, no link')
  const link = linkFrom(a.mailer, NEW)
  t.equal((await send(a, 'POST', '/auth/users/activation/', link)).statusCode, 204)
  t.equal((await send(a, 'POST', '/auth/jwt/create/', { username: 'alice', password: PASSWORD })).statusCode, 200)
})

t.test("loginField 'email': set_email and reset_email_confirm tell the old address", async t => {
  async function emailLogin (): Promise<{ a: TestApp, access: string }> {
    const a = await buildApp({ loginField: 'email', sendActivationEmail: false })
    t.teardown(async () => { await a.app.close() })
    t.equal((await send(a, 'POST', '/auth/users/', { username: 'alice', email: OLD, password: PASSWORD })).statusCode, 201)
    const login = await send(a, 'POST', '/auth/jwt/create/', { email: OLD, password: PASSWORD })
    t.equal(login.statusCode, 200, login.body)
    a.mailer.clear()
    return { a, access: (json(login) as { access: string }).access }
  }

  t.test('set_email', async t => {
    const { a, access } = await emailLogin()
    const res = await send(a, 'POST', '/auth/users/set_email/', { new_email: NEW, current_password: PASSWORD }, bearer(access))
    t.equal(res.statusCode, 204, res.body)
    await settled(a)
    t.equal(notices(a).length, 1)
    t.match(notices(a)[0].text, MASKED)
  })

  t.test('reset_email_confirm', async t => {
    const { a } = await emailLogin()
    t.equal((await send(a, 'POST', '/auth/users/reset_email/', { email: OLD })).statusCode, 204)
    await settled(a)
    const link = linkFrom(a.mailer, OLD)
    a.mailer.clear()
    const res = await send(a, 'POST', '/auth/users/reset_email_confirm/', { ...link, new_email: NEW })
    t.equal(res.statusCode, 204, res.body)
    await settled(a)
    t.equal(notices(a).length, 1)
  })

  t.test('set_email to the same address (domain case only) tells nobody', async t => {
    const { a, access } = await emailLogin()
    const res = await send(a, 'POST', '/auth/users/set_email/', { new_email: 'alice@EXAMPLE.COM', current_password: PASSWORD }, bearer(access))
    t.equal(res.statusCode, 204, res.body)
    await settled(a)
    t.same(notices(a), [])
  })
})

t.test('emailChangeRequiresPassword', async t => {
  const REQUIRED = { emailChangeRequiresPassword: true }

  t.test('off by default: no password needed (djoser)', async t => {
    const { a, access } = await withAlice()
    t.teardown(async () => { await a.app.close() })
    t.equal((await send(a, 'PATCH', ME, { email: NEW }, bearer(access))).statusCode, 200)
  })

  t.test('missing: 400 {current_password}, unchanged', async t => {
    const { a, access } = await withAlice(REQUIRED)
    t.teardown(async () => { await a.app.close() })
    for (const method of ['PATCH', 'PUT'] as const) {
      const res = await send(a, method, ME, { email: NEW }, bearer(access))
      const errors = assertFieldErrors(t, res, ['current_password'])
      t.same(errors.current_password, ['This field is required.'])
    }
    t.equal((await a.users.findUserById(1))?.email, OLD)
    await settled(a)
    t.same(a.mailer.outbox, [])
  })

  t.test('wrong: 400 {current_password}, unchanged', async t => {
    const { a, access } = await withAlice(REQUIRED)
    t.teardown(async () => { await a.app.close() })
    const res = await send(a, 'PATCH', ME, { email: NEW, current_password: 'not-my-password' }, bearer(access))
    const errors = assertFieldErrors(t, res, ['current_password'])
    t.same(errors.current_password, ['Invalid password.'])
    t.equal((await a.users.findUserById(1))?.email, OLD)
    await settled(a)
    t.same(a.mailer.outbox, [])
  })

  t.test('wrong password and an invalid email are reported together', async t => {
    const { a, access } = await withAlice(REQUIRED)
    t.teardown(async () => { await a.app.close() })
    assertFieldErrors(t, await send(a, 'PATCH', ME, { email: 'not-an-email', current_password: 'nope' }, bearer(access)), ['current_password', 'email'])
  })

  t.test('right: 200, changed, the old address told', async t => {
    const { a, access, id } = await withAlice(REQUIRED)
    t.teardown(async () => { await a.app.close() })
    for (const [method, email] of [['PATCH', NEW], ['PUT', 'third@example.net']] as const) {
      const res = await send(a, method, ME, { email, current_password: PASSWORD }, bearer(access))
      t.equal(res.statusCode, 200, res.body)
      t.same(json(res), { id, username: 'alice', email })
    }
    await settled(a)
    t.equal(notices(a, OLD).length, 1)
    t.equal(notices(a, NEW).length, 1)
    t.match(notices(a, NEW)[0].text, 't***d@e***.net')
  })

  t.test('an unchanged email needs no password', async t => {
    const { a, access } = await withAlice(REQUIRED)
    t.teardown(async () => { await a.app.close() })
    t.equal((await send(a, 'PATCH', ME, { email: OLD }, bearer(access))).statusCode, 200)
    t.equal((await send(a, 'PUT', ME, { email: 'alice@Example.COM' }, bearer(access))).statusCode, 200)
    t.equal((await send(a, 'PATCH', ME, {}, bearer(access))).statusCode, 200)
  })

  t.test('wrong current_passwords end in 429; missing ones and right ones do not count', async t => {
    const { a, access } = await withAlice({
      ...REQUIRED, rateLimit: { perIp: { max: 100, timeWindow: 60 }, perAccountFailures: { max: 3, timeWindow: 60 } }
    })
    t.teardown(async () => { await a.app.close() })
    for (let i = 0; i < 5; i++) t.equal((await send(a, 'PATCH', ME, { email: NEW }, bearer(access))).statusCode, 400, 'missing')
    for (let i = 0; i < 5; i++) t.equal((await send(a, 'PATCH', ME, { email: OLD }, bearer(access))).statusCode, 200, 'unchanged')
    for (let i = 0; i < 3; i++) {
      t.equal((await send(a, 'PATCH', ME, { email: NEW, current_password: `wrong-${i}` }, bearer(access))).statusCode, 400, 'wrong')
    }
    const throttled = await send(a, 'PATCH', ME, { email: NEW, current_password: PASSWORD }, bearer(access))
    t.equal(throttled.statusCode, 429, 'even with the right password')
    t.ok(Number(throttled.headers['retry-after']) > 0)
    t.equal((await a.users.findUserById(1))?.email, OLD)
    // The budget is the account's: set_password's current_password shares it.
    t.equal((await send(a, 'POST', '/auth/users/set_password/', { new_password: 'another-horse-battery', current_password: PASSWORD }, bearer(access))).statusCode, 429)
  })
})

t.test('dj-rest-auth user/: the email is read-only there, so it never changes and nobody is mailed', async t => {
  const a = await buildDjRestAuthApp({}, { core: { emailChangeRequiresPassword: true } })
  t.teardown(async () => { await a.app.close() })
  await registered(a)
  const key = await tokenKey(a)
  a.mailer.clear()
  for (const method of ['PATCH', 'PUT'] as const) {
    const res = await dra(a, method, '/user/', { username: 'alice', email: NEW }, { authorization: `Token ${key}` })
    t.equal(res.statusCode, 200, res.body)
    t.equal((json(res) as { email: string }).email, OLD)
  }
  await a.app.accounts.users.mailsSent()
  t.same(a.mailer.outbox, [])
  t.equal((await a.users.findUserById(1))?.email, OLD)
})

t.test('OpenAPI with emailChangeRequiresPassword: current_password is an optional body field, and the document validates', async t => {
  const { default: Fastify } = await import('fastify')
  const { default: swagger } = await import('@fastify/swagger')
  const { default: SwaggerParser } = await import('@apidevtools/swagger-parser')
  const { default: accounts, MemoryMailer } = await import('../lib/index.js')
  const { swaggerOptions } = await import('../lib/http/openapi.js')
  const { fastHasher, SECRET } = await import('./helpers/app.js')
  const app = Fastify({ logger: false })
  t.teardown(async () => { await app.close() })
  await app.register(swagger, swaggerOptions({ title: 'x', version: '1.0.0', description: 'x' }))
  await app.register(accounts, {
    prefix: '/auth', mailer: new MemoryMailer(), passwordHasher: fastHasher, emailChangeRequiresPassword: true, jwt: { signingKey: SECRET }
  })
  await app.ready()
  type Body = { properties: Record<string, unknown>, required?: string[] }
  const doc = app.swagger() as unknown as { paths: Record<string, Record<string, { requestBody: { content: Record<string, { schema: Body }> } }>> }
  for (const method of ['put', 'patch']) {
    const schema = doc.paths['/auth/users/me/'][method].requestBody.content['application/json'].schema
    t.ok(schema.properties.current_password, `${method}: current_password in the body`)
    t.notOk(schema.required?.includes('current_password'), `${method}: optional`)
  }
  t.ok(await SwaggerParser.validate(structuredClone(doc) as never), 'swagger-parser validates it')
})
