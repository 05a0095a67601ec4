import { createHmac } from 'node:crypto'
import { SOCIAL_MESSAGES, SocialCodeExchangeError, SocialInputError, SocialProviderError, SocialTokenError, SocialUnsupportedError } from './errors.js'
import { checkCallback, newAuthorization } from './flow.js'
import { callProvider, idString, isObject, splitName, str, trimSlash, withoutSecrets } from './http.js'
import {
  DEFAULT_TIMEOUT_MS, type AuthorizationRequest, type AuthorizationState, type CallbackParams, type SocialCredentials,
  type SocialProfile, type SocialProvider
} from './types.js'

/**
 * Facebook Login, from the Graph API docs: the code exchange at `{graph}/oauth/access_token`, `debug_token`
 * (with the app access token `appId|appSecret`) to check that a token a frontend sends was issued to this
 * app and is valid, and `/me` with `appsecret_proof` (HMAC-SHA256 of the token keyed with the app secret),
 * which Graph checks when the app requires it.
 */
export interface FacebookSettings {
  /** The app id. */
  clientId: string
  /** The app secret. */
  clientSecret: string
  /** Default `https://graph.facebook.com/v19.0`. */
  graphApiUrl?: string
  /** The login dialog; default `https://www.facebook.com/{version of graphApiUrl}/dialog/oauth`. */
  dialogUrl?: string
  /** Default `email,public_profile`. */
  scope?: string
  /** Default `id,email,name,first_name,last_name`. */
  fields?: string
  /** allauth's VERIFIED_EMAIL: trust the email Facebook gives as verified (default false, as allauth). */
  verifiedEmail?: boolean
  callbackUrl?: string
  timeoutMs?: number
}


export function appsecretProof (accessToken: string, appSecret: string): string {
  return createHmac('sha256', appSecret).update(accessToken).digest('hex')
}

export class FacebookSocialProvider implements SocialProvider {
  readonly name: string
  readonly kind = 'facebook' as const
  readonly supportsAuthorizationUrl = true
  readonly #s: FacebookSettings
  readonly #graph: string
  readonly #timeoutMs: number

  constructor (name: string, settings: FacebookSettings) {
    this.name = name
    this.#s = settings
    this.#graph = trimSlash(settings.graphApiUrl ?? 'https://graph.facebook.com/v19.0')
    this.#timeoutMs = settings.timeoutMs ?? DEFAULT_TIMEOUT_MS
  }

  #call (headers?: Record<string, string>): Parameters<typeof callProvider>[1] {
    return { provider: this.name, timeoutMs: this.#timeoutMs, headers }
  }

  async authenticate (credentials: SocialCredentials): Promise<SocialProfile> {
    if (credentials.code !== undefined && credentials.code !== '') {
      const token = await this.#exchange(credentials.code, credentials.redirectUri ?? this.#s.callbackUrl, credentials.codeVerifier)
      return await this.#profile(token, await this.#debugToken(token))
    }
    if (credentials.accessToken !== undefined && credentials.accessToken !== '') {
      return await this.#profile(credentials.accessToken, await this.#debugToken(credentials.accessToken))
    }
    if (credentials.idToken !== undefined) throw new SocialUnsupportedError(`${this.name} takes an access_token or a code.`)
    throw new SocialInputError(SOCIAL_MESSAGES.input)
  }

  async authorizationUrl (input: { redirectUri: string }): Promise<AuthorizationRequest> {
    const started = await newAuthorization(input.redirectUri, false)
    const version = /\/(v\d+\.\d+)$/.exec(this.#graph)?.[1]
    const url = new URL(this.#s.dialogUrl ?? `https://www.facebook.com/${version === undefined ? '' : `${version}/`}dialog/oauth`)
    url.search = new URLSearchParams({
      client_id: this.#s.clientId,
      redirect_uri: input.redirectUri,
      scope: this.#s.scope ?? 'email,public_profile',
      response_type: 'code',
      state: started.state,
      code_challenge: started.codeChallenge,
      code_challenge_method: 'S256'
    }).toString()
    const { codeChallenge: _challenge, ...kept } = started
    return { ...kept, url: url.href }
  }

  async completeAuthorization (params: CallbackParams, kept: AuthorizationState | null | undefined): Promise<SocialProfile> {
    const checked = checkCallback(params, kept, this.name)
    const token = await this.#exchange(checked.code, checked.redirectUri, checked.codeVerifier)
    return await this.#profile(token, await this.#debugToken(token))
  }

  async #exchange (code: string, redirectUri: string | undefined, codeVerifier: string | undefined): Promise<string> {
    const query = new URLSearchParams({ client_id: this.#s.clientId, client_secret: this.#s.clientSecret, code, redirect_uri: redirectUri ?? '' })
    if (codeVerifier !== undefined && codeVerifier !== '') query.set('code_verifier', codeVerifier)
    const answer = await callProvider(`${this.#graph}/oauth/access_token?${query.toString()}`, this.#call())
    const token = isObject(answer.body) ? str(answer.body, 'access_token') : undefined
    if (answer.status === 200 && token !== undefined && token !== '') return token
    throw new SocialCodeExchangeError(SOCIAL_MESSAGES.codeExchange)
  }

  /** `debug_token`: valid, and issued to this app id. Returns the Facebook user id it names. */
  async #debugToken (accessToken: string): Promise<string | undefined> {
    const query = new URLSearchParams({ input_token: accessToken, access_token: `${this.#s.clientId}|${this.#s.clientSecret}` })
    const answer = await callProvider(`${this.#graph}/debug_token?${query.toString()}`, this.#call())
    if (answer.status !== 200) {
      // Graph refuses the app token itself (wrong app secret): a misconfiguration, not the user's token.
      throw new SocialProviderError(`${this.name}: debug_token answered HTTP ${answer.status}`)
    }
    const data = isObject(answer.body) && isObject(answer.body.data) ? answer.body.data : undefined
    if (data === undefined) throw new SocialProviderError(`${this.name}: debug_token answered no data`)
    if (data.is_valid !== true || idString(data.app_id) !== this.#s.clientId) throw new SocialTokenError(SOCIAL_MESSAGES.token)
    return idString(data.user_id)
  }

  async #profile (accessToken: string, tokenUser: string | undefined): Promise<SocialProfile> {
    const query = new URLSearchParams({
      fields: this.#s.fields ?? 'id,email,name,first_name,last_name',
      appsecret_proof: appsecretProof(accessToken, this.#s.clientSecret)
    })
    const me = await callProvider(`${this.#graph}/me?${query.toString()}`, this.#call({ authorization: `Bearer ${accessToken}` }))
    if (me.status >= 400 && me.status < 500) throw new SocialTokenError(SOCIAL_MESSAGES.token)
    if (me.status !== 200 || !isObject(me.body)) throw new SocialProviderError(`${this.name}: /me answered HTTP ${me.status}`)
    const uid = idString(me.body.id)
    if (uid === undefined) throw new SocialProviderError(`${this.name}: /me has no id`)
    if (tokenUser !== undefined && tokenUser !== uid) throw new SocialTokenError(SOCIAL_MESSAGES.token)
    const email = str(me.body, 'email') ?? ''
    const names = splitName(str(me.body, 'name'))
    return {
      provider: this.name,
      uid,
      email,
      emailVerified: email !== '' && this.#s.verifiedEmail === true,
      firstName: str(me.body, 'first_name') ?? names.firstName,
      lastName: str(me.body, 'last_name') ?? names.lastName,
      extra: withoutSecrets(me.body)
    }
  }
}
