/**
 * The shapes social login passes around: what a frontend sends, what a provider proves, what a server-started
 * flow keeps between the redirect and the callback.
 */

/** A verified identity at a provider. Never holds a provider token. */
export interface SocialProfile {
  /** The configured provider name (`google`, `github`, `keycloak`…). */
  provider: string
  /** The provider's stable id for the person (OIDC `sub`, GitHub's numeric id, X's `id_str`), as allauth's `SocialAccount.uid`. */
  uid: string
  /** '' when the provider gave none. */
  email: string
  /** True only when the provider says it verified `email`. */
  emailVerified: boolean
  username?: string
  firstName?: string
  lastName?: string
  /** What the provider said about the person (claims, `/user`, `/me`), without tokens: allauth's `extra_data`. */
  extra: Record<string, unknown>
}

/**
 * What a frontend can send (dj-rest-auth's SocialLoginSerializer and beyond). Exactly one way in:
 * - `accessToken`: a token the frontend got itself (checked with the provider: `debug_token`, token check, introspection);
 * - `code` (+ `redirectUri`, `codeVerifier` when the frontend used PKCE, `nonce` when it sent one): exchanged here;
 * - `idToken` (google, apple, oidc): verified here against the provider's JWKS (`nonce` checked when given);
 * - twitter: `accessToken` + `tokenSecret` (OAuth 1.0a).
 */
export interface SocialCredentials {
  accessToken?: string
  tokenSecret?: string
  code?: string
  redirectUri?: string
  codeVerifier?: string
  idToken?: string
  nonce?: string
}

/** What a server-started flow (djoser's `GET o/{provider}/`) must keep until the callback: a signed cookie holds it. */
export interface AuthorizationState {
  state: string
  /** OIDC providers only. */
  nonce?: string
  codeVerifier: string
  redirectUri: string
}

export interface AuthorizationRequest extends AuthorizationState {
  /** Where to send the browser. */
  url: string
}

/** What came back to the redirect URI (query string or form body). */
export interface CallbackParams {
  code?: string
  state?: string
  /** `access_denied` when the user cancelled. */
  error?: string
  /** RFC 9207 issuer, when the provider sends it. */
  iss?: string
}

export interface SocialProvider {
  readonly name: string
  /** `oidc` for google, apple and `type: 'oidc'`; the others their own. */
  readonly kind: 'oidc' | 'github' | 'facebook' | 'twitter'
  /** False for X (OAuth 1.0a): djoser's flow does not serve it. */
  readonly supportsAuthorizationUrl: boolean
  /** Checks the credentials with the provider; throws a typed 4xx SocialError on anything short of a verified profile. */
  authenticate (credentials: SocialCredentials): Promise<SocialProfile>
  /** The start of a server-driven flow: the URL plus what to keep (state, PKCE verifier, nonce). */
  authorizationUrl (input: { redirectUri: string }): Promise<AuthorizationRequest>
  /**
   * The callback: checks `state` against the kept one (djoser's three messages), a cancelled authorization,
   * then exchanges the code with the kept PKCE verifier (and nonce) for a verified profile.
   */
  completeAuthorization (params: CallbackParams, kept: AuthorizationState | null | undefined): Promise<SocialProfile>
}

/** Per call, in milliseconds: discovery, JWKS, token, userinfo and API calls are each bounded by it. */
export const DEFAULT_TIMEOUT_MS = 10_000
