import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { serve, type Answer, type Request } from './http-server.js'

/**
 * A local X API v1.1, written from X's docs ("Authorizing a request", "Creating a signature",
 * GET account/verify_credentials) and RFC 5849, checking what X checks: a known consumer key, an access
 * token issued to that consumer, HMAC-SHA1 over the signature base string (method, base URI, every
 * query/body/oauth parameter percent-encoded and sorted) keyed with `consumerSecret&tokenSecret`, a
 * timestamp within 5 minutes and a nonce not seen before. The verifier below is this file's own,
 * independent of the signing library under test (and is checked against the docs' worked example).
 * Errors: 401 `{errors: [{code: 32, message: 'Could not authenticate you.'}]}`, or code 89 for a token X
 * does not know.
 */

export interface XUser { id: number, screen_name: string, name?: string, email?: string }
interface AccessToken { secret: string, consumerKey: string, userId: number }

export interface XServer {
  /** `apiUrl`. */
  apiUrl: string
  requests: Array<{ method: string, path: string }>
  users: Record<number, XUser>
  /** An access token and secret for `userId`, issued to `consumerKey`. */
  issueToken (consumerKey: string, userId: number): { token: string, secret: string }
  close (): Promise<void>
}

/** RFC 3986 percent-encoding, as RFC 5849 3.6 wants it (unreserved characters only are left as they are). */
export function percentEncode (value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/** RFC 5849 3.4: the HMAC-SHA1 signature of a request. `params` are every query, body and oauth_* pair except oauth_signature. */
export function oauth1Signature (input: { method: string, baseUri: string, params: Array<[string, string]>, consumerSecret: string, tokenSecret: string }): string {
  const normalized = input.params
    .map(([k, v]) => [percentEncode(k), percentEncode(v)])
    .sort(([ak, av], [bk, bv]) => ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0)
    .map(([k, v]) => `${k}=${v}`)
    .join('&')
  const base = [input.method.toUpperCase(), percentEncode(input.baseUri), percentEncode(normalized)].join('&')
  const key = `${percentEncode(input.consumerSecret)}&${percentEncode(input.tokenSecret)}`
  return createHmac('sha1', key).update(base).digest('base64')
}

/** The parameters of an `Authorization: OAuth k="v", …` header, decoded. */
export function parseOAuthHeader (header: string | undefined): Map<string, string> | null {
  if (header === undefined || !/^OAuth\s/i.test(header)) return null
  const params = new Map<string, string>()
  for (const match of header.slice(6).matchAll(/([A-Za-z0-9_%.~-]+)="([^"]*)"/g)) params.set(decodeURIComponent(match[1]), decodeURIComponent(match[2]))
  return params
}

const same = (a: string, b: string): boolean => timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest())
const couldNot: Answer = { status: 401, json: { errors: [{ code: 32, message: 'Could not authenticate you.' }] } }
const invalidToken: Answer = { status: 401, json: { errors: [{ code: 89, message: 'Invalid or expired token.' }] } }

export async function startX (consumers: Record<string, string>, users: Record<number, XUser>): Promise<XServer> {
  const tokens = new Map<string, AccessToken>()
  const nonces = new Set<string>()
  let issued = 0

  const issueToken: XServer['issueToken'] = (consumerKey, userId) => {
    issued++
    const token = `${userId}-token${issued}${Math.random().toString(36).slice(2)}`
    const secret = `secret-${issued}-${Math.random().toString(36).slice(2)}`
    tokens.set(token, { secret, consumerKey, userId })
    return { token, secret }
  }

  const handle = (req: Request): Answer => {
    if (req.method !== 'GET' || req.url.pathname !== '/1.1/account/verify_credentials.json') return { status: 404, json: { errors: [{ code: 34, message: 'Sorry, that page does not exist.' }] } }
    const oauth = parseOAuthHeader(req.headers.authorization)
    if (oauth === null) return { status: 400, json: { errors: [{ code: 215, message: 'Bad Authentication data.' }] } }
    const consumerKey = oauth.get('oauth_consumer_key') ?? ''
    const consumerSecret = consumers[consumerKey]
    const signature = oauth.get('oauth_signature')
    const timestamp = Number(oauth.get('oauth_timestamp'))
    const nonce = oauth.get('oauth_nonce') ?? ''
    if (consumerSecret === undefined || signature === undefined || oauth.get('oauth_signature_method') !== 'HMAC-SHA1' || nonce === '') return couldNot
    if (!Number.isFinite(timestamp) || Math.abs(Date.now() / 1000 - timestamp) > 300) return couldNot
    const token = tokens.get(oauth.get('oauth_token') ?? '')
    if (token === undefined || token.consumerKey !== consumerKey) return invalidToken

    const params: Array<[string, string]> = [...req.url.searchParams]
    for (const [k, v] of oauth) if (k !== 'oauth_signature' && k !== 'realm') params.push([k, v])
    if ((req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded')) params.push(...new URLSearchParams(req.rawBody))
    const baseUri = `http://${(req.headers.host ?? '').toLowerCase()}${req.url.pathname}`
    const expected = oauth1Signature({ method: req.method, baseUri, params, consumerSecret, tokenSecret: token.secret })
    if (!same(signature, expected)) return couldNot
    if (nonces.has(`${consumerKey}:${timestamp}:${nonce}`)) return couldNot
    nonces.add(`${consumerKey}:${timestamp}:${nonce}`)

    const user = users[token.userId]
    const body: Record<string, unknown> = { id: user.id, id_str: String(user.id), screen_name: user.screen_name, name: user.name ?? user.screen_name }
    if (req.url.searchParams.get('include_email') === 'true' && user.email !== undefined) body.email = user.email
    return { status: 200, json: body }
  }

  const served = await serve(handle)
  return { apiUrl: served.url, requests: served.requests, users, issueToken, close: served.close }
}
