import { SOCIAL_MESSAGES, SocialRedirectUriError } from './errors.js'

/**
 * djoser's SOCIAL_AUTH_ALLOWED_REDIRECT_URIS: exact match of the whole URI. Apart from flow.ts, which loads
 * openid-client: the djoser route checks it before any provider is loaded.
 */
export function checkRedirectUri (redirectUri: string | undefined, allowed: readonly string[]): string {
  if (redirectUri === undefined || !allowed.includes(redirectUri)) throw new SocialRedirectUriError(SOCIAL_MESSAGES.redirectUri)
  return redirectUri
}
