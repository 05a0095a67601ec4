import { createTransport, type Transporter } from 'nodemailer'
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js'
import type { Mailer, MailMessage } from '../ports.js'

export interface SmtpMailerOptions {
  /** `smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://…:465` (TLS from the start), as SMTP_URL. */
  url: string
  /** The From header, e.g. `"Example" <no-reply@example.com>`. */
  from: string
}

export class SmtpMailer implements Mailer {
  readonly #transport: Transporter<SMTPTransport.SentMessageInfo>
  readonly #from: string

  constructor ({ url, from }: SmtpMailerOptions) {
    // nodemailer would read other strings as other transports' options; a typo should fail at startup.
    // The URL is not echoed back: it usually holds the SMTP password.
    if (!/^smtps?:\/\//i.test(url)) throw new TypeError('SMTP url must start with smtp:// or smtps://')
    this.#transport = createTransport(url)
    this.#from = from
  }

  async send ({ to, subject, text, html }: MailMessage): Promise<void> {
    await this.#transport.sendMail({ from: this.#from, to, subject, text, html })
  }

  async close (): Promise<void> {
    this.#transport.close()
  }
}
