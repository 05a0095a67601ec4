import { Type, type Static } from '@sinclair/typebox'
import type { FastifyRequest } from 'fastify'
import { checkOptions, defaultsOf, expect, Flag, FromCode, Matching, OneOf, SecureFlag, Seconds, withDefaults, withUnknownOption, type DeepReadonly } from '../../option-checks.js'
import type { AccountUser } from '../../ports.js'

/*
 * django-rest-framework-jwt's JWT_AUTH settings, camelCased, as a schema: the types, the defaults and the
 * checks come from it. Kept apart from the routes so lib/options.ts composes it into the plugin's options
 * without loading the route code.
 */

/** The payload drf-jwt's jwt_payload_handler writes. */
export interface DrfJwtPayload {
  user_id: number
  /** The login field's value (Django's `get_username()`): the email when `loginField` is `email`. */
  username: string
  exp: number
  email: string
  /** Only with `allowRefresh` (and on every refreshed token): the time of the password login. */
  orig_iat?: number
  aud?: string
  iss?: string
  [claim: string]: unknown
}

type PayloadHandler = (user: AccountUser, payload: DrfJwtPayload) => Record<string, unknown>
type ResponsePayloadHandler = (token: string, user: AccountUser, request: FastifyRequest) => object | Promise<object>

/** JWT_AUTH settings that are the core's options here, and where they went. */
const ELSEWHERE: Record<string, string> = {
  leeway: 'set jwt.leeway (JWT_LEEWAY; shared with the core\'s verifier)',
  audience: 'set jwt.audience (JWT_AUDIENCE)',
  issuer: 'set jwt.issuer (JWT_ISSUER)',
  algorithm: 'set jwt.algorithm (JWT_ALGORITHM)',
  secretKey: 'set jwt.signingKey (JWT_SECRET_KEY)',
  privateKey: 'set jwt.signingKey (JWT_PRIVATE_KEY)',
  publicKey: 'set jwt.verifyingKey (JWT_PUBLIC_KEY)',
  verify: 'JWT_VERIFY=False (no signature check) is not supported'
}

/**
 * drf-jwt 1.11's `JWT_AUTH` settings, camelCased, with its defaults. Times are in seconds. The key, the
 * algorithm, `JWT_LEEWAY`, `JWT_AUDIENCE` and `JWT_ISSUER` are the core's `jwt.*` options (one signer and
 * verifier for all dialects).
 */
export const DrfJwtOptionsSchema = withUnknownOption(Type.Object({
  expirationDelta: Type.Optional(Seconds(1, { default: 300, description: 'JWT_EXPIRATION_DELTA: lifetime of a token, seconds.' })),
  allowRefresh: Type.Optional(Flag(false, 'JWT_ALLOW_REFRESH: tokens from api-token-auth/ carry `orig_iat`, so they can be refreshed.')),
  refreshExpirationDelta: Type.Optional(Seconds(1, { default: 7 * 24 * 3600, description: 'JWT_REFRESH_EXPIRATION_DELTA: how long after `orig_iat` a token may still be refreshed, seconds.' })),
  authHeaderPrefix: Type.Optional(Matching(/^[A-Za-z][\w-]*$/, {
    errorMessage: 'must be one word such as "JWT" or "Bearer"',
    default: 'JWT',
    description: 'JWT_AUTH_HEADER_PREFIX: `Authorization: <prefix> <token>` (any letter case; not `Token`, the opaque token scheme).'
  })),
  authCookie: Type.Optional(Matching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, {
    errorMessage: "must be a cookie name (letters, digits and !#$%&'*+-.^_`|~), or unset to turn the cookie off",
    description: 'JWT_AUTH_COOKIE: name of an HttpOnly cookie set with every token issued, and read when there is no Authorization header. Default: no cookie.'
  })),
  authCookieDomain: Type.Optional(Matching(/^\.?[A-Za-z0-9.-]+$/, {
    errorMessage: 'must be a domain name such as "example.com"', description: "The cookie's Domain (JWT_AUTH_COOKIE_DOMAIN of drf-jwt's successors). Default none."
  })),
  authCookiePath: Type.Optional(Matching(/^\/[\x21-\x3a\x3c-\x7e]*$/, {
    errorMessage: 'must be a path starting with /', default: '/', description: "The cookie's Path (JWT_AUTH_COOKIE_PATH), as Django."
  })),
  authCookieSecure: Type.Optional(SecureFlag("The cookie's Secure flag (JWT_AUTH_COOKIE_SECURE): 'auto' sets it whenever `protocol` is https or the request came over TLS (drf-jwt 1.11: off).")),
  authCookieSameSite: Type.Optional(OneOf(['lax', 'strict', 'none'], {
    default: 'lax', description: "The cookie's SameSite (JWT_AUTH_COOKIE_SAMESITE): what browsers assume for drf-jwt 1.11's cookie, which names none."
  })),
  verifyExpiration: Type.Optional(Flag(true, 'JWT_VERIFY_EXPIRATION: false accepts expired tokens (forever; drf-jwt warns against it).')),
  payloadHandler: Type.Optional(FromCode<PayloadHandler>('function',
    "JWT_PAYLOAD_HANDLER: the payload of a new token, given the user and drf-jwt's default payload. Keep `exp`, `username` and `user_id`.",
    Type.Function([], Type.Unknown()))),
  responsePayloadHandler: Type.Optional(FromCode<ResponsePayloadHandler>('function',
    'JWT_RESPONSE_PAYLOAD_HANDLER: the success body of all three endpoints. Default `{ token }`.', Type.Function([], Type.Unknown())))
}, { additionalProperties: false, description: "django-rest-framework-jwt's JWT_AUTH settings: the drf-jwt dialect's options." }),
(name, key) => Object.hasOwn(ELSEWHERE, key) ? `${name} is not an option: ${ELSEWHERE[key]}` : `unknown option "${name}"`)

/** drf-jwt's `JWT_AUTH` settings, camelCased (see DrfJwtOptionsSchema). */
export type DrfJwtOptions = Static<typeof DrfJwtOptionsSchema>

type OptionalKeys = 'authCookie' | 'authCookieDomain' | 'payloadHandler' | 'responsePayloadHandler'
export type ResolvedDrfJwtOptions = Required<Omit<DrfJwtOptions, OptionalKeys>> & Pick<DrfJwtOptions, OptionalKeys>

/** Every default, read from the schema: drf-jwt 1.11's `JWT_AUTH` defaults. */
export const DRF_JWT_DEFAULTS = defaultsOf(DrfJwtOptionsSchema) as DeepReadonly<Omit<ResolvedDrfJwtOptions, OptionalKeys>>

/** Merges drf-jwt's defaults under `input` and rejects anything mistyped, naming the option. */
export function resolveDrfJwtOptions (input: DrfJwtOptions = {}): ResolvedDrfJwtOptions {
  checkOptions(DrfJwtOptionsSchema, input, 'drfJwt')
  const o = withDefaults<ResolvedDrfJwtOptions>(DRF_JWT_DEFAULTS, input)
  expect(o.authHeaderPrefix.toLowerCase() !== 'token', 'drfJwt.authHeaderPrefix cannot be "Token": it is the opaque token scheme')
  expect(o.authCookieSameSite !== 'none' || o.authCookieSecure === true, 'drfJwt.authCookieSameSite "none" requires drfJwt.authCookieSecure: true (browsers drop it otherwise)')
  return o
}
