import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { bearerToken, serve, type Answer, type Request } from './http-server.js'

/**
 * A local Graph API (v19.0), written from Facebook's docs ("Manually Build a Login Flow", "Debug
 * Token", "Securing Graph API Requests"), checking what Graph checks:
 * - `GET /v19.0/oauth/access_token`: the app's secret, a code issued to that app, unused, under 10
 *   minutes old, for the same redirect_uri, and the PKCE verifier when a challenge was sent;
 * - `GET /v19.0/debug_token`: only with a valid app access token (`appId|appSecret`); answers what the
 *   inspected token is: its app_id, user_id, is_valid (a token of another app says so, with its own app_id);
 * - `GET /v19.0/me`: a valid user token (query `access_token` or a bearer header), and `appsecret_proof`,
 *   the HMAC-SHA256 of that token keyed with the secret of the app the token was issued to (this app
 *   requires it, as "Require App Secret" does): missing or wrong is refused; `fields` picks what comes back.
 * Errors are Graph's `{error: {message, type, code, fbtrace_id}}` with HTTP 400.
 */

export interface FacebookUser {
  id: string
  name?: string
  first_name?: string
  last_name?: string
  email?: string
}

interface Grant { appId: string, userId: string, expiresAt: number }
interface Code { appId: string, userId: string, redirectUri: string, challenge?: string, issuedAt: number, used: boolean }

export interface FacebookServer {
  /** `graphApiUrl`. */
  graphApiUrl: string
  requests: Array<{ method: string, path: string }>
  users: Record<string, FacebookUser>
  /** Who logs in at the dialog; `deny` makes them cancel. */
  authorizing: { userId: string, deny?: boolean }
  /** The app setting "Require App Secret" (default on): off, a missing proof is let through, a wrong one still is not. */
  settings: { requireProof: boolean }
  issueCode (input: { appId: string, userId: string, redirectUri: string, codeChallenge?: string, issuedAt?: number }): string
  issueToken (input: { appId: string, userId: string, expiresInSeconds?: number }): string
  close (): Promise<void>
}

const VERSION = '/v19.0'
const CODE_LIFETIME_MS = 10 * 60 * 1000
const same = (a: string, b: string): boolean => timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest())
const graphError = (message: string, code: number, type = 'OAuthException'): Answer =>
  ({ status: 400, json: { error: { message, type, code, fbtrace_id: randomBytes(8).toString('base64url') } } })

export async function startFacebook (apps: Record<string, { secret: string }>, users: Record<string, FacebookUser>): Promise<FacebookServer> {
  const codes = new Map<string, Code>()
  const tokens = new Map<string, Grant>()
  const authorizing: FacebookServer['authorizing'] = { userId: Object.keys(users)[0] }
  const settings: FacebookServer['settings'] = { requireProof: true }

  const issueCode: FacebookServer['issueCode'] = (input) => {
    const code = randomBytes(24).toString('base64url')
    codes.set(code, { appId: input.appId, userId: input.userId, redirectUri: input.redirectUri, challenge: input.codeChallenge, issuedAt: input.issuedAt ?? Date.now(), used: false })
    return code
  }
  const issueToken: FacebookServer['issueToken'] = (input) => {
    const token = `EAA${randomBytes(24).toString('base64url')}`
    tokens.set(token, { appId: input.appId, userId: input.userId, expiresAt: Date.now() + (input.expiresInSeconds ?? 5184000) * 1000 })
    return token
  }
  const valid = (token: string | undefined): Grant | undefined => {
    const grant = tokens.get(token ?? '')
    return grant !== undefined && grant.expiresAt > Date.now() ? grant : undefined
  }

  const handle = (req: Request): Answer => {
    const q = req.url.searchParams
    const path = req.url.pathname

    // The login dialog (served here too, as www.facebook.com would), straight back with a code.
    if (req.method === 'GET' && path === `${VERSION}/dialog/oauth`) {
      const app = apps[q.get('client_id') ?? '']
      const redirectUri = q.get('redirect_uri')
      if (app === undefined || redirectUri === null) return graphError('Invalid App ID', 101)
      const back = new URL(redirectUri)
      if (q.has('state')) back.searchParams.set('state', q.get('state') as string)
      if (authorizing.deny === true) {
        back.searchParams.set('error', 'access_denied')
        back.searchParams.set('error_reason', 'user_denied')
      } else {
        back.searchParams.set('code', issueCode({ appId: q.get('client_id') as string, userId: authorizing.userId, redirectUri, codeChallenge: q.get('code_challenge') ?? undefined }))
      }
      return { status: 302, headers: { location: back.href } }
    }

    if (req.method === 'GET' && path === `${VERSION}/oauth/access_token`) {
      const app = apps[q.get('client_id') ?? '']
      if (app === undefined) return graphError('Error validating application. Invalid application ID.', 101)
      if (!same(q.get('client_secret') ?? '', app.secret)) return graphError('Error validating client secret.', 1)
      const code = codes.get(q.get('code') ?? '')
      if (code === undefined || code.appId !== q.get('client_id')) return graphError('Invalid verification code format.', 100)
      if (code.used) return graphError('This authorization code has been used.', 100)
      if (Date.now() - code.issuedAt > CODE_LIFETIME_MS) return graphError('This authorization code has expired.', 100)
      if (q.get('redirect_uri') !== code.redirectUri) return graphError('Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request', 100)
      if (code.challenge !== undefined && createHash('sha256').update(q.get('code_verifier') ?? '').digest('base64url') !== code.challenge) {
        return graphError('Invalid code verifier.', 100)
      }
      code.used = true
      return { status: 200, json: { access_token: issueToken({ appId: code.appId, userId: code.userId }), token_type: 'bearer', expires_in: 5183944 } }
    }

    if (req.method === 'GET' && path === `${VERSION}/debug_token`) {
      const [appId, secret] = (q.get('access_token') ?? '').split('|')
      const app = apps[appId ?? '']
      if (app === undefined || secret === undefined || !same(secret, app.secret)) return graphError('Invalid OAuth access token - Cannot parse access token', 190)
      const inspected = tokens.get(q.get('input_token') ?? '')
      if (inspected === undefined) {
        return { status: 200, json: { data: { error: { code: 190, message: 'Invalid OAuth access token.' }, is_valid: false, scopes: [] } } }
      }
      return {
        status: 200,
        json: {
          data: {
            app_id: inspected.appId,
            type: 'USER',
            application: `App ${inspected.appId}`,
            data_access_expires_at: Math.floor(inspected.expiresAt / 1000),
            expires_at: Math.floor(inspected.expiresAt / 1000),
            is_valid: inspected.expiresAt > Date.now(),
            scopes: ['email', 'public_profile'],
            user_id: inspected.userId
          }
        }
      }
    }

    if (req.method === 'GET' && path === `${VERSION}/me`) {
      const token = q.get('access_token') ?? bearerToken(req.headers)
      const grant = valid(token)
      if (token === undefined || grant === undefined) return graphError('Invalid OAuth access token.', 190)
      const proof = q.get('appsecret_proof')
      if (proof === null && settings.requireProof) return graphError('API calls from the server require an appsecret_proof argument', 100, 'GraphMethodException')
      const expected = createHmac('sha256', apps[grant.appId].secret).update(token).digest('hex')
      if (proof !== null && !same(proof, expected)) return graphError('Invalid appsecret_proof provided in the API argument', 100, 'GraphMethodException')
      const user = users[grant.userId]
      const fields = (q.get('fields') ?? 'id,name').split(',')
      const body: Record<string, unknown> = {}
      for (const field of fields) {
        const value = (user as unknown as Record<string, unknown>)[field]
        if (value !== undefined) body[field] = value
      }
      body.id = user.id
      return { status: 200, json: body }
    }
    return graphError(`Unknown path components: ${path}`, 2500)
  }

  const served = await serve(handle)
  return { graphApiUrl: `${served.url}${VERSION}`, requests: served.requests, users, authorizing, settings, issueCode, issueToken, close: served.close }
}
