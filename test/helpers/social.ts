import { createServer, type Server } from 'node:net'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import { isSocialError } from '../../lib/social/errors.js'

/**
 * Shared by the social tests: the typed-error assertion (a 4xx with the wanted code, never anything else),
 * a port where nothing listens (a provider that is down) and a server that accepts and never answers (a
 * provider that is too slow).
 */

/** Awaits `promise`, which must reject with a SocialError of `code` (hence a 4xx). Returns the error. */
export async function failsWith (t: Test, promise: Promise<unknown>, code: string, message?: string): Promise<Error & { code: string, statusCode: number }> {
  const error = await promise.then(() => null, (e: unknown) => e)
  t.ok(isSocialError(error), `${message ?? code}: a typed social error (${String((error as Error | null)?.stack ?? error).split('\n')[0]})`)
  const typed = error as Error & { code: string, statusCode: number }
  t.equal(typed?.code, code, message ?? `code ${code}`)
  t.ok(typed?.statusCode >= 400 && typed?.statusCode < 500, 'a 4xx')
  const cause = String((typed?.cause as Error | undefined)?.message ?? '')
  t.notMatch(`${typed?.message ?? ''} ${cause}`, /eyJ[\w-]+\.[\w-]+|gho_|EAA[\w-]{8}/, 'no token in the message or its cause')
  return typed
}

/** A loopback URL nothing listens on (a port just opened and closed). */
export async function closedPortUrl (): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => { resolve() }))
  return `http://127.0.0.1:${port}`
}

/** A TCP server that accepts connections and never says a word; `url` points at it. */
export async function silentServer (t: Test): Promise<{ url: string }> {
  const sockets = new Set<import('node:net').Socket>()
  const server: Server = createServer((socket) => { sockets.add(socket); socket.on('close', () => sockets.delete(socket)) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise<void>((resolve) => server.close(() => { resolve() }))
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}
