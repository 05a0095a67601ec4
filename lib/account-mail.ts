import type { FastifyBaseLogger } from 'fastify'
import { ServiceUnavailableError } from './errors.js'
import { maskEmail, renderEmail, type EmailKind } from './mail/templates.js'
import { encodeUid, type LinkPurpose, type OneTimeLinks } from './one-time-links.js'
import type { ResolvedOptions } from './options.js'
import type { Mailer, User } from './ports.js'

export interface AccountMailsDeps {
  mailer: Mailer
  links: OneTimeLinks
  log: FastifyBaseLogger
  options: ResolvedOptions
}

/** The mails AccountService sends and the links they carry; it keeps the ones sent in the background until they leave. */
export class AccountMails {
  readonly #d: AccountMailsDeps
  /** Mails on their way that no response waits for; app.close() waits for them. */
  readonly #sending = new Set<Promise<void>>()

  constructor (deps: AccountMailsDeps) {
    this.#d = deps
  }

  /** The absolute URL of a one-time link: `template` with the user's uid and a fresh token for `purpose`. */
  link (purpose: LinkPurpose, template: string, user: User): string {
    const o = this.#d.options
    const path = template.replace('{uid}', encodeUid(user.id)).replace('{token}', this.#d.links.make(purpose, user))
    return `${o.protocol}://${o.domain}/${path.replace(/^\//, '')}`
  }

  /** Sends a mail; a failure is a 503 whose cause the route's error handler logs (with the request's id). */
  async send (kind: EmailKind, user: User, url?: string, extra: { to?: string, newEmail?: string } = {}): Promise<void> {
    const o = this.#d.options
    const message = renderEmail(kind, {
      siteName: o.siteName, domain: o.domain, protocol: o.protocol, username: user.username, email: user.email, url, newEmail: extra.newEmail
    })
    try {
      await this.#d.mailer.send({ to: extra.to ?? user.email, ...message })
    } catch (error) {
      throw new ServiceUnavailableError('The mail could not be sent. Try again later.', { cause: error })
    }
  }

  /**
   * For the answers that must not tell a known email from an unknown one: the response does not wait
   * for the mail server, so its timing says nothing either. A failure is logged on `log` (the request's
   * logger when the route passes it, so the line carries the request id).
   */
  inBackground (
    kind: EmailKind, user: User, url: string | undefined, log: FastifyBaseLogger = this.#d.log, extra: { to?: string, newEmail?: string } = {}
  ): void {
    const sending = this.send(kind, user, url, extra).catch((error: unknown) => {
      log.error({ err: error, kind, userId: user.id }, 'fastify-accounts: sending mail failed')
    })
    this.#sending.add(sending)
    void sending.finally(() => this.#sending.delete(sending))
  }

  /** Resolves once every mail sent in the background so far has been handed to the mailer (or failed). */
  async sent (): Promise<void> {
    while (this.#sending.size > 0) await Promise.all(this.#sending)
  }

  /**
   * After an email change has been written: tells the old address (emailChangedEmailConfirmation), with the new
   * one masked, in the background, so a failing mail server neither fails nor delays the change already made.
   */
  noticeEmailChange (oldEmail: string, updated: User, log?: FastifyBaseLogger): void {
    if (!this.#d.options.emailChangedEmailConfirmation || oldEmail === '') return
    this.inBackground('emailChanged', updated, undefined, log, { to: oldEmail, newEmail: maskEmail(updated.email) })
  }

  async sendActivation (user: User): Promise<void> {
    await this.send('activation', user, this.link('activation', this.#d.options.activationUrl, user))
  }
}
