import type { Mailer, MailMessage } from '../ports.js'

/** Keeps sent messages in memory, for tests. */
export class MemoryMailer implements Mailer {
  readonly outbox: MailMessage[] = []

  async send (message: MailMessage): Promise<void> {
    // A copy, so a caller mutating its object later cannot rewrite what was "sent".
    this.outbox.push({ ...message })
  }

  clear (): void {
    this.outbox.length = 0
  }

  /** The most recent message, or the most recent one to `to` (exact match). */
  last (to?: string): MailMessage | undefined {
    for (let i = this.outbox.length - 1; i >= 0; i--) {
      if (to === undefined || this.outbox[i].to === to) return this.outbox[i]
    }
    return undefined
  }
}
