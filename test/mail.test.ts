import { once } from 'node:events'
import { createServer, type AddressInfo } from 'node:net'
import t from 'tap'
import { smtpServer } from './helpers/smtp.js'
import { ConsoleMailer } from '../lib/mail/console.js'
import { MemoryMailer } from '../lib/mail/memory.js'
import { SmtpMailer } from '../lib/mail/smtp.js'
import { escapeHtml, renderEmail, type EmailContext, type EmailKind } from '../lib/mail/templates.js'

const ctx: EmailContext = {
  siteName: 'Example',
  domain: 'example.com',
  protocol: 'https',
  username: 'alice',
  email: 'alice@example.com'
}

t.test('templates', async t => {
  t.test('every kind renders a subject and both bodies', async t => {
    const kinds: EmailKind[] = ['activation', 'confirmation', 'passwordReset', 'passwordChanged', 'usernameReset', 'usernameChanged']
    const subjects = new Set<string>()
    for (const kind of kinds) {
      const mail = renderEmail(kind, { ...ctx, url: 'https://example.com/x/1/abc' })
      t.match(mail.subject, /Example/, kind)
      t.match(mail.text, /The Example team/, kind)
      t.match(mail.html, /^<!doctype html>[^]*<p>The Example team<\/p>/, kind)
      subjects.add(mail.subject)
    }
    t.equal(subjects.size, kinds.length, 'distinct subjects')
  })

  t.test('link emails carry the url', async t => {
    const url = 'https://example.com/activate/MQ/c3l-0a1b2c'
    const activation = renderEmail('activation', { ...ctx, url })
    t.equal(activation.subject, 'Account activation on Example')
    t.match(activation.text, `activate it, please open the following page:\n${url}\n`)
    t.match(activation.html, `<a href="${url}">${url}</a>`)
    const reset = renderEmail('passwordReset', { ...ctx, url })
    t.equal(reset.subject, 'Password reset on Example')
    t.match(reset.text, url)
    t.match(reset.text, 'your username is: alice')
    t.match(renderEmail('usernameReset', { ...ctx, url }).text, `new username, please open the following page:\n${url}`)
    t.match(renderEmail('usernameChanged', ctx).text, 'it is now: alice')
  })

  t.test('a relative url is joined to protocol and domain, as djoser does', async t => {
    t.match(renderEmail('activation', { ...ctx, url: 'activate/MQ/tok' }).text, '\nhttps://example.com/activate/MQ/tok\n')
    t.match(renderEmail('activation', { ...ctx, protocol: 'http', domain: 'localhost:3000', url: '/#/activate/MQ/tok' }).text, '\nhttp://localhost:3000/#/activate/MQ/tok\n')
  })

  t.test('link emails need a url', async t => {
    t.throws(() => renderEmail('activation', ctx), TypeError)
    t.throws(() => renderEmail('passwordReset', { ...ctx, url: '' }), TypeError)
    t.doesNotThrow(() => renderEmail('confirmation', ctx))
  })

  t.test('HTML escapes every interpolated value; text does not', async t => {
    const hostile = {
      ...ctx,
      siteName: '<script>alert("x")</script> & Co',
      username: '<b>bob</b>',
      url: 'https://example.com/reset?a=1&b="><img src=x onerror=alert(1)>'
    }
    const { subject, text, html } = renderEmail('passwordReset', hostile)
    t.notMatch(html, /<script|<b>|<img|"><|& Co/)
    t.match(html, '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co')
    t.match(html, '&lt;b&gt;bob&lt;/b&gt;')
    t.match(html, 'href="https://example.com/reset?a=1&amp;b=&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"')
    t.equal(subject, 'Password reset on <script>alert("x")</script> & Co')
    t.match(text, hostile.url)
    t.equal(escapeHtml(`&<>"'`), '&amp;&lt;&gt;&quot;&#39;')
  })
})

t.test('MemoryMailer', async t => {
  const mailer = new MemoryMailer()
  t.equal(mailer.last(), undefined)
  const first = { to: 'a@example.com', subject: 'one', text: '1' }
  await mailer.send(first)
  await mailer.send({ to: 'b@example.com', subject: 'two', text: '2', html: '<p>2</p>' })
  await mailer.send({ to: 'a@example.com', subject: 'three', text: '3' })
  first.subject = 'changed'
  t.same(mailer.outbox.map(m => m.subject), ['one', 'two', 'three'], 'stores copies')
  t.equal(mailer.last()?.subject, 'three')
  t.equal(mailer.last('b@example.com')?.html, '<p>2</p>')
  t.equal(mailer.last('a@example.com')?.subject, 'three')
  t.equal(mailer.last('nobody@example.com'), undefined)
  mailer.clear()
  t.same(mailer.outbox, [])
  t.equal(mailer.last(), undefined)
})

t.test('ConsoleMailer logs the message at info level', async t => {
  const calls: { obj: object, msg?: string }[] = []
  const mailer = new ConsoleMailer({ info: (obj, msg) => { calls.push({ obj, msg }) } })
  await mailer.send({ to: 'a@example.com', subject: 'Account activation', text: 'go to https://x/activate/1', html: '<p>x</p>' })
  t.equal(calls.length, 1)
  t.same(calls[0].obj, { mail: { to: 'a@example.com', subject: 'Account activation', text: 'go to https://x/activate/1' } })
  t.match(calls[0].msg, 'a@example.com')
})

t.test('SmtpMailer', async t => {
  t.test('delivers to an SMTP server', async t => {
    const { url, received } = await smtpServer(t)

    const mailer = new SmtpMailer({ url, from: '"Example" <no-reply@example.com>' })
    t.teardown(() => mailer.close())
    const mail = renderEmail('activation', { ...ctx, url: 'https://example.com/activate/MQ/tok' })
    await mailer.send({ to: 'alice@example.com', ...mail })

    t.equal(received.length, 1)
    const [message] = received
    t.equal(message.from, 'no-reply@example.com')
    t.same(message.to, ['alice@example.com'])
    t.match(message.raw, /^Subject: Account activation on Example\r$/m)
    t.match(message.raw, /^To: alice@example.com\r$/m)
    t.match(message.raw, /^From: "?Example"? <no-reply@example.com>\r$/m)
    t.match(message.raw, /multipart\/alternative/)
    t.match(message.raw, 'To activate it, please open the following page:')
    t.match(message.raw, 'https://example.com/activate/MQ/tok')
  })

  t.test('rejects when nothing listens', async t => {
    const probe = createServer()
    probe.listen(0, '127.0.0.1')
    await once(probe, 'listening')
    const { port } = probe.address() as AddressInfo
    await new Promise(resolve => probe.close(resolve))

    const mailer = new SmtpMailer({ url: `smtp://127.0.0.1:${port}`, from: 'no-reply@example.com' })
    t.teardown(() => mailer.close())
    await t.rejects(mailer.send({ to: 'alice@example.com', subject: 's', text: 't' }), { message: /ECONNREFUSED/ })
  })

  t.test('refuses a url that is not smtp(s)', async t => {
    t.throws(() => new SmtpMailer({ url: 'http://example.com', from: 'x@example.com' }), TypeError)
    t.throws(() => new SmtpMailer({ url: 'localhost:25', from: 'x@example.com' }), TypeError)
    t.doesNotThrow(() => new SmtpMailer({ url: 'smtps://user:pass@example.com:465', from: 'x@example.com' }).close())
  })
})
