import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'
import type { Test } from 'tap'

export interface Received { from: string, to: string[], raw: string }

export /** A local SMTP server collecting every message; its smtp:// URL. */
async function smtpServer (t: Test): Promise<{ url: string, received: Received[] }> {
  const received: Received[] = []
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData (stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map(r => r.address),
          raw: Buffer.concat(chunks).toString('utf8')
        })
        callback()
      })
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server.server, 'listening')
  t.teardown(() => new Promise<void>(resolve => server.close(() => resolve())))
  return { url: `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`, received }
}

/** The uid and token of the activation link in a mail (raw MIME, quoted-printable decoded). */
export function activationLink (text: string): { uid: string, token: string } {
  const decoded = text.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
  const match = /\/activate\/([A-Za-z0-9_-]+)\/([0-9a-z]+-[0-9a-f]+)/.exec(decoded)
  if (match === null) throw new Error(`no activation link in: ${decoded}`)
  return { uid: match[1], token: match[2] }
}

