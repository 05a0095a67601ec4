import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { bearerToken, serve, type Answer, type Request } from './http-server.js'

/**
 * A local GitHub, written from its docs ("Authorizing OAuth apps", REST "Users", "Emails" and "OAuth
 * authorizations: Check a token"), checking what GitHub checks:
 * - `GET /login/oauth/authorize`: a known client_id and redirect URI, then straight back with a code (the
 *   user said yes) or `error=access_denied` (with `deny`);
 * - `POST /login/oauth/access_token`: client_secret, a code that exists, was issued to that client, is
 *   unused and under 10 minutes old, the same redirect_uri, and the PKCE verifier when a challenge was sent.
 *   GitHub answers 200 with `{error: 'bad_verification_code'}` (or `incorrect_client_credentials`,
 *   `redirect_uri_mismatch`) on failure; JSON with `Accept: application/json`, a form body otherwise;
 * - `GET /api/user`, `GET /api/user/emails` (needs the `user:email` or `user` scope) with a bearer token;
 * - `POST /api/applications/{client_id}/token`: basic auth with the client's secret; 404 unless the token
 *   was issued to that client.
 */

export interface GitHubUser {
  id: number
  login: string
  name?: string | null
  /** The public email (may be null). */
  email?: string | null
  emails: Array<{ email: string, primary: boolean, verified: boolean, visibility?: string | null }>
}

interface Grant { clientId: string, login: string, scope: string }
interface Code extends Grant { redirectUri?: string, challenge?: string, issuedAt: number, used: boolean }

export interface GitHubServer {
  /** `oauthUrl`. */
  url: string
  /** `apiUrl`. */
  apiUrl: string
  requests: Array<{ method: string, path: string }>
  users: Record<string, GitHubUser>
  /** Who says yes at the consent screen; `deny` makes them say no. */
  authorizing: { login: string, deny?: boolean }
  /** A code as the authorize endpoint would issue it. */
  issueCode (input: { clientId: string, login: string, redirectUri?: string, codeChallenge?: string, scope?: string, issuedAt?: number }): string
  /** An access token (as a frontend would hold), with its scopes. */
  issueToken (input: { clientId: string, login: string, scope?: string }): string
  close (): Promise<void>
}

const CODE_LIFETIME_MS = 10 * 60 * 1000
const same = (a: string, b: string): boolean => {
  const x = createHash('sha256').update(a).digest()
  return timingSafeEqual(x, createHash('sha256').update(b).digest())
}

export async function startGitHub (clients: Record<string, { secret: string, redirectUris: string[] }>, users: Record<string, GitHubUser>): Promise<GitHubServer> {
  const codes = new Map<string, Code>()
  const tokens = new Map<string, Grant>()
  const authorizing: GitHubServer['authorizing'] = { login: Object.keys(users)[0] }

  const issueCode: GitHubServer['issueCode'] = (input) => {
    const code = randomBytes(10).toString('hex')
    codes.set(code, {
      clientId: input.clientId, login: input.login, scope: input.scope ?? 'read:user,user:email', redirectUri: input.redirectUri,
      challenge: input.codeChallenge, issuedAt: input.issuedAt ?? Date.now(), used: false
    })
    return code
  }
  const issueToken: GitHubServer['issueToken'] = (input) => {
    const token = `gho_${randomBytes(18).toString('base64url')}`
    tokens.set(token, { clientId: input.clientId, login: input.login, scope: input.scope ?? 'read:user,user:email' })
    return token
  }

  const publicUser = (u: GitHubUser): Record<string, unknown> => ({
    login: u.login, id: u.id, node_id: `U_${u.id}`, type: 'User', site_admin: false, name: u.name ?? null, email: u.email ?? null
  })

  const tokenAnswer = (req: Request, body: Record<string, string>): Answer => {
    const json = (req.headers.accept ?? '').includes('application/json')
    return json ? { status: 200, json: body } : { status: 200, text: new URLSearchParams(body).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } }
  }

  const handle = (req: Request): Answer => {
    const path = req.url.pathname
    if (req.method === 'GET' && path === '/login/oauth/authorize') {
      const q = req.url.searchParams
      const client = clients[q.get('client_id') ?? '']
      const redirectUri = q.get('redirect_uri') ?? client?.redirectUris[0]
      if (client === undefined || redirectUri === undefined || !client.redirectUris.includes(redirectUri)) return { status: 404, text: 'unknown client or redirect_uri' }
      const back = new URL(redirectUri)
      if (q.has('state')) back.searchParams.set('state', q.get('state') as string)
      if (authorizing.deny === true) {
        back.searchParams.set('error', 'access_denied')
        back.searchParams.set('error_description', 'The user has denied your application access.')
      } else {
        const challenge = q.get('code_challenge') ?? undefined
        if (challenge !== undefined && q.get('code_challenge_method') !== 'S256') return { status: 400, text: 'only S256' }
        back.searchParams.set('code', issueCode({ clientId: q.get('client_id') as string, login: authorizing.login, redirectUri: q.get('redirect_uri') ?? undefined, codeChallenge: challenge, scope: q.get('scope') ?? '' }))
      }
      return { status: 302, headers: { location: back.href } }
    }

    if (req.method === 'POST' && path === '/login/oauth/access_token') {
      const b = { ...Object.fromEntries(req.url.searchParams), ...req.body }
      const client = clients[b.client_id ?? '']
      if (client === undefined || b.client_secret === undefined || !same(b.client_secret, client.secret)) {
        return tokenAnswer(req, { error: 'incorrect_client_credentials', error_description: 'The client_id and/or client_secret passed are incorrect.' })
      }
      const code = codes.get(b.code ?? '')
      const bad = { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' }
      if (code === undefined || code.used || code.clientId !== b.client_id || Date.now() - code.issuedAt > CODE_LIFETIME_MS) return tokenAnswer(req, bad)
      if (code.redirectUri !== undefined && b.redirect_uri !== undefined && b.redirect_uri !== code.redirectUri) {
        return tokenAnswer(req, { error: 'redirect_uri_mismatch', error_description: 'The redirect_uri MUST match the registered callback URL for this application.' })
      }
      if (code.challenge !== undefined) {
        const verifier = b.code_verifier ?? ''
        if (createHash('sha256').update(verifier).digest('base64url') !== code.challenge) return tokenAnswer(req, bad)
      }
      code.used = true
      const token = issueToken({ clientId: code.clientId, login: code.login, scope: code.scope })
      return tokenAnswer(req, { access_token: token, token_type: 'bearer', scope: code.scope })
    }

    const tokenCheck = /^\/api\/applications\/([^/]+)\/token$/.exec(path)
    if (req.method === 'POST' && tokenCheck !== null) {
      const clientId = decodeURIComponent(tokenCheck[1])
      const basic = /^basic\s+(\S+)$/i.exec(req.headers.authorization ?? '')
      const [id, secret] = basic === null ? [] : Buffer.from(basic[1], 'base64').toString('utf8').split(':').map(decodeURIComponent)
      const client = clients[clientId]
      if (client === undefined || id !== clientId || secret === undefined || !same(secret, client.secret)) {
        return { status: 401, json: { message: 'Requires authentication', documentation_url: 'https://docs.github.com/rest' } }
      }
      const grant = tokens.get(req.body.access_token ?? '')
      if (grant === undefined || grant.clientId !== clientId) return { status: 404, json: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' } }
      return { status: 200, json: { id: 1, token: req.body.access_token, scopes: grant.scope.split(','), app: { client_id: clientId, name: 'app', url: 'https://example.com' }, user: publicUser(users[grant.login]) } }
    }

    if (req.method === 'GET' && (path === '/api/user' || path === '/api/user/emails')) {
      const grant = tokens.get(bearerToken(req.headers) ?? '')
      if (grant === undefined) return { status: 401, json: { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' } }
      const user = users[grant.login]
      if (path === '/api/user') return { status: 200, json: publicUser(user) }
      const scopes = grant.scope.split(/[ ,]+/)
      if (!scopes.includes('user:email') && !scopes.includes('user')) return { status: 404, json: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' } }
      return { status: 200, json: user.emails.map((e) => ({ visibility: null, ...e })) }
    }
    return { status: 404, json: { message: 'Not Found' } }
  }

  const served = await serve(handle)
  return { url: served.url, apiUrl: `${served.url}/api`, requests: served.requests, users, authorizing, issueCode, issueToken, close: served.close }
}
