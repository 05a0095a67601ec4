import { appleProvider, type AppleSettings } from './apple.js'
import { unknownProvider } from './errors.js'
import { FacebookSocialProvider, type FacebookSettings } from './facebook.js'
import { GitHubSocialProvider, type GitHubSettings } from './github.js'
import { googleProvider, type GoogleSettings } from './google.js'
import { OidcSocialProvider } from './oidc.js'
import { TwitterSocialProvider, type TwitterSettings } from './twitter.js'
import type { SocialProvider } from './types.js'
import {
  djoserNameOf, providerType, type AppleOptions, type FacebookOptions, type GitHubOptions, type GoogleOptions, type OidcOptions, type ProviderOptions,
  type SocialProvidersOptions, type TwitterOptions
} from './provider-types.js'

/**
 * The `social.providers` option: one entry per provider, by name. The names google, apple, github,
 * facebook and twitter are those providers; any other name needs `type` (`'oidc'` for a generic OpenID
 * Connect provider such as Keycloak, Auth0, Microsoft or GitLab; a known type to run a second instance of
 * it, say a GitHub Enterprise beside github.com). Every URL can be overridden.
 */

export {
  DJOSER_NAMES, PROVIDER_TYPES, djoserNameOf, providerType,
  type AppleOptions, type FacebookOptions, type GitHubOptions, type GoogleOptions, type OidcOptions, type ProviderOptions, type ProviderType,
  type SocialProvidersOptions, type TwitterOptions
} from './provider-types.js'

export function createProvider (name: string, options: ProviderOptions, defaults: { callbackUrl?: string, timeout?: number } = {}): SocialProvider {
  const timeoutMs = (options.timeout ?? defaults.timeout ?? 10) * 1000
  const callbackUrl = options.callbackUrl ?? defaults.callbackUrl
  const type = providerType(name, options)
  switch (type) {
    case 'google': {
      const o = options as GoogleOptions
      const s: GoogleSettings = { clientId: o.clientId, clientSecret: o.clientSecret, issuer: o.issuer, tokenInfoUrl: o.tokenInfoUrl, scope: o.scope, callbackUrl, timeoutMs, clockToleranceSeconds: o.clockTolerance }
      return googleProvider(name, s)
    }
    case 'apple': {
      const o = options as AppleOptions
      const s: AppleSettings = {
        clientId: o.clientId, teamId: o.teamId, keyId: o.keyId, privateKey: o.privateKey, issuer: o.issuer, scope: o.scope, callbackUrl, timeoutMs, clockToleranceSeconds: o.clockTolerance
      }
      return appleProvider(name, s)
    }
    case 'github': {
      const o = options as GitHubOptions
      const s: GitHubSettings = { clientId: o.clientId, clientSecret: o.clientSecret, oauthUrl: o.oauthUrl, apiUrl: o.apiUrl, scope: o.scope, callbackUrl, timeoutMs }
      return new GitHubSocialProvider(name, s)
    }
    case 'facebook': {
      const o = options as FacebookOptions
      const s: FacebookSettings = {
        clientId: o.clientId, clientSecret: o.clientSecret, graphApiUrl: o.graphApiUrl, dialogUrl: o.dialogUrl, scope: o.scope, fields: o.fields, verifiedEmail: o.verifiedEmail, callbackUrl, timeoutMs
      }
      return new FacebookSocialProvider(name, s)
    }
    case 'twitter': {
      const o = options as TwitterOptions
      const s: TwitterSettings = { consumerKey: o.consumerKey, consumerSecret: o.consumerSecret, apiUrl: o.apiUrl, timeoutMs }
      return new TwitterSocialProvider(name, s)
    }
    case 'oidc': {
      const o = options as OidcOptions
      return new OidcSocialProvider({
        name, issuer: o.issuer, clientId: o.clientId, clientSecret: o.clientSecret, scope: o.scope, callbackUrl, timeoutMs, clockToleranceSeconds: o.clockTolerance, allowInsecureRequests: o.allowInsecureRequests
      })
    }
  }
}

/** The configured providers, by name (dj-rest-auth's routes) and by python-social-auth name (djoser's). */
export class SocialProviders {
  readonly #byName = new Map<string, SocialProvider>()
  readonly #byDjoserName = new Map<string, SocialProvider>()

  constructor (options: SocialProvidersOptions) {
    for (const [name, provider] of Object.entries(options.providers)) {
      const created = createProvider(name, provider, options)
      this.#byName.set(name, created)
      const djoserName = djoserNameOf(name, provider)
      if (djoserName !== null) this.#byDjoserName.set(djoserName, created)
    }
  }

  /** Every configured name. */
  names (): string[] {
    return [...this.#byName.keys()]
  }

  /** The names djoser's `o/{provider}/` answers to (X is not among them). */
  djoserNames (): string[] {
    return [...this.#byDjoserName.keys()]
  }

  has (name: string): boolean {
    return this.#byName.has(name)
  }

  /** By configured name; 404 SocialUnknownProviderError when there is none. */
  get (name: string): SocialProvider {
    const provider = this.#byName.get(name)
    if (provider === undefined) throw unknownProvider(name)
    return provider
  }

  /** By python-social-auth name (`google-oauth2`, `apple-id`, `github`, `facebook`, or an OIDC provider's own). */
  forDjoser (name: string): SocialProvider {
    const provider = this.#byDjoserName.get(name)
    if (provider === undefined) throw unknownProvider(name)
    return provider
  }
}
