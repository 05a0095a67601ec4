import type { Mailer, MailMessage } from '../ports.js'

export interface InfoLogger {
  info (obj: object, msg?: string): void
}

/**
 * The default mailer: sends nothing and logs each message, so in development the activation or
 * reset link can be copied from the log. Not for production: the log then holds live tokens.
 */
export class ConsoleMailer implements Mailer {
  readonly #logger: InfoLogger

  constructor (logger: InfoLogger) {
    this.#logger = logger
  }

  async send ({ to, subject, text }: MailMessage): Promise<void> {
    this.#logger.info({ mail: { to, subject, text } }, `email to ${to} logged, not sent (ConsoleMailer)`)
  }
}
