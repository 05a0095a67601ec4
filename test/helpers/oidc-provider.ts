import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose'
import Provider, { type Configuration } from 'oidc-provider'

/**
 * A real OpenID Connect provider (panva's oidc-provider 8) on 127.0.0.1, random port: discovery, JWKS,
 * authorization with its own login and consent interaction (driven over HTTP by `authorize`, no browser),
 * the token endpoint (codes single-use, PKCE checked), userinfo and introspection.
 *
 * Clients (client_secret_post, any http://127.0.0.1 redirect URI listed in REDIRECT_URIS):
 * - `app` / APP_SECRET: the one under test;
 * - `other-app` / OTHER_SECRET: another relying party (its id_tokens have another audience);
 * - `short-app` / SHORT_SECRET: its codes, id_tokens and access tokens live 1 second (expiry tests).
 * Beside it, `GET /tokeninfo?access_token=` answers as Google's tokeninfo does (`aud`/`azp`, `sub`; 400 for
 * a token it does not know or that expired).
 */

export const REDIRECT_URI = 'http://127.0.0.1:9/callback'
export const OTHER_REDIRECT_URI = 'http://127.0.0.1:9/other-callback'
const REDIRECT_URIS = [REDIRECT_URI, OTHER_REDIRECT_URI]
export const APP_SECRET = 'app-secret-0123456789abcdef0123456789abcdef'
export const OTHER_SECRET = 'other-secret-0123456789abcdef0123456789abcd'
export const SHORT_SECRET = 'short-secret-0123456789abcdef0123456789abcd'

export interface IdpAccount {
  email?: string
  email_verified?: boolean
  given_name?: string
  family_name?: string
  name?: string
  preferred_username?: string
}

export const DEFAULT_ACCOUNTS: Record<string, IdpAccount> = {
  'alice-sub': { email: 'alice@example.com', email_verified: true, given_name: 'Alice', family_name: 'Liddell', preferred_username: 'alice' },
  'bob-sub': { email: 'bob@example.com', email_verified: false, name: 'Bob Builder', preferred_username: 'bob' }
}

export interface AuthorizeOptions {
  /** Who logs in at the provider (default `alice-sub`). */
  accountId?: string
  /** Refuse at the login prompt: the provider redirects back with `error=access_denied`. */
  deny?: boolean
}

export interface TestIdp {
  issuer: string
  accounts: Record<string, IdpAccount>
  /**
   * Follows an authorization URL as a browser would, answering the login and consent prompts over HTTP,
   * until the provider redirects to a URL outside itself; returns that URL (the redirect URI with `code`,
   * `state`, `iss`, or `error`).
   */
  authorize (url: string, options?: AuthorizeOptions): Promise<URL>
  /** A code for `clientId` straight from the interaction (an authorization request built here, with PKCE when given). */
  code (input: { clientId?: string, redirectUri?: string, nonce?: string, codeChallenge?: string, scope?: string, accountId?: string }): Promise<string>
  /** An id_token issued by the provider for `clientId` (authorization code flow, then the token endpoint). */
  idToken (input?: { clientId?: string, nonce?: string, accountId?: string }): Promise<string>
  /** An access token issued to `clientId`. */
  accessToken (input?: { clientId?: string, accountId?: string }): Promise<string>
  /** The form body of the last token endpoint request (whatever the answer), as the provider parsed it. */
  lastTokenRequest (): Record<string, unknown> | null
  /** Signs any claims with the provider's own signing key (as a provider that lies, or a token out of its time). */
  sign (claims: JWTPayload): Promise<string>
  close (): Promise<void>
}

const CLIENTS = [
  { client_id: 'app', client_secret: APP_SECRET },
  { client_id: 'other-app', client_secret: OTHER_SECRET },
  { client_id: 'short-app', client_secret: SHORT_SECRET }
]
const SECRETS: Record<string, string> = Object.fromEntries(CLIENTS.map((c) => [c.client_id, c.client_secret]))

async function readBody (req: IncomingMessage): Promise<Record<string, string>> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const text = Buffer.concat(chunks).toString('utf8')
  if (text === '') return {}
  return (req.headers['content-type'] ?? '').includes('json') ? JSON.parse(text) as Record<string, string> : Object.fromEntries(new URLSearchParams(text))
}

export async function startIdp (options: { accounts?: Record<string, IdpAccount> } = {}): Promise<TestIdp> {
  const accounts = { ...DEFAULT_ACCOUNTS, ...options.accounts }
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => { res.statusCode = 503; res.end() }
  const server = createServer((req, res) => { handler(req, res) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const { privateKey } = await generateKeyPair('RS256', { extractable: true })
  const jwk = { ...await exportJWK(privateKey), kid: 'test-key-1', alg: 'RS256', use: 'sig' }
  const shortLived = (_ctx: unknown, _token: unknown, client: { clientId: string } | undefined): number => client?.clientId === 'short-app' ? 1 : 600

  const configuration: Configuration = {
    clients: CLIENTS.map((c) => ({ ...c, redirect_uris: REDIRECT_URIS, token_endpoint_auth_method: 'client_secret_post', grant_types: ['authorization_code'], response_types: ['code'] })),
    jwks: { keys: [jwk as never] },
    cookies: { keys: ['test-cookie-key-0123456789abcdef'] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'given_name', 'family_name', 'preferred_username'] },
    // As Google does: the id_token carries the scope's claims (oidc-provider's default keeps them for userinfo).
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: false },
      // Any client may introspect any token: the relying party's own client_id check is what is under test.
      introspection: { enabled: true, allowedPolicy: async () => true }
    },
    ttl: {
      AuthorizationCode: shortLived as never,
      IdToken: shortLived as never,
      AccessToken: shortLived as never,
      Interaction: 600,
      Session: 600,
      Grant: 600
    },
    // As Google: PKCE when the client sends a challenge (then the verifier is checked), not demanded.
    pkce: { methods: ['S256'], required: () => false },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: async (_ctx, sub) => {
      const account = accounts[sub]
      if (account === undefined) return undefined
      return { accountId: sub, claims: async () => ({ sub, ...account }) }
    }
  }
  const provider = new Provider(issuer, configuration)
  let lastTokenRequest: Record<string, unknown> | null = null
  provider.use(async (ctx, next) => {
    await next()
    const body = (ctx as { oidc?: { body?: Record<string, unknown> } }).oidc?.body
    if (ctx.path === '/token' && body !== undefined) lastTokenRequest = { ...body }
  })
  const callback = provider.callback()

  // The login and consent prompts as JSON over HTTP, through the provider's interaction API.
  const interaction = async (req: IncomingMessage, res: ServerResponse, uid: string, action: string | undefined): Promise<void> => {
    const details = await provider.interactionDetails(req, res)
    if (details.uid !== uid) throw new Error('interaction uid mismatch')
    if (req.method === 'GET') {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ uid, prompt: details.prompt.name }))
      return
    }
    const body = await readBody(req)
    if (action === 'abort') {
      await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'End-User aborted interaction' }, { mergeWithLastSubmission: false })
    } else if (action === 'login') {
      if (accounts[body.accountId] === undefined) throw new Error(`no account ${body.accountId}`)
      await provider.interactionFinished(req, res, { login: { accountId: body.accountId } }, { mergeWithLastSubmission: false })
    } else if (action === 'consent') {
      const { prompt, params, session } = details
      const grant = details.grantId === undefined
        ? new provider.Grant({ accountId: session?.accountId as string, clientId: params.client_id as string })
        : await provider.Grant.find(details.grantId)
      if (grant === undefined) throw new Error('grant not found')
      const missing = prompt.details as { missingOIDCScope?: string[], missingOIDCClaims?: string[] }
      if (missing.missingOIDCScope !== undefined) grant.addOIDCScope(missing.missingOIDCScope.join(' '))
      if (missing.missingOIDCClaims !== undefined) grant.addOIDCClaims(missing.missingOIDCClaims)
      const grantId = await grant.save()
      await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true })
    } else {
      res.statusCode = 404
      res.end()
    }
  }

  // Google's tokeninfo, as its docs describe it (beside the provider, over its own access tokens).
  const tokeninfo = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const value = new URL(req.url ?? '/', issuer).searchParams.get('access_token') ?? ''
    const token = await provider.AccessToken.find(value)
    res.setHeader('content-type', 'application/json')
    if (token === undefined || token.isExpired) {
      res.statusCode = 400
      res.end(JSON.stringify({ error: 'invalid_token', error_description: 'Invalid Value' }))
      return
    }
    res.end(JSON.stringify({ azp: token.clientId, aud: token.clientId, sub: token.accountId, scope: token.scope, exp: String(token.exp), expires_in: String((token.exp ?? 0) - Math.floor(Date.now() / 1000)) }))
  }

  handler = (req, res) => {
    if ((req.url ?? '').startsWith('/tokeninfo?')) {
      tokeninfo(req, res).catch((error: unknown) => { res.statusCode = 500; res.end(String(error)) })
      return
    }
    const match = /^\/interaction\/([^/?]+)(?:\/([a-z]+))?/.exec(req.url ?? '')
    if (match === null) { callback(req, res); return }
    interaction(req, res, match[1], match[2]).catch((error: unknown) => {
      res.statusCode = 500
      res.end(String(error))
    })
  }

  const authorize = async (url: string, o: AuthorizeOptions = {}): Promise<URL> => {
    const jar = new Map<string, string>()
    const cookie = (): string => [...jar].map(([k, v]) => `${k}=${v}`).join('; ')
    const keep = (response: Response): void => {
      for (const line of response.headers.getSetCookie()) {
        const [pair] = line.split(';')
        const eq = pair.indexOf('=')
        const name = pair.slice(0, eq)
        const value = pair.slice(eq + 1)
        if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) jar.delete(name)
        else jar.set(name, value)
      }
    }
    let next = new URL(url)
    let method = 'GET'
    let body: string | undefined
    for (let hop = 0; hop < 20; hop++) {
      if (next.origin !== issuer) return next
      const response = await fetch(next, {
        method,
        redirect: 'manual',
        headers: { cookie: cookie(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body
      })
      keep(response)
      method = 'GET'
      body = undefined
      const location = response.headers.get('location')
      if (response.status >= 300 && response.status < 400 && location !== null) {
        next = new URL(location, next)
        continue
      }
      if (response.status !== 200) throw new Error(`the provider answered ${response.status} at ${next.pathname}: ${await response.text()}`)
      const page = await response.json() as { uid: string, prompt: string }
      if (o.deny === true) {
        next = new URL(`/interaction/${page.uid}/abort`, issuer)
      } else if (page.prompt === 'login') {
        next = new URL(`/interaction/${page.uid}/login`, issuer)
        body = JSON.stringify({ accountId: o.accountId ?? 'alice-sub' })
      } else {
        next = new URL(`/interaction/${page.uid}/consent`, issuer)
      }
      method = 'POST'
      body ??= '{}'
    }
    throw new Error('too many redirects at the provider')
  }

  const code: TestIdp['code'] = async (input) => {
    const url = new URL('/auth', issuer)
    url.search = new URLSearchParams({
      client_id: input.clientId ?? 'app',
      redirect_uri: input.redirectUri ?? REDIRECT_URI,
      response_type: 'code',
      scope: input.scope ?? 'openid email profile',
      ...(input.nonce === undefined ? {} : { nonce: input.nonce }),
      ...(input.codeChallenge === undefined ? {} : { code_challenge: input.codeChallenge, code_challenge_method: 'S256' })
    }).toString()
    const back = await authorize(url.href, { accountId: input.accountId })
    const got = back.searchParams.get('code')
    if (got === null) throw new Error(`no code: ${back.href}`)
    return got
  }

  const tokens = async (input: { clientId?: string, nonce?: string, accountId?: string }): Promise<Record<string, string>> => {
    const clientId = input.clientId ?? 'app'
    const got = await code({ clientId, nonce: input.nonce, accountId: input.accountId })
    const response = await fetch(new URL('/token', issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: got, redirect_uri: REDIRECT_URI, client_id: clientId, client_secret: SECRETS[clientId] }).toString()
    })
    if (response.status !== 200) throw new Error(`token endpoint: ${response.status} ${await response.text()}`)
    return await response.json() as Record<string, string>
  }

  return {
    issuer,
    accounts,
    authorize,
    code,
    idToken: async (input = {}) => (await tokens(input)).id_token,
    accessToken: async (input = {}) => (await tokens(input)).access_token,
    lastTokenRequest: () => lastTokenRequest,
    sign: async (claims) => await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: jwk.kid }).sign(privateKey),
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  }
}
