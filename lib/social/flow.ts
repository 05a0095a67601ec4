import { createHash, timingSafeEqual } from 'node:crypto'
import { calculatePKCECodeChallenge, randomNonce, randomPKCECodeVerifier, randomState } from 'openid-client'
import { SOCIAL_MESSAGES, SocialCanceledError, SocialInputError, SocialProviderError, stateError } from './errors.js'
import type { AuthorizationState, CallbackParams } from './types.js'

/**
 * The server-started flow's bookkeeping, the same for every OAuth 2 provider: fresh state, nonce and PKCE
 * verifier (openid-client's generators), the redirect URI allowlist, and the callback checks in
 * python-social-auth's order (djoser's messages).
 */

export interface NewAuthorization extends AuthorizationState {
  codeChallenge: string
}

export async function newAuthorization (redirectUri: string, withNonce: boolean): Promise<NewAuthorization> {
  const codeVerifier = randomPKCECodeVerifier()
  return {
    state: randomState(),
    ...(withNonce ? { nonce: randomNonce() } : {}),
    codeVerifier,
    codeChallenge: await calculatePKCECodeChallenge(codeVerifier),
    redirectUri
  }
}

export { checkRedirectUri } from './redirect-uri.js'

function sameSecret (a: string, b: string): boolean {
  // Hashing first: equal lengths for timingSafeEqual, and no early exit on the length.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest())
}

/**
 * The callback: a cancelled authorization without state is "canceled"; otherwise the state first (missing
 * from the request, missing from what was kept, different), then the provider's error, then a code must be
 * there. Returns what was kept, now trusted.
 */
export function checkCallback (params: CallbackParams, kept: AuthorizationState | null | undefined, provider: string): AuthorizationState & { code: string } {
  const cancelled = (): never => {
    if (params.error === 'access_denied') throw new SocialCanceledError(SOCIAL_MESSAGES.canceled)
    throw new SocialProviderError(`${provider}: the authorization failed (${String(params.error).slice(0, 100)})`)
  }
  if (params.error !== undefined && (params.state === undefined || params.state === '')) cancelled()
  if (params.state === undefined || params.state === '') throw stateError('missing')
  if (kept === null || kept === undefined || typeof kept.state !== 'string' || kept.state === '') throw stateError('not-kept')
  if (!sameSecret(params.state, kept.state)) throw stateError('mismatch')
  if (params.error !== undefined) cancelled()
  if (params.code === undefined || params.code === '') throw new SocialInputError('code is required.')
  return { ...kept, code: params.code }
}
