/**
 * The `social.providers` option's types and names, apart from the providers themselves: lib/options.ts and
 * the route plugins read them at registration, and they must not load openid-client, jose or oauth-1.0a
 * (lib/social/providers.ts does, on the first social request).
 */

/** Common to every provider. */
interface ProviderCommon {
  /** The redirect_uri a frontend used for a code sent without one (dj-rest-auth's callback_url); default `social.callbackUrl`. */
  callbackUrl?: string
  /** Per provider call, seconds (default `social.timeout`, else 10). */
  timeout?: number
}

export type GoogleOptions = ProviderCommon & { type?: 'google', clientId: string, clientSecret: string, issuer?: string, tokenInfoUrl?: string, scope?: string, clockTolerance?: number }
export type AppleOptions = ProviderCommon & { type?: 'apple', clientId: string, teamId: string, keyId: string, privateKey: string, issuer?: string, scope?: string, clockTolerance?: number }
export type GitHubOptions = ProviderCommon & { type?: 'github', clientId: string, clientSecret: string, oauthUrl?: string, apiUrl?: string, scope?: string }
export type FacebookOptions = ProviderCommon & { type?: 'facebook', clientId: string, clientSecret: string, graphApiUrl?: string, dialogUrl?: string, scope?: string, fields?: string, verifiedEmail?: boolean }
export type TwitterOptions = ProviderCommon & { type?: 'twitter', consumerKey: string, consumerSecret: string, apiUrl?: string }
export type OidcOptions = ProviderCommon & { type: 'oidc', issuer: string, clientId: string, clientSecret?: string, scope?: string, clockTolerance?: number, allowInsecureRequests?: boolean }

export type ProviderOptions = GoogleOptions | AppleOptions | GitHubOptions | FacebookOptions | TwitterOptions | OidcOptions
export type ProviderType = 'google' | 'apple' | 'github' | 'facebook' | 'twitter' | 'oidc'
export const PROVIDER_TYPES: readonly ProviderType[] = ['google', 'apple', 'github', 'facebook', 'twitter', 'oidc']

export interface SocialProvidersOptions {
  providers: Record<string, ProviderOptions>
  callbackUrl?: string
  /** Default per call timeout, seconds (default 10). */
  timeout?: number
}

/** The type of a configured provider: its `type`, else its name when that is a known type. */
export function providerType (name: string, options: { type?: string }): ProviderType {
  const type = options.type ?? name
  if ((PROVIDER_TYPES as readonly string[]).includes(type) && !(options.type === undefined && type === 'oidc')) return type as ProviderType
  throw new TypeError(`fastify-accounts: social.providers.${name} needs a type (one of ${PROVIDER_TYPES.join(', ')})`)
}

/** python-social-auth's backend names (djoser's `o/{provider}/`) for each type; a generic OIDC provider keeps its own name. */
export const DJOSER_NAMES: Readonly<Record<Exclude<ProviderType, 'oidc' | 'twitter'>, string>> = {
  google: 'google-oauth2', apple: 'apple-id', github: 'github', facebook: 'facebook'
}

/**
 * The name djoser's `o/{provider}/` serves a configured provider under: python-social-auth's for a well-known
 * name (`google-oauth2`, `apple-id`, `github`, `facebook`); its own for an OIDC provider or a second instance of
 * a type; null for X (OAuth 1.0a: dj-rest-auth's route only).
 */
export function djoserNameOf (name: string, options: { type?: string }): string | null {
  const type = providerType(name, options)
  if (type === 'twitter') return null
  return type !== 'oidc' && name === type ? DJOSER_NAMES[type] : name
}
