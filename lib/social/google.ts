import { OidcSocialProvider } from './oidc.js'

/** Google: OpenID Connect at accounts.google.com (allauth's google provider keeps `sub` as the uid, as here). */
export interface GoogleSettings {
  clientId: string
  clientSecret: string
  issuer?: string
  /** Checks an access token sent on its own (default Google's; with another issuer, unset: introspection if offered). */
  tokenInfoUrl?: string
  scope?: string
  callbackUrl?: string
  timeoutMs?: number
  clockToleranceSeconds?: number
  allowInsecureRequests?: boolean
}

export const GOOGLE_ISSUER = 'https://accounts.google.com'
export const GOOGLE_TOKENINFO = 'https://oauth2.googleapis.com/tokeninfo'

export function googleProvider (name: string, s: GoogleSettings): OidcSocialProvider {
  const issuer = s.issuer ?? GOOGLE_ISSUER
  return new OidcSocialProvider({
    name,
    issuer,
    // Google's id_tokens may name their issuer without the scheme.
    issuerAliases: issuer === GOOGLE_ISSUER ? ['accounts.google.com'] : [],
    clientId: s.clientId,
    clientSecret: s.clientSecret,
    // An access token alone: Google's userinfo answers for any app's token, tokeninfo says whose it is.
    tokenInfoUrl: s.tokenInfoUrl ?? (issuer === GOOGLE_ISSUER ? GOOGLE_TOKENINFO : undefined),
    scope: s.scope,
    callbackUrl: s.callbackUrl,
    timeoutMs: s.timeoutMs,
    clockToleranceSeconds: s.clockToleranceSeconds,
    allowInsecureRequests: s.allowInsecureRequests
  })
}
