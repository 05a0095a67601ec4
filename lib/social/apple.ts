import { importPKCS8, SignJWT } from 'jose'
import { OidcSocialProvider, type OidcSettings } from './oidc.js'

/**
 * Sign in with Apple: an OpenID Connect provider whose client secret is a short-lived ES256 JWT signed with
 * the team's key (iss = teamId, sub = clientId (the Services ID), aud = the issuer, kid = keyId), as Apple's
 * "Creating a client secret" says and allauth's apple provider does.
 */
export interface AppleSettings {
  clientId: string
  teamId: string
  keyId: string
  /** The `.p8` key Apple gave (PKCS#8 PEM). */
  privateKey: string
  issuer?: string
  scope?: string
  callbackUrl?: string
  timeoutMs?: number
  clockToleranceSeconds?: number
  allowInsecureRequests?: boolean
}

export const APPLE_ISSUER = 'https://appleid.apple.com'
/** Apple accepts up to six months; a few minutes is enough for one token request. */
const SECRET_LIFETIME_SECONDS = 300

/** The client secret Apple's token endpoint wants, freshly signed. */
export async function appleClientSecret (s: Pick<AppleSettings, 'clientId' | 'teamId' | 'keyId' | 'privateKey' | 'issuer'>): Promise<string> {
  const key = await importPKCS8(s.privateKey, 'ES256')
  const now = Math.floor(Date.now() / 1000)
  return await new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: s.keyId })
    .setIssuer(s.teamId)
    .setSubject(s.clientId)
    .setAudience(s.issuer ?? APPLE_ISSUER)
    .setIssuedAt(now)
    .setExpirationTime(now + SECRET_LIFETIME_SECONDS)
    .sign(key)
}

export function appleProvider (name: string, s: AppleSettings): OidcSocialProvider {
  const scope = s.scope ?? 'openid email name'
  const settings: OidcSettings = {
    name,
    issuer: s.issuer ?? APPLE_ISSUER,
    clientId: s.clientId,
    clientSecretFactory: async () => await appleClientSecret(s),
    scope,
    // Apple posts the answer back when name or email is asked for.
    authorizationParams: /\b(name|email)\b/.test(scope) ? { response_mode: 'form_post' } : {},
    callbackUrl: s.callbackUrl,
    timeoutMs: s.timeoutMs,
    clockToleranceSeconds: s.clockToleranceSeconds,
    allowInsecureRequests: s.allowInsecureRequests
  }
  return new OidcSocialProvider(settings)
}
