import { safeCause, SocialProviderError } from './errors.js'

/**
 * The one way the non-OpenID providers (GitHub, Graph, X) are called: a bounded timeout on the whole
 * exchange (connect, headers and body), a cap on the body size, no redirects followed, and every way it can
 * go wrong (refused, reset, timed out, not JSON, 5xx) turned into a 4xx SocialProviderError. A 4xx answer is
 * handed back: only the caller knows what the provider meant by it.
 */

export interface ProviderCall {
  /** The provider's configured name, for the messages. */
  provider: string
  timeoutMs: number
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
}

export interface ProviderAnswer {
  status: number
  /** The parsed JSON body (or, with `form`, the parsed form body); null when the body was empty. */
  body: unknown
}

/** Bodies larger than this are refused (no provider answer we read comes close). */
export const MAX_PROVIDER_BODY = 1024 * 1024

const asError = (error: unknown): Error => error instanceof Error ? error : new Error(String(error))

function unreachable (call: ProviderCall, what: string, cause: unknown): InstanceType<typeof SocialProviderError> {
  return new SocialProviderError(`${call.provider}: ${what}`, { cause: safeCause(cause) })
}

async function readCapped (response: Response, signal: AbortSignal): Promise<string> {
  if (response.body === null) return ''
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  const onAbort = (): void => { reader.cancel().catch(() => {}) }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (signal.aborted) throw signal.reason
      if (done) break
      size += value.byteLength
      if (size > MAX_PROVIDER_BODY) throw new Error('answer too large')
      chunks.push(value)
    }
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * Calls a provider endpoint and parses its JSON answer (`parse: 'form'` for the `a=b&c=d` bodies some token
 * endpoints send). Never throws anything but SocialProviderError.
 */
export async function callProvider (url: string | URL, call: ProviderCall, parse: 'json' | 'form' = 'json'): Promise<ProviderAnswer> {
  const signal = AbortSignal.timeout(call.timeoutMs)
  let response: Response
  let text: string
  try {
    response = await fetch(url, {
      method: call.method ?? 'GET',
      headers: { accept: 'application/json', 'user-agent': 'fastify-accounts', ...call.headers },
      body: call.body,
      redirect: 'manual',
      signal
    })
    text = await readCapped(response, signal)
  } catch (error) {
    const e = asError(error)
    const timedOut = e.name === 'TimeoutError' || signal.aborted
    throw unreachable(call, timedOut ? `no answer within ${call.timeoutMs} ms` : 'could not be reached', error)
  }
  if (response.status >= 500 || (response.status >= 300 && response.status < 400)) {
    throw unreachable(call, `answered HTTP ${response.status}`, null)
  }
  if (text.trim() === '') return { status: response.status, body: null }
  if (parse === 'form' && !text.trimStart().startsWith('{')) {
    return { status: response.status, body: Object.fromEntries(new URLSearchParams(text)) }
  }
  try {
    return { status: response.status, body: JSON.parse(text) as unknown }
  } catch (error) {
    throw unreachable(call, `answered HTTP ${response.status} with a body that is not JSON`, error)
  }
}

/** A base URL without its trailing slashes, so paths can be appended with one. */
export function trimSlash (url: string): string {
  return url.replace(/\/+$/, '')
}

export function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A string field of a provider answer, or undefined when it is absent or not a string. */
export function str (record: Record<string, unknown>, key: string): string | undefined {
  const value = record[key]
  return typeof value === 'string' ? value : undefined
}

/** An id the provider may send as a number (GitHub, Graph) or a string, as the string allauth stores. */
export function idString (value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value)
  return undefined
}

/** allauth's populate_user: a full name fills the first and last names when the provider gave no parts. */
export function splitName (name: string | undefined): { firstName?: string, lastName?: string } {
  if (name === undefined || name.trim() === '') return {}
  const trimmed = name.trim()
  const space = trimmed.indexOf(' ')
  return space < 0 ? { firstName: trimmed } : { firstName: trimmed.slice(0, space), lastName: trimmed.slice(space + 1).trim() }
}

const DROPPED = new Set(['code', 'code_verifier', 'nonce', 'at_hash', 'c_hash', 'appsecret_proof'])

/** Extra data kept on the social account: the provider's answer without anything that looks like a credential. */
export function withoutSecrets (data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(data)) {
    if (/token|secret|password/i.test(key) || DROPPED.has(key)) continue
    out[key] = value
  }
  return out
}
