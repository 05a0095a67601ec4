import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { buildServer, hasDevMailbox, logDestination } from '../example/app.js'
import { DevMailbox, devMailRoutes, mailLinks, MAILBOX_CONTENT_SECURITY_POLICY } from '../example/dev-mailbox.js'
import { smtpServer } from './helpers/smtp.js'

const PASSWORD = 'correct-horse-battery-staple'
/** Cheap argon2id for tests (the example's defaults stay at the OWASP minimum). */
const FAST = { argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } }

interface LogLine { level: number, msg: string, mail?: { to: string, subject: string, links: string[] } }

function recorder (): { lines: LogLine[], info (obj: object, msg: string): void } {
  const lines: LogLine[] = []
  return { lines, info (obj, msg) { lines.push({ level: 30, msg, ...obj }) } }
}

/** The example server with a captured JSON log; closed when the test ends. */
async function server (t: Test, env: NodeJS.ProcessEnv = {}): Promise<{ app: FastifyInstance, log: LogLine[] }> {
  const dir = t.testdir()
  const config = join(dir, 'accounts.json')
  writeFileSync(config, JSON.stringify(FAST))
  const log: LogLine[] = []
  const app = await buildServer({ DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:', ACCOUNTS_CONFIG: config, ...env }, {
    logStream: { write (line: string) { log.push(JSON.parse(line) as LogLine) } }
  })
  t.teardown(() => app.close())
  return { app, log }
}

async function register (app: FastifyInstance, username: string): Promise<void> {
  const res = await app.inject({ method: 'POST', url: '/auth/users/', payload: { username, email: `${username}@example.com`, password: PASSWORD } })
  if (res.statusCode !== 201) throw new Error(res.body)
}

/** An app serving only the mailbox page. */
async function mailboxApp (t: Test, mailbox: DevMailbox): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  await app.register(devMailRoutes(mailbox, { stylesheet: '/style.css', navLinks: [{ href: '/', label: 'Account pages' }] }))
  t.teardown(() => app.close())
  return app
}

t.test('the example server without SMTP_URL: mails land in /dev/mail, with their links clickable', async t => {
  const { app, log } = await server(t)
  const empty = await app.inject({ method: 'GET', url: '/dev/mail' })
  t.equal(empty.statusCode, 200)
  t.match(empty.body, /No mail yet/)

  await register(app, 'alice')
  const res = await app.inject({ method: 'GET', url: '/dev/mail' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/html; charset=utf-8/)
  t.equal(res.headers['content-security-policy'], MAILBOX_CONTENT_SECURITY_POLICY, 'a strict CSP: no script at all')
  t.equal(res.headers['cache-control'], 'no-store', 'live links are not cached')
  t.notMatch(res.body, /<script/i)
  t.match(res.body, /<h2 id="mail-1">Account activation on fastify-accounts<\/h2>/)
  t.match(res.body, /To alice@example\.com/)
  const link = /<a href="(http:\/\/localhost:3000\/#\/activate\/[^/"]+\/[^/"]+)">\1<\/a>/.exec(res.body)
  t.ok(link, 'the activation link is an anchor to the pages at / of this server')
  t.match(res.body, /<link rel="stylesheet" href="\/style.css">/, 'styled by the UI\'s sheet')

  const page = await app.inject({ method: 'GET', url: '/' })
  t.equal(page.statusCode, 200, 'and the link opens a page this server serves')
  t.match(page.body, /<script type="module" src="app.js"><\/script>/)

  const mailLines = log.filter((line) => line.mail !== undefined)
  t.equal(mailLines.length, 1, 'one log line per mail')
  t.equal(mailLines[0].level, 30)
  t.equal(mailLines[0].msg, `mail to alice@example.com, "Account activation on fastify-accounts": ${link?.[1]} (mailbox: http://localhost:3000/dev/mail)`,
    'a readable line with the link and where the mailbox is')
  t.same(mailLines[0].mail, { to: 'alice@example.com', subject: 'Account activation on fastify-accounts', links: [link?.[1]] }, 'and the fields for a JSON log')
  t.notOk(log.some((line) => /logged, not sent/.test(line.msg)), 'the console mailer is not used')

  await register(app, 'bob')
  const two = await app.inject({ method: 'GET', url: '/dev/mail' })
  t.ok(two.body.indexOf('To bob@example.com') < two.body.indexOf('To alice@example.com'), 'newest first')
})

t.test('a mailbox on a server others can reach is warned about', async t => {
  const { log } = await server(t, { HOST: '0.0.0.0' })
  t.ok(log.some((line) => line.level === 40 && /HOST is 0\.0\.0\.0: anyone who reaches this server can read \/dev\/mail/.test(line.msg)))
  const local = await server(t, { HOST: '127.0.0.1' })
  t.notOk(local.log.some((line) => line.level === 40), 'not on the loopback address')
})

t.test('PORT moves the mailed links with the server', async t => {
  const { app } = await server(t, { PORT: '4010' })
  await register(app, 'alice')
  const res = await app.inject({ method: 'GET', url: '/dev/mail' })
  t.match(res.body, /href="http:\/\/localhost:4010\/#\/activate\//)
})

t.test('no mailbox with SMTP_URL: mail goes to the SMTP server', async t => {
  const smtp = await smtpServer(t)
  const { app, log } = await server(t, { SMTP_URL: smtp.url })
  await register(app, 'alice')
  t.equal(smtp.received.length, 1, 'sent over SMTP')
  const res = await app.inject({ method: 'GET', url: '/dev/mail' })
  t.equal(res.statusCode, 404)
  t.same(JSON.parse(res.body), { detail: 'Not found.' })
  t.notOk(log.some((line) => line.mail !== undefined), 'no mail line in the log')
  const nav = JSON.parse((await app.inject({ method: 'GET', url: '/config.json' })).body) as { navLinks: Array<{ href: string }> }
  t.notOk(nav.navLinks.some((l) => l.href === '/dev/mail'), 'the pages do not link to it')
})

t.test('no mailbox in production (NODE_ENV=production), even without SMTP_URL', async t => {
  const { app, log } = await server(t, { NODE_ENV: 'production' })
  await register(app, 'alice')
  t.equal((await app.inject({ method: 'GET', url: '/dev/mail' })).statusCode, 404)
  t.ok(log.some((line) => /logged, not sent/.test(line.msg)), 'the plugin\'s console mailer takes the mail, as before')
  t.equal(hasDevMailbox({ NODE_ENV: 'production' }), false)
  t.equal(hasDevMailbox({ SMTP_URL: 'smtp://x' }), false)
  t.equal(hasDevMailbox({ SMTP_URL: '' }), true)
  t.equal(hasDevMailbox({}), true)
})

t.test('the page escapes everything a mail holds, and links only http(s) URLs', async t => {
  const mailbox = new DevMailbox(recorder())
  await mailbox.send({
    to: '"<b>x</b>"@example.com',
    subject: 'Hi <script>alert(1)</script> & co',
    text: 'Open http://localhost:3000/#/a?x=1&y=2 or <img src=x onerror=alert(1)>\njavascript:alert(1) https://example.com/"onmouseover="x'
  })
  const app = await mailboxApp(t, mailbox)
  const res = await app.inject({ method: 'GET', url: '/dev/mail' })
  t.equal(res.statusCode, 200)
  t.notMatch(res.body, /<script>alert|<img|<b>x/, 'no markup from the mail')
  t.match(res.body, /Hi &lt;script&gt;alert\(1\)&lt;\/script&gt; &amp; co/)
  t.match(res.body, /To &quot;&lt;b&gt;x&lt;\/b&gt;&quot;@example\.com/)
  t.match(res.body, /<a href="http:\/\/localhost:3000\/#\/a\?x=1&amp;y=2">http:\/\/localhost:3000\/#\/a\?x=1&amp;y=2<\/a>/, 'the & of a link is escaped in the attribute')
  t.match(res.body, /<a href="https:\/\/example\.com\/">https:\/\/example\.com\/<\/a>&quot;onmouseover=&quot;x/, 'a quote ends the link: no attribute injection')
  t.notMatch(res.body, /href="javascript:/, 'javascript: is text, not a link')
  t.same(mailLinks('a http://a.example/x, b https://b.example/y\nftp://c'), ['http://a.example/x', 'https://b.example/y'], 'a comma after a link is not part of it')
})

t.test('the mailbox keeps the last 50 mails', async t => {
  const logger = recorder()
  const mailbox = new DevMailbox(logger)
  for (let i = 1; i <= 60; i++) await mailbox.send({ to: `u${i}@example.com`, subject: `mail ${i}`, text: `link http://localhost/${i}` })
  const kept = mailbox.list()
  t.equal(kept.length, 50, 'bounded')
  t.equal(kept[0].subject, 'mail 60', 'newest first')
  t.equal(kept[49].subject, 'mail 11', 'the oldest went first')
  t.same(kept[0].links, ['http://localhost/60'])
  t.equal(logger.lines.length, 60, 'each mail was logged all the same')
  t.equal(logger.lines[0].msg, 'mail to u1@example.com, "mail 1": http://localhost/1', 'without a page URL the line names just the link')
  const app = await mailboxApp(t, mailbox)
  const body = (await app.inject({ method: 'GET', url: '/dev/mail' })).body
  t.equal(body.match(/<article class="mail"/g)?.length, 50, 'the page lists 50')
  t.notMatch(body, />mail 10</)

  const small = new DevMailbox(recorder(), { limit: 2 })
  for (const n of [1, 2, 3]) await small.send({ to: 'a@example.com', subject: `s${n}`, text: 'no link' })
  t.same(small.list().map((m) => m.subject), ['s3', 's2'])
  t.same(small.list()[0].links, [])
})

t.test('logs: pretty on a terminal outside production, JSON otherwise', async t => {
  const pretty = await logDestination({}, true)
  t.ok(pretty, 'pino-pretty on a terminal')
  t.type(pretty?.write, 'function')
  t.equal(await logDestination({}, false), undefined, 'JSON lines when stdout is not a terminal')
  t.equal(await logDestination({ NODE_ENV: 'production' }, true), undefined, 'JSON in production')
})
