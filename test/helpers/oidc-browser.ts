import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair } from 'jose'
import Provider from 'oidc-provider'
import { APP_SECRET, DEFAULT_ACCOUNTS, type IdpAccount } from './oidc-provider.js'

/**
 * panva's oidc-provider 8 on 127.0.0.1 for a test in a browser: its own HTML sign-in and consent pages
 * (devInteractions: any password; the login typed is the account), and the client `app` / APP_SECRET of
 * test/helpers/oidc-provider.ts with the redirect URIs given here (the account pages' own URL: a web
 * client's redirect URI must match exactly, so the fixed list of that helper cannot serve a page on a port
 * chosen at run time). Accounts: `alice` and `bob`, with the claims of that helper's `alice-sub` and `bob-sub`.
 */
export interface BrowserIdp {
  issuer: string
  close (): Promise<void>
}

export const BROWSER_ACCOUNTS: Record<string, IdpAccount> = { alice: DEFAULT_ACCOUNTS['alice-sub'], bob: DEFAULT_ACCOUNTS['bob-sub'] }

export async function startBrowserIdp (redirectUris: string[]): Promise<BrowserIdp> {
  let handler: Parameters<typeof createServer>[1] = (_req, res) => { res.statusCode = 503; res.end() }
  const server = createServer((req, res) => { handler?.(req, res) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const { privateKey } = await generateKeyPair('RS256', { extractable: true })
  const jwk = { ...await exportJWK(privateKey), kid: 'browser-key-1', alg: 'RS256', use: 'sig' }
  const provider = new Provider(issuer, {
    clients: [{ client_id: 'app', client_secret: APP_SECRET, redirect_uris: redirectUris, token_endpoint_auth_method: 'client_secret_post', grant_types: ['authorization_code'], response_types: ['code'] }],
    jwks: { keys: [jwk as never] },
    cookies: { keys: ['browser-cookie-key-0123456789abcdef'] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'given_name', 'family_name', 'preferred_username'] },
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    pkce: { methods: ['S256'], required: () => false },
    // Set, so the provider does not print a notice for each default it falls back on.
    ttl: { AccessToken: 600, AuthorizationCode: 600, IdToken: 600, Interaction: 600, Session: 600, Grant: 600 },
    findAccount: async (_ctx, sub) => {
      const account = BROWSER_ACCOUNTS[sub]
      return account === undefined ? undefined : { accountId: sub, claims: async () => ({ sub, ...account }) }
    }
  })
  handler = provider.callback()
  return {
    issuer,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  }
}
