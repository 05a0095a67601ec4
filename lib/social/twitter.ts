import { createHmac } from 'node:crypto'
import OAuth from 'oauth-1.0a'
import { SOCIAL_MESSAGES, SocialInputError, SocialProviderError, SocialTokenError, SocialUnsupportedError } from './errors.js'
import { callProvider, idString, isObject, splitName, str, trimSlash, withoutSecrets } from './http.js'
import { DEFAULT_TIMEOUT_MS, type AuthorizationRequest, type SocialCredentials, type SocialProfile, type SocialProvider } from './types.js'

/**
 * X (Twitter) with OAuth 1.0a user tokens, as dj-rest-auth's TwitterLoginSerializer: the frontend sends the
 * `access_token` and `token_secret` it got, and `GET {apiUrl}/1.1/account/verify_credentials.json` signed
 * with the consumer secret and that token secret (HMAC-SHA1, through oauth-1.0a) says whose they are.
 * X returns `email` only when the user verified it (and the app may ask for it).
 */
export interface TwitterSettings {
  consumerKey: string
  consumerSecret: string
  /** Default `https://api.x.com`. */
  apiUrl?: string
  timeoutMs?: number
}

export class TwitterSocialProvider implements SocialProvider {
  readonly name: string
  readonly kind = 'twitter' as const
  readonly supportsAuthorizationUrl = false
  readonly #oauth: OAuth
  readonly #api: string
  readonly #timeoutMs: number

  constructor (name: string, settings: TwitterSettings) {
    this.name = name
    this.#api = trimSlash(settings.apiUrl ?? 'https://api.x.com')
    this.#timeoutMs = settings.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.#oauth = new OAuth({
      consumer: { key: settings.consumerKey, secret: settings.consumerSecret },
      signature_method: 'HMAC-SHA1',
      hash_function: (base, key) => createHmac('sha1', key).update(base).digest('base64')
    })
  }

  async authenticate (credentials: SocialCredentials): Promise<SocialProfile> {
    const { accessToken, tokenSecret } = credentials
    if (credentials.code !== undefined || credentials.idToken !== undefined) throw new SocialUnsupportedError(`${this.name} takes access_token and token_secret.`)
    if (accessToken === undefined || accessToken === '' || tokenSecret === undefined || tokenSecret === '') throw new SocialInputError(SOCIAL_MESSAGES.input)
    const url = `${this.#api}/1.1/account/verify_credentials.json?include_email=true&skip_status=true`
    const signed = this.#oauth.toHeader(this.#oauth.authorize({ url, method: 'GET' }, { key: accessToken, secret: tokenSecret }))
    const answer = await callProvider(url, { provider: this.name, timeoutMs: this.#timeoutMs, headers: { authorization: signed.Authorization } })
    if (answer.status === 401 || answer.status === 403) throw new SocialTokenError(SOCIAL_MESSAGES.token)
    if (answer.status !== 200 || !isObject(answer.body)) throw new SocialProviderError(`${this.name}: verify_credentials answered HTTP ${answer.status}`)
    const user = answer.body
    const uid = idString(user.id_str) ?? idString(user.id)
    if (uid === undefined) throw new SocialProviderError(`${this.name}: verify_credentials has no id`)
    const email = str(user, 'email') ?? ''
    return {
      provider: this.name,
      uid,
      email,
      emailVerified: email !== '',
      username: str(user, 'screen_name'),
      ...splitName(str(user, 'name')),
      extra: withoutSecrets(user)
    }
  }

  async authorizationUrl (): Promise<AuthorizationRequest> {
    throw new SocialUnsupportedError(`${this.name} (OAuth 1.0a) is served by the dj-rest-auth routes only.`)
  }

  async completeAuthorization (): Promise<SocialProfile> {
    throw new SocialUnsupportedError(`${this.name} (OAuth 1.0a) is served by the dj-rest-auth routes only.`)
  }
}
