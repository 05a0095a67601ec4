import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** The plumbing of the local provider servers (GitHub, Graph, X): a node:http server on 127.0.0.1, random port. */

export interface Served {
  url: string
  /** Every request, as method and path (tokens never logged anywhere else either). */
  requests: Array<{ method: string, path: string }>
  close (): Promise<void>
}

export interface Request {
  method: string
  url: URL
  headers: IncomingMessage['headers']
  /** The form (or JSON) body, parsed; {} when there is none. */
  body: Record<string, string>
  rawBody: string
}

export type Answer = { status: number, json?: unknown, text?: string, headers?: Record<string, string> }

async function read (req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

export async function serve (handle: (req: Request) => Promise<Answer> | Answer): Promise<Served> {
  const requests: Served['requests'] = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const rawBody = await read(req)
      const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`)
      requests.push({ method: req.method ?? 'GET', path: url.pathname })
      const type = req.headers['content-type'] ?? ''
      let body: Record<string, string> = {}
      if (rawBody !== '') {
        body = type.includes('json') ? JSON.parse(rawBody) as Record<string, string> : Object.fromEntries(new URLSearchParams(rawBody))
      }
      const answer = await handle({ method: req.method ?? 'GET', url, headers: req.headers, body, rawBody })
      res.statusCode = answer.status
      for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value)
      if (answer.json !== undefined) {
        res.setHeader('content-type', 'application/json; charset=utf-8')
        res.end(JSON.stringify(answer.json))
      } else {
        res.end(answer.text ?? '')
      }
    })().catch((error: unknown) => {
      res.statusCode = 500
      res.end(String(error))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  }
}

/** The bearer token of an `Authorization: Bearer x` (or GitHub's `token x`) header. */
export function bearerToken (headers: IncomingMessage['headers']): string | undefined {
  const match = /^(?:bearer|token)\s+(\S+)$/i.exec(headers.authorization ?? '')
  return match?.[1]
}
