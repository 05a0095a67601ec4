/**
 * Social login's services: the providers (OpenID Connect through openid-client and jose; GitHub, Facebook,
 * X), the server-started flow's state/nonce/PKCE, the sign-in rules, and the social accounts port. No
 * routes: each dialect's `social.ts` maps its wire shapes onto these.
 */
export * from './errors.js'
export * from './types.js'
export { checkCallback, checkRedirectUri, newAuthorization, type NewAuthorization } from './flow.js'
export { callProvider, MAX_PROVIDER_BODY, type ProviderAnswer, type ProviderCall } from './http.js'
export { OidcSocialProvider, emailVerifiedClaim, type OidcSettings } from './oidc.js'
export { googleProvider, GOOGLE_ISSUER, GOOGLE_TOKENINFO, type GoogleSettings } from './google.js'
export { appleProvider, appleClientSecret, APPLE_ISSUER, type AppleSettings } from './apple.js'
export { GitHubSocialProvider, type GitHubSettings } from './github.js'
export { FacebookSocialProvider, appsecretProof, type FacebookSettings } from './facebook.js'
export { TwitterSocialProvider, type TwitterSettings } from './twitter.js'
export {
  SocialProviders, createProvider, providerType, DJOSER_NAMES, PROVIDER_TYPES,
  type ProviderOptions, type ProviderType, type SocialProvidersOptions, type GoogleOptions, type AppleOptions,
  type GitHubOptions, type FacebookOptions, type TwitterOptions, type OidcOptions
} from './providers.js'
export { SocialOptionsSchema, SocialProviderSchema, resolveSocialOptions, type SocialOptions, type ResolvedSocialOptions } from './options.js'
export { SocialLoginService, hasUsablePassword, type SocialUsers, type SocialLoginOptions, type SocialLoginDeps, type SocialLoginResult, type SocialEvents, type SocialEmit } from './login.js'
export { usernameCandidates, usernameBase, isValidUsername } from './username.js'
export type { SocialAccount, NewSocialAccount, SocialAccountStore } from './store.js'
export { MemorySocialAccountStore } from './memory-store.js'
export { AccountSocialUsers, type AccountSocialUsersDeps } from './account-users.js'
export { SocialLogin, createSocialLogin, type SocialLoginDependencies } from './runtime.js'
export { djoserNameOf } from './provider-types.js'
// The SQL adapter (lib/social/sql-store.ts, KyselySocialAccountStore) loads kysely: import it from its own module.
export { socialStoreContract, type SocialContractStore } from './store-contract.js'
