import type { AccountsEventEmitter, AccountsEvents } from '../events.js'
import { unknownProvider } from './errors.js'
import { SocialLoginService, type SocialEmit, type SocialUsers } from './login.js'
import type { ResolvedSocialOptions } from './options.js'
import { djoserNameOf } from './provider-types.js'
import type { SocialProviders } from './providers.js'
import type { SocialAccountStore } from './store.js'
import type { SocialProvider } from './types.js'

/**
 * Social login as `app.accounts.social` holds it: the sign-in rules (built once, at registration), the social
 * accounts store, the options, and the providers. The providers load openid-client, jose and oauth-1.0a, so
 * they are imported on the first social request, never by an app that only imports the plugin.
 */
export interface SocialLoginDependencies {
  options: ResolvedSocialOptions
  accounts: SocialAccountStore
  users: SocialUsers
  events: AccountsEventEmitter
}

export class SocialLogin {
  readonly options: ResolvedSocialOptions
  /** The social accounts store (allauth's socialaccount_socialaccount). */
  readonly accounts: SocialAccountStore
  /** Who signs in, connect, list, disconnect. */
  readonly service: SocialLoginService
  /** djoser's python-social-auth names -> configured names (X has none). */
  readonly #djoserNames = new Map<string, string>()
  #providers: Promise<SocialProviders> | undefined

  constructor (deps: SocialLoginDependencies) {
    this.options = deps.options
    this.accounts = deps.accounts
    // Each SocialEvents entry is its AccountsEvents entry, narrowed (login.succeeded's method is always 'social').
    const emit: SocialEmit = (event, payload, context) => { deps.events.emit(event, payload as AccountsEvents[typeof event], context) }
    this.service = new SocialLoginService({ users: deps.users, accounts: deps.accounts, options: deps.options, emit })
    for (const [name, provider] of Object.entries(deps.options.providers)) {
      const djoserName = djoserNameOf(name, provider)
      if (djoserName !== null) this.#djoserNames.set(djoserName, name)
    }
  }

  /** The configured provider names (dj-rest-auth's `{name}/` routes). */
  names (): string[] {
    return Object.keys(this.options.providers)
  }

  /** The names djoser's `o/{provider}/` serves. */
  djoserNames (): string[] {
    return [...this.#djoserNames.keys()]
  }

  /** The configured name behind a djoser name; 404 SocialUnknownProviderError when none. */
  configuredName (djoserName: string): string {
    const name = this.#djoserNames.get(djoserName)
    if (name === undefined) throw unknownProvider(djoserName)
    return name
  }

  /** A provider by its configured name (loading the providers on first use); 404 when none. */
  async provider (name: string): Promise<SocialProvider> {
    return (await this.#loaded()).get(name)
  }

  async #loaded (): Promise<SocialProviders> {
    if (this.#providers === undefined) {
      this.#providers = import('./providers.js').then(({ SocialProviders }) => new SocialProviders(this.options))
      // A failed load (a broken install) is tried again on the next request rather than cached.
      this.#providers.catch(() => { this.#providers = undefined })
    }
    return await this.#providers
  }
}

/** Built when the `social` option configures at least one provider; null otherwise (no social routes). */
export function createSocialLogin (deps: SocialLoginDependencies): SocialLogin | null {
  return Object.keys(deps.options.providers).length === 0 ? null : new SocialLogin(deps)
}
