import { SOCIAL_MESSAGES, SocialCodeExchangeError, SocialInputError, SocialProviderError, SocialTokenError, SocialUnsupportedError } from './errors.js'
import { checkCallback, newAuthorization } from './flow.js'
import { callProvider, idString, isObject, splitName, str, trimSlash, withoutSecrets } from './http.js'
import {
  DEFAULT_TIMEOUT_MS, type AuthorizationRequest, type AuthorizationState, type CallbackParams, type SocialCredentials,
  type SocialProfile, type SocialProvider
} from './types.js'

/**
 * GitHub's OAuth app flow, from its REST docs: the code exchange at `{oauthUrl}/login/oauth/access_token`
 * (client secret, PKCE verifier), `GET {apiUrl}/user`, `GET {apiUrl}/user/emails` for the verified primary
 * email, and, for an access token a frontend got itself, "Check a token"
 * (`POST {apiUrl}/applications/{client_id}/token`, basic auth with the client secret): GitHub answers 404
 * for a token another app was given.
 */
export interface GitHubSettings {
  clientId: string
  clientSecret: string
  /** Default `https://github.com` (GitHub Enterprise: its own host). */
  oauthUrl?: string
  /** Default `https://api.github.com` (Enterprise: `https://HOST/api/v3`). */
  apiUrl?: string
  /** Default `read:user user:email`. */
  scope?: string
  callbackUrl?: string
  timeoutMs?: number
  /** Check that an access token sent by a frontend was issued to this app (default true). */
  checkTokenApp?: boolean
}


export class GitHubSocialProvider implements SocialProvider {
  readonly name: string
  readonly kind = 'github' as const
  readonly supportsAuthorizationUrl = true
  readonly #s: GitHubSettings
  readonly #oauth: string
  readonly #api: string
  readonly #timeoutMs: number

  constructor (name: string, settings: GitHubSettings) {
    this.name = name
    this.#s = settings
    this.#oauth = trimSlash(settings.oauthUrl ?? 'https://github.com')
    this.#api = trimSlash(settings.apiUrl ?? 'https://api.github.com')
    this.#timeoutMs = settings.timeoutMs ?? DEFAULT_TIMEOUT_MS
  }

  #call (extra: { method?: 'GET' | 'POST', headers?: Record<string, string>, body?: string } = {}): Parameters<typeof callProvider>[1] {
    return { provider: this.name, timeoutMs: this.#timeoutMs, ...extra }
  }

  async authenticate (credentials: SocialCredentials): Promise<SocialProfile> {
    if (credentials.code !== undefined && credentials.code !== '') {
      const token = await this.#exchange(credentials.code, credentials.redirectUri ?? this.#s.callbackUrl, credentials.codeVerifier)
      return await this.#profile(token)
    }
    if (credentials.accessToken !== undefined && credentials.accessToken !== '') {
      if (this.#s.checkTokenApp !== false) await this.#checkTokenApp(credentials.accessToken)
      return await this.#profile(credentials.accessToken)
    }
    if (credentials.idToken !== undefined) throw new SocialUnsupportedError(`${this.name} does not issue id_tokens.`)
    throw new SocialInputError(SOCIAL_MESSAGES.input)
  }

  async authorizationUrl (input: { redirectUri: string }): Promise<AuthorizationRequest> {
    const started = await newAuthorization(input.redirectUri, false)
    const url = new URL(`${this.#oauth}/login/oauth/authorize`)
    url.search = new URLSearchParams({
      client_id: this.#s.clientId,
      redirect_uri: input.redirectUri,
      scope: this.#s.scope ?? 'read:user user:email',
      state: started.state,
      code_challenge: started.codeChallenge,
      code_challenge_method: 'S256'
    }).toString()
    const { codeChallenge: _challenge, ...kept } = started
    return { ...kept, url: url.href }
  }

  async completeAuthorization (params: CallbackParams, kept: AuthorizationState | null | undefined): Promise<SocialProfile> {
    const checked = checkCallback(params, kept, this.name)
    return await this.#profile(await this.#exchange(checked.code, checked.redirectUri, checked.codeVerifier))
  }

  async #exchange (code: string, redirectUri: string | undefined, codeVerifier: string | undefined): Promise<string> {
    const form = new URLSearchParams({ client_id: this.#s.clientId, client_secret: this.#s.clientSecret, code })
    if (redirectUri !== undefined && redirectUri !== '') form.set('redirect_uri', redirectUri)
    if (codeVerifier !== undefined && codeVerifier !== '') form.set('code_verifier', codeVerifier)
    const answer = await callProvider(`${this.#oauth}/login/oauth/access_token`, this.#call({
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString()
    }), 'form')
    // GitHub answers 200 with `{error: 'bad_verification_code'}` for a refused code.
    const body = isObject(answer.body) ? answer.body : {}
    const token = str(body, 'access_token')
    if (answer.status === 200 && token !== undefined && token !== '' && body.error === undefined) return token
    throw new SocialCodeExchangeError(SOCIAL_MESSAGES.codeExchange)
  }

  async #checkTokenApp (accessToken: string): Promise<void> {
    const basic = Buffer.from(`${encodeURIComponent(this.#s.clientId)}:${encodeURIComponent(this.#s.clientSecret)}`).toString('base64')
    const answer = await callProvider(`${this.#api}/applications/${encodeURIComponent(this.#s.clientId)}/token`, this.#call({
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, accept: 'application/vnd.github+json', 'content-type': 'application/json', 'x-github-api-version': '2022-11-28' },
      body: JSON.stringify({ access_token: accessToken })
    }))
    if (answer.status === 401 || answer.status === 403) throw new SocialProviderError(`${this.name}: the client id or secret was refused`)
    if (answer.status !== 200 || !isObject(answer.body)) throw new SocialTokenError(SOCIAL_MESSAGES.token)
    const app = answer.body.app
    if (isObject(app) && app.client_id !== undefined && app.client_id !== this.#s.clientId) throw new SocialTokenError(SOCIAL_MESSAGES.token)
  }

  async #profile (accessToken: string): Promise<SocialProfile> {
    const headers = { authorization: `Bearer ${accessToken}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' }
    const user = await callProvider(`${this.#api}/user`, this.#call({ headers }))
    if (user.status === 401 || user.status === 403) throw new SocialTokenError(SOCIAL_MESSAGES.token)
    if (user.status !== 200 || !isObject(user.body)) throw new SocialProviderError(`${this.name}: /user answered HTTP ${user.status}`)
    const uid = idString(user.body.id)
    if (uid === undefined) throw new SocialProviderError(`${this.name}: /user has no id`)
    const emails = await callProvider(`${this.#api}/user/emails`, this.#call({ headers }))
    // Without the user:email scope GitHub refuses the list: the public email (unverified) is all there is.
    const list = emails.status === 200 && Array.isArray(emails.body) ? emails.body.filter(isObject) : []
    const verified = list.filter((e) => e.verified === true && typeof e.email === 'string')
    const chosen = verified.find((e) => e.primary === true) ?? verified[0]
    const publicEmail = str(user.body, 'email') ?? ''
    const email = typeof chosen?.email === 'string' ? chosen.email : publicEmail
    return {
      provider: this.name,
      uid,
      email,
      emailVerified: chosen !== undefined,
      username: str(user.body, 'login'),
      ...splitName(str(user.body, 'name')),
      extra: withoutSecrets(user.body)
    }
  }
}
