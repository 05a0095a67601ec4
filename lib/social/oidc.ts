import * as client from 'openid-client'
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose'
import {
  SOCIAL_MESSAGES, SocialCodeExchangeError, SocialInputError, SocialProviderError, SocialTokenError, safeCause, stateError
} from './errors.js'
import { checkCallback, newAuthorization } from './flow.js'
import { callProvider, isObject, splitName, str, withoutSecrets } from './http.js'
import {
  DEFAULT_TIMEOUT_MS, type AuthorizationRequest, type AuthorizationState, type CallbackParams, type SocialCredentials,
  type SocialProfile, type SocialProvider
} from './types.js'

/**
 * An OpenID Connect provider through openid-client (discovery, authorization URL with state, nonce and
 * PKCE, code exchange, userinfo, introspection) and jose (an id_token on its own, against the provider's
 * JWKS). Google, Apple and every `type: 'oidc'` provider are this class with different settings.
 */
export interface OidcSettings {
  name: string
  /** The Issuer Identifier; its discovery document is `{issuer}/.well-known/openid-configuration`. */
  issuer: string
  /** Other spellings of the issuer an id_token may carry (Google's id_tokens may say `accounts.google.com`). */
  issuerAliases?: string[]
  clientId: string
  clientSecret?: string
  /** A fresh client secret for each call to the token endpoint (Apple's ES256 JWT); wins over `clientSecret`. */
  clientSecretFactory?: () => Promise<string>
  /** Default `openid email profile`. */
  scope?: string
  /** Extra authorization request parameters (Apple: `response_mode: 'form_post'`). */
  authorizationParams?: Record<string, string>
  /** The redirect_uri of a code sent without one (dj-rest-auth's `callback_url`). */
  callbackUrl?: string
  /** Per provider call, ms (default 10 s). */
  timeoutMs?: number
  /** Clock skew allowed on `exp`/`iat`/`nbf`, seconds (default 30). */
  clockToleranceSeconds?: number
  /** Allows an `http:` issuer; implied for localhost and loopback addresses. */
  allowInsecureRequests?: boolean
  /**
   * Where to check an access token a frontend sends when the provider has no introspection endpoint:
   * Google's `tokeninfo` (`?access_token=`; its `aud`/`azp` must be this client). Wins over introspection.
   */
  tokenInfoUrl?: string
  /** Turns the merged claims into profile fields the defaults get wrong for this provider. */
  adjustProfile?: (claims: Record<string, unknown>, profile: SocialProfile) => SocialProfile
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])
/** What openid-client names a claim problem: a token we refuse, not a provider that failed. */
const TOKEN_CODES = new Set(['OAUTH_JWT_CLAIM_COMPARISON_FAILED', 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED', 'OAUTH_KEY_SELECTION_FAILED'])

export function emailVerifiedClaim (value: unknown): boolean {
  // Apple sends "true"/"false" strings.
  return value === true || value === 'true'
}

export class OidcSocialProvider implements SocialProvider {
  readonly name: string
  readonly kind = 'oidc' as const
  readonly supportsAuthorizationUrl = true
  readonly #s: OidcSettings
  readonly #timeoutMs: number
  #config: Promise<client.Configuration> | undefined
  #jwks: ReturnType<typeof createRemoteJWKSet> | undefined

  constructor (settings: OidcSettings) {
    this.name = settings.name
    this.#s = settings
    this.#timeoutMs = settings.timeoutMs ?? DEFAULT_TIMEOUT_MS
  }

  #insecure (): boolean {
    if (this.#s.allowInsecureRequests === true) return true
    const url = new URL(this.#s.issuer)
    return url.protocol === 'http:' && LOOPBACK.has(url.hostname)
  }

  /** Discovery, once; a failed discovery is retried on the next call. */
  async #configuration (): Promise<client.Configuration> {
    if (this.#config === undefined) {
      const factory = this.#s.clientSecretFactory
      const auth: client.ClientAuth | undefined = factory === undefined
        ? undefined
        : async (_as, c, body) => {
          body.set('client_id', c.client_id)
          body.set('client_secret', await factory())
        }
      const metadata = factory === undefined && this.#s.clientSecret !== undefined ? this.#s.clientSecret : undefined
      this.#config = client.discovery(new URL(this.#s.issuer), this.#s.clientId, metadata, auth, {
        timeout: this.#timeoutMs / 1000,
        execute: this.#insecure() ? [client.allowInsecureRequests, client.enableNonRepudiationChecks] : [client.enableNonRepudiationChecks]
      })
      this.#config.catch(() => { this.#config = undefined })
    }
    try {
      return await this.#config
    } catch (error) {
      throw this.#providerError('discovery failed', error)
    }
  }

  #providerError (what: string, cause: unknown): InstanceType<typeof SocialProviderError> {
    return new SocialProviderError(`${this.name}: ${what}`, { cause: safeCause(cause) })
  }

  /** Sorts an openid-client failure: refused code, refused token, or a provider that failed. */
  #classify (error: unknown, refused: 'code' | 'token'): Error {
    if (error instanceof client.ResponseBodyError) {
      if (error.status >= 500) return this.#providerError(`answered HTTP ${error.status}`, error)
      return refused === 'code'
        ? new SocialCodeExchangeError(SOCIAL_MESSAGES.codeExchange, { cause: safeCause(error) })
        : new SocialTokenError(SOCIAL_MESSAGES.token, { cause: safeCause(error) })
    }
    if (error instanceof client.WWWAuthenticateChallengeError) return new SocialTokenError(SOCIAL_MESSAGES.token, { cause: safeCause(error) })
    const code = (error as { code?: unknown }).code
    const cause = (error as { cause?: { message?: unknown } }).cause
    if (typeof code === 'string' && (TOKEN_CODES.has(code) || (code === 'OAUTH_INVALID_RESPONSE' && /signature/i.test(String(cause?.message ?? ''))))) {
      return new SocialTokenError(SOCIAL_MESSAGES.token, { cause: safeCause(error) })
    }
    if (error instanceof joseErrors.JOSEError && !(error instanceof joseErrors.JWKSTimeout)) return new SocialTokenError(SOCIAL_MESSAGES.token, { cause: safeCause(error) })
    return this.#providerError(code === 'OAUTH_TIMEOUT' ? `no answer within ${this.#timeoutMs} ms` : 'call failed', error)
  }

  async authenticate (credentials: SocialCredentials): Promise<SocialProfile> {
    if (credentials.idToken !== undefined && credentials.idToken !== '') return await this.verifyIdToken(credentials.idToken, credentials.nonce)
    if (credentials.code !== undefined && credentials.code !== '') {
      const redirectUri = credentials.redirectUri ?? this.#s.callbackUrl
      if (redirectUri === undefined || redirectUri === '') throw new SocialInputError('redirect_uri (callback_url) is required with code.')
      return await this.#exchange({ code: credentials.code }, redirectUri, { pkceCodeVerifier: credentials.codeVerifier, expectedNonce: credentials.nonce })
    }
    if (credentials.accessToken !== undefined && credentials.accessToken !== '') return await this.#fromAccessToken(credentials.accessToken)
    throw new SocialInputError(SOCIAL_MESSAGES.input)
  }

  async authorizationUrl (input: { redirectUri: string }): Promise<AuthorizationRequest> {
    const config = await this.#configuration()
    const started = await newAuthorization(input.redirectUri, true)
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: input.redirectUri,
      scope: this.#s.scope ?? 'openid email profile',
      state: started.state,
      nonce: started.nonce as string,
      code_challenge: started.codeChallenge,
      code_challenge_method: 'S256',
      ...this.#s.authorizationParams
    })
    const { codeChallenge: _challenge, ...kept } = started
    return { ...kept, url: url.href }
  }

  async completeAuthorization (params: CallbackParams, kept: AuthorizationState | null | undefined): Promise<SocialProfile> {
    const checked = checkCallback(params, kept, this.name)
    if (checked.nonce === undefined || checked.nonce === '') throw stateError('not-kept')
    return await this.#exchange({ code: checked.code, state: checked.state, iss: params.iss }, checked.redirectUri, {
      pkceCodeVerifier: checked.codeVerifier,
      expectedState: checked.state,
      // A flow this server started always sends a nonce: the id_token must carry it back.
      expectedNonce: checked.nonce
    })
  }

  /** The code exchange: the id_token is checked by openid-client (signature through the JWKS, iss, aud, exp, nonce). */
  async #exchange (response: { code: string, state?: string, iss?: string }, redirectUri: string, checks: client.AuthorizationCodeGrantChecks): Promise<SocialProfile> {
    const config = await this.#configuration()
    let current: URL
    try {
      current = new URL(redirectUri)
    } catch {
      throw new SocialInputError('redirect_uri is not a URL.')
    }
    current.search = ''
    current.hash = ''
    current.searchParams.set('code', response.code)
    if (response.state !== undefined) current.searchParams.set('state', response.state)
    // A frontend forwards the code (and state), rarely `iss`: supply the expected one when the provider would
    // send it, and pass a received one through so a mix-up is still caught.
    const iss = response.iss ?? (config.serverMetadata().authorization_response_iss_parameter_supported === true ? config.serverMetadata().issuer : undefined)
    if (iss !== undefined) current.searchParams.set('iss', iss)
    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>
    try {
      tokens = await client.authorizationCodeGrant(config, current, { idTokenExpected: true, ...checks })
    } catch (error) {
      throw this.#classify(error, 'code')
    }
    const claims = tokens.claims()
    if (claims === undefined) throw new SocialTokenError(SOCIAL_MESSAGES.token)
    return this.#profile(await this.#withUserinfo(config, tokens.access_token, { ...claims }))
  }

  async #withUserinfo (config: client.Configuration, accessToken: string | undefined, claims: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (accessToken === undefined || config.serverMetadata().userinfo_endpoint === undefined) return claims
    const sub = str(claims, 'sub')
    try {
      const userinfo = await client.fetchUserInfo(config, accessToken, sub ?? client.skipSubjectCheck)
      // The id_token's claims win: they are signed.
      return { ...userinfo, ...claims }
    } catch (error) {
      throw this.#classify(error, 'token')
    }
  }

  /**
   * An access token the frontend got: checked by introspection when the provider offers it (active, and
   * issued to this client id), then the userinfo endpoint says who it is.
   */
  async #fromAccessToken (accessToken: string): Promise<SocialProfile> {
    const config = await this.#configuration()
    const meta = config.serverMetadata()
    if (this.#s.tokenInfoUrl !== undefined) {
      await this.#checkTokenInfo(accessToken)
    } else if (meta.introspection_endpoint !== undefined) {
      let info: client.IntrospectionResponse
      try {
        info = await client.tokenIntrospection(config, accessToken)
      } catch (error) {
        throw this.#classify(error, 'token')
      }
      const audience = info.aud === undefined ? [] : Array.isArray(info.aud) ? info.aud : [info.aud]
      if (!info.active || (info.client_id !== this.#s.clientId && !audience.includes(this.#s.clientId))) {
        throw new SocialTokenError(SOCIAL_MESSAGES.token)
      }
    }
    if (meta.userinfo_endpoint === undefined) throw new SocialInputError(`${this.name} has no userinfo endpoint: send an id_token or a code.`)
    return this.#profile(await this.#withUserinfo(config, accessToken, {}))
  }

  /** Google's tokeninfo: a token it knows, issued to this client (`aud` or `azp`). */
  async #checkTokenInfo (accessToken: string): Promise<void> {
    const url = new URL(this.#s.tokenInfoUrl as string)
    url.searchParams.set('access_token', accessToken)
    const answer = await callProvider(url, { provider: this.name, timeoutMs: this.#timeoutMs })
    if (answer.status >= 400 || !isObject(answer.body)) throw new SocialTokenError(SOCIAL_MESSAGES.token)
    if (answer.body.aud !== this.#s.clientId && answer.body.azp !== this.#s.clientId) throw new SocialTokenError(SOCIAL_MESSAGES.token)
  }

  /** An id_token on its own (dj-rest-auth issue 314): signature through the JWKS, iss, aud = clientId, exp, nonce when given. */
  async verifyIdToken (idToken: string, nonce?: string): Promise<SocialProfile> {
    const config = await this.#configuration()
    const meta = config.serverMetadata()
    if (meta.jwks_uri === undefined) throw this.#providerError('no jwks_uri in the discovery document', null)
    this.#jwks ??= createRemoteJWKSet(new URL(meta.jwks_uri), { timeoutDuration: this.#timeoutMs, cooldownDuration: 30_000, cacheMaxAge: 600_000 })
    let payload: JWTPayload
    try {
      const verified = await jwtVerify(idToken, this.#jwks, {
        issuer: [meta.issuer, ...this.#s.issuerAliases ?? []],
        audience: this.#s.clientId,
        requiredClaims: ['sub', 'iat', 'exp'],
        clockTolerance: this.#s.clockToleranceSeconds ?? 30
      })
      payload = verified.payload
    } catch (error) {
      if (error instanceof joseErrors.JOSEError && !(error instanceof joseErrors.JWKSTimeout) && !(error instanceof joseErrors.JWKSInvalid)) {
        throw new SocialTokenError(SOCIAL_MESSAGES.token, { cause: safeCause(error) })
      }
      throw this.#providerError('the id_token could not be checked', error)
    }
    // Several audiences: the authorized party must be this client (OpenID Connect Core 3.1.3.7).
    if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== this.#s.clientId) throw new SocialTokenError(SOCIAL_MESSAGES.token)
    if (nonce !== undefined && nonce !== '' && payload.nonce !== nonce) throw new SocialTokenError(SOCIAL_MESSAGES.token)
    return this.#profile({ ...payload })
  }

  #profile (claims: Record<string, unknown>): SocialProfile {
    const sub = str(claims, 'sub')
    if (sub === undefined || sub === '') throw new SocialTokenError(SOCIAL_MESSAGES.token)
    const email = str(claims, 'email') ?? ''
    const names = splitName(str(claims, 'name'))
    const profile: SocialProfile = {
      provider: this.name,
      uid: sub,
      email,
      emailVerified: email !== '' && emailVerifiedClaim(claims.email_verified),
      username: str(claims, 'preferred_username') ?? str(claims, 'nickname'),
      firstName: str(claims, 'given_name') ?? names.firstName,
      lastName: str(claims, 'family_name') ?? names.lastName,
      extra: withoutSecrets(claims)
    }
    return this.#s.adjustProfile === undefined ? profile : this.#s.adjustProfile(claims, profile)
  }
}
