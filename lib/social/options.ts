import { Type, type Static } from '@sinclair/typebox'
import { checkOptions, expect, Flag } from '../option-checks.js'
import { PROVIDER_TYPES, providerType, type ProviderOptions } from './provider-types.js'

/*
 * The `social` option block as a schema (for lib/options.ts to compose, the options table and the JSON
 * Schema file), and the checks no schema can say: which fields each provider type needs.
 */

const Url = (description: string) => Type.Optional(Type.String({ pattern: '^https?://', errorMessage: 'must be an http(s) URL', description }))
const Text = (description: string) => Type.Optional(Type.String({ minLength: 1, description }))

/** Every field any provider type takes; what each type needs is checked by resolveSocialOptions. */
export const SocialProviderSchema = Type.Object({
  type: Type.Optional(Type.Union(PROVIDER_TYPES.map((t) => Type.Literal(t)), {
    description: 'The provider type: implied by the names google, apple, github, facebook and twitter; `oidc` for any OpenID Connect provider.'
  })),
  clientId: Text('The client id (app id; Apple: the Services ID).'),
  clientSecret: Text('The client secret (app secret).'),
  issuer: Url('OpenID Connect issuer (google: https://accounts.google.com, apple: https://appleid.apple.com; required for oidc).'),
  tokenInfoUrl: Url('Google: where an access token sent on its own is checked to be this client\'s (default https://oauth2.googleapis.com/tokeninfo).'),
  scope: Text('The scopes asked for (google and oidc: `openid email profile`; apple: `openid email name`; github: `read:user user:email`; facebook: `email,public_profile`).'),
  teamId: Text('Apple: the team id.'),
  keyId: Text('Apple: the key id of privateKey.'),
  privateKey: Text('Apple: the PKCS#8 PEM (.p8) key that signs the client secret.'),
  oauthUrl: Url('GitHub: default https://github.com.'),
  apiUrl: Url('GitHub: default https://api.github.com; twitter: default https://api.x.com.'),
  graphApiUrl: Url('Facebook: default https://graph.facebook.com/v19.0.'),
  dialogUrl: Url('Facebook: the login dialog, default https://www.facebook.com/v19.0/dialog/oauth.'),
  fields: Text('Facebook: the /me fields, default id,email,name,first_name,last_name.'),
  verifiedEmail: Type.Optional(Type.Boolean({ description: "Facebook: trust its email as verified (allauth's VERIFIED_EMAIL; default false)." })),
  consumerKey: Text('Twitter (X): the API key.'),
  consumerSecret: Text('Twitter (X): the API key secret.'),
  callbackUrl: Url("This provider's callback_url (default social.callbackUrl)."),
  timeout: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'Seconds per provider call (default social.timeout).' })),
  clockTolerance: Type.Optional(Type.Integer({ minimum: 0, description: 'OpenID Connect: seconds of clock skew allowed on id_token times (default 30).' })),
  allowInsecureRequests: Type.Optional(Type.Boolean({ description: 'oidc: allow an http issuer that is not on this machine (loopback issuers are allowed).' }))
}, { additionalProperties: false })

export const SocialOptionsSchema = Type.Object({
  providers: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z0-9_-]+$' }), SocialProviderSchema, {
    default: {}, description: 'The providers, by the name their routes use.'
  })),
  callbackUrl: Url("dj-rest-auth's callback_url: the redirect_uri of a code sent without one."),
  allowedRedirectUris: Type.Optional(Type.Array(Type.String({ pattern: '^https?://' }), { default: [], description: "djoser's SOCIAL_AUTH_ALLOWED_REDIRECT_URIS." })),
  emailAuthentication: Type.Optional(Flag(false, "allauth's SOCIALACCOUNT_EMAIL_AUTHENTICATION: a provider-verified email signs in the local user that has it.")),
  emailAuthenticationAutoConnect: Type.Optional(Flag(false, "allauth's SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT: and links the provider account to it.")),
  autoSignup: Type.Optional(Flag(true, "allauth's SOCIALACCOUNT_AUTO_SIGNUP: a person no local account matches gets one.")),
  timeout: Type.Optional(Type.Number({ exclusiveMinimum: 0, default: 10, description: 'Seconds per provider call (discovery, JWKS, token, userinfo, API).' }))
}, { additionalProperties: false, description: 'Social login (dj-rest-auth social views, djoser o/{provider}/).' })

export type SocialOptions = Static<typeof SocialOptionsSchema>
export interface ResolvedSocialOptions {
  providers: Record<string, ProviderOptions>
  callbackUrl?: string
  allowedRedirectUris: string[]
  emailAuthentication: boolean
  emailAuthenticationAutoConnect: boolean
  autoSignup: boolean
  timeout: number
}

const NEEDS: Record<(typeof PROVIDER_TYPES)[number], string[]> = {
  google: ['clientId', 'clientSecret'],
  apple: ['clientId', 'teamId', 'keyId', 'privateKey'],
  github: ['clientId', 'clientSecret'],
  facebook: ['clientId', 'clientSecret'],
  twitter: ['consumerKey', 'consumerSecret'],
  oidc: ['issuer', 'clientId']
}

/** Checks the block (throws OptionsError naming the option) and fills in the defaults. */
export function resolveSocialOptions (value: unknown): ResolvedSocialOptions {
  checkOptions(SocialOptionsSchema, value, 'social')
  const o = value as SocialOptions
  for (const [name, provider] of Object.entries(o.providers ?? {})) {
    let type: string
    try {
      type = providerType(name, provider)
    } catch {
      expect(false, `social.providers.${name} needs type (one of ${PROVIDER_TYPES.join(', ')}): its name is not a provider this package knows`)
    }
    for (const field of NEEDS[type as keyof typeof NEEDS]) {
      expect((provider as Record<string, unknown>)[field] !== undefined, `social.providers.${name}.${field} is required (type ${type})`)
    }
  }
  return {
    providers: (o.providers ?? {}) as Record<string, ProviderOptions>,
    callbackUrl: o.callbackUrl,
    allowedRedirectUris: [...o.allowedRedirectUris ?? []],
    emailAuthentication: o.emailAuthentication ?? false,
    emailAuthenticationAutoConnect: o.emailAuthenticationAutoConnect ?? false,
    autoSignup: o.autoSignup ?? true,
    timeout: o.timeout ?? 10
  }
}
