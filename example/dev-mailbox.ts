import type { FastifyPluginAsync } from 'fastify'
import { escapeHtml } from '../lib/mail/templates.js'
import type { Mailer, MailMessage } from '../lib/ports.js'

/** A mail the development mailbox kept: the message, when it was sent, and the links in its text. */
export interface KeptMail extends MailMessage {
  id: number
  sentAt: Date
  links: string[]
}

export interface MailboxLogger {
  info (obj: object, msg: string): void
}

export interface DevMailboxOptions {
  /** How many mails are kept (the oldest go first); default 50. */
  limit?: number
  /** Where the mailbox page is, for the log line (e.g. http://localhost:3000/dev/mail). */
  pageUrl?: string
}

// Up to a space, a quote or an angle bracket; a final full stop or comma belongs to the sentence.
const LINK = /\bhttps?:\/\/[^\s<>"']*[^\s<>"'.,;:!?)]/g

/** The http(s) links in a mail's text, in order. */
export function mailLinks (text: string): string[] {
  return [...text.matchAll(LINK)].map((match) => match[0])
}

/**
 * The example server's mailer when there is no SMTP_URL (never in production): keeps the last mails in
 * memory for the /dev/mail page, and logs one line per mail with its link, so a first run needs no mail
 * server and no copying from a JSON log. The mails hold live activation and reset links.
 */
export class DevMailbox implements Mailer {
  readonly #logger: MailboxLogger
  readonly #limit: number
  readonly #pageUrl: string | undefined
  readonly #mails: KeptMail[] = []
  #nextId = 1

  constructor (logger: MailboxLogger, options: DevMailboxOptions = {}) {
    this.#logger = logger
    this.#limit = options.limit ?? 50
    this.#pageUrl = options.pageUrl
  }

  async send ({ to, subject, text, html }: MailMessage): Promise<void> {
    const links = mailLinks(text)
    this.#mails.push({ id: this.#nextId++, sentAt: new Date(), to, subject, text, ...(html === undefined ? {} : { html }), links })
    if (this.#mails.length > this.#limit) this.#mails.splice(0, this.#mails.length - this.#limit)
    const where = this.#pageUrl === undefined ? '' : ` (mailbox: ${this.#pageUrl})`
    const link = links.length === 0 ? '' : `: ${links.join(' ')}`
    this.#logger.info({ mail: { to, subject, links } }, `mail to ${to}, "${subject}"${link}${where}`)
  }

  /** The kept mails, newest first. */
  list (): KeptMail[] {
    return [...this.#mails].reverse()
  }
}

/** The mailbox page's policy: its one style sheet, nothing else (no script at all). */
export const MAILBOX_CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/** A mail's text as HTML: everything escaped, each http(s) link made clickable. */
function linkified (text: string): string {
  let html = ''
  let last = 0
  for (const match of text.matchAll(LINK)) {
    html += escapeHtml(text.slice(last, match.index))
    const url = escapeHtml(match[0])
    html += `<a href="${url}">${url}</a>`
    last = match.index + match[0].length
  }
  return html + escapeHtml(text.slice(last))
}

export interface MailboxPageOptions {
  /** The style sheet to link (the UI's, when it is served). */
  stylesheet?: string
  /** Links in the header: the account pages, the API docs. */
  navLinks?: Array<{ href: string, label: string }>
}

export function renderMailbox (mails: KeptMail[], { stylesheet, navLinks = [] }: MailboxPageOptions = {}): string {
  const nav = navLinks.map(({ href, label }) => `<li><a href="${escapeHtml(href)}">${escapeHtml(label)}</a></li>`).join('')
  const items = mails.map((mail) => `
    <article class="mail" aria-labelledby="mail-${mail.id}">
      <h2 id="mail-${mail.id}">${escapeHtml(mail.subject)}</h2>
      <p class="mail-meta">To ${escapeHtml(mail.to)} · <time datetime="${mail.sentAt.toISOString()}">${mail.sentAt.toISOString().replace('T', ' ').slice(0, 19)} UTC</time></p>
      <pre>${linkified(mail.text)}</pre>
    </article>`).join('')
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Dev mailbox</title>
  <link rel="icon" href="data:,">${stylesheet === undefined ? '' : `\n  <link rel="stylesheet" href="${escapeHtml(stylesheet)}">`}
</head>
<body>
  <header class="site-header">
    <p class="site-name">Dev mailbox</p>
    <nav aria-label="Site"><ul>${nav}</ul></nav>
  </header>
  <main class="mailbox">
    <h1>Mails sent</h1>
    <p class="hint">Development only: without SMTP_URL the example server keeps its last mails here instead of sending them. Newest first; reload for new mail.</p>
    ${mails.length === 0 ? '<p>No mail yet.</p>' : items}
  </main>
</body>
</html>
`
}

/** GET /dev/mail: the mailbox as a page. */
export function devMailRoutes (mailbox: DevMailbox, page: MailboxPageOptions = {}): FastifyPluginAsync {
  return async (app) => {
    app.get('/dev/mail', { schema: { hide: true } }, async (_request, reply) => {
      return reply
        .header('content-security-policy', MAILBOX_CONTENT_SECURITY_POLICY)
        .header('x-content-type-options', 'nosniff')
        // The page lists live one-time links: not for a cache, and not for a Referer.
        .header('cache-control', 'no-store')
        .header('referrer-policy', 'no-referrer')
        .type('text/html; charset=utf-8')
        .send(renderMailbox(mailbox.list(), page))
    })
  }
}
