import { createHmac } from 'node:crypto'
import { fastifyCookie, type CookieSerializeOptions } from '@fastify/cookie'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type, type Static } from '@sinclair/typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AccountsCore } from '../../core.js'
import { fieldError, NotFoundError } from '../../errors.js'
import { requestCookie, secureCookie } from '../../http/cookies.js'
import type { Limit } from '../../http/limit.js'
import { countingFailures } from '../../http/rate-limit.js'
import { route, type TypedInstance } from '../../http/route.js'
import { requestContext } from '../../request-context.js'
import { isSocialError, SOCIAL_MESSAGES, SocialRedirectUriError } from '../../social/errors.js'
import { checkRedirectUri } from '../../social/redirect-uri.js'
import type { SocialLogin } from '../../social/runtime.js'
import type { AuthorizationState } from '../../social/types.js'
import { TrenchStep, trenchStepFor } from './mfa.js'
import { Detail, FieldErrors } from '../../../schemas/shared.js'

/**
 * djoser's social routes (djoser.social.urls): `GET o/{provider}/?redirect_uri=` answers the provider's
 * authorization URL, `POST o/{provider}/` with the `code` and `state` the provider sent back signs in.
 * Django keeps the state in its session; here the state, nonce, PKCE verifier and redirect_uri go in a signed,
 * HttpOnly, SameSite=Lax cookie (no server-side session), so a frontend that sends credentials works as it
 * does with djoser. Provider names are python-social-auth's (`google-oauth2`, `apple-id`, `github`,
 * `facebook`; an OpenID Connect provider under its own). X (OAuth 1.0a) is dj-rest-auth's only.
 */

export interface DjoserSocialContext {
  core: AccountsCore
  limit: Limit
}

/** How long a started flow may take at the provider, seconds. */
const STATE_LIFETIME = 600
const COOKIE_PREFIX = 'fastify-accounts-social-'

const ProviderParams = Type.Object({ provider: Type.String({ maxLength: 100 }) })
const AuthorizationQuery = Type.Object({ redirect_uri: Type.Optional(Type.String({ maxLength: 2048 })) })
const CallbackFields = {
  code: Type.Optional(Type.String({ maxLength: 4096 })),
  state: Type.Optional(Type.String({ maxLength: 1024 })),
  error: Type.Optional(Type.String({ maxLength: 1024 })),
  iss: Type.Optional(Type.String({ maxLength: 2048 }))
}
const CallbackQuery = Type.Object(CallbackFields)
const CallbackBody = Type.Object(CallbackFields)
const AuthorizationUrl = Type.Object({ authorization_url: Type.String() }, { additionalProperties: false })
/** ProviderAuthSerializer: `user` is str(user), the login field's value. */
const SocialTokens = Type.Object({ access: Type.String(), refresh: Type.String(), user: Type.String() }, { additionalProperties: false })
const RedirectUriRefused = Type.String({ description: 'The bare JSON string djoser answers: "redirect_uri must be in SOCIAL_AUTH_ALLOWED_REDIRECT_URIS"' })

/** What the cookie holds: the flow's secrets, its provider and its end (epoch seconds). */
interface KeptFlow { p: string, s: string, n?: string, v: string, r: string, e: number }

function isKeptFlow (value: unknown): value is KeptFlow {
  if (typeof value !== 'object' || value === null) return false
  const v = value as Record<string, unknown>
  return typeof v.p === 'string' && typeof v.s === 'string' && typeof v.v === 'string' && typeof v.r === 'string' &&
    typeof v.e === 'number' && (v.n === undefined || typeof v.n === 'string')
}

/**
 * Registers the routes in a scope of their own inside the djoser scope (its parsers, validator and error
 * formatter apply): @fastify/cookie (when the host has not registered it) parses cookies for these routes only.
 */
export async function djoserSocialRoutes (app: TypedInstance, ctx: DjoserSocialContext): Promise<void> {
  if (ctx.core.social === null) return
  await app.register(async function djoserSocial (scope) {
    if (!scope.hasRequestDecorator('cookies')) await scope.register(fastifyCookie)
    routes(scope.withTypeProvider<TypeBoxTypeProvider>(), ctx)
  })
}

function routes (app: TypedInstance, ctx: DjoserSocialContext): void {
  const { core, limit } = ctx
  if (core.social === null) return
  const social: SocialLogin = core.social
  const { users: accounts, tokens, options } = core
  // A key of its own for the cookie, derived from secretKey: a signature made for it is good for nothing else.
  const secret = createHmac('sha256', options.secretKey).update('fastify-accounts social state cookie').digest()
  const tag = { tags: ['social'] }

  function cookieName (provider: string): string {
    return COOKIE_PREFIX + provider
  }

  function cookieOptions (request: FastifyRequest): CookieSerializeOptions {
    return { path: '/', httpOnly: true, sameSite: 'lax', secure: secureCookie('auto', request, options.protocol) }
  }

  function keep (request: FastifyRequest, reply: FastifyReply, provider: string, flow: AuthorizationState): void {
    const kept: KeptFlow = { p: provider, s: flow.state, v: flow.codeVerifier, r: flow.redirectUri, e: Math.floor(Date.now() / 1000) + STATE_LIFETIME }
    if (flow.nonce !== undefined) kept.n = flow.nonce
    const value = fastifyCookie.sign(Buffer.from(JSON.stringify(kept)).toString('base64url'), secret)
    reply.setCookie(cookieName(provider), value, { ...cookieOptions(request), maxAge: STATE_LIFETIME })
  }

  /** The flow the cookie kept for `provider`: null when there is none, its signature is wrong, or it ended. */
  function kept (request: FastifyRequest, provider: string): AuthorizationState | null {
    const raw = requestCookie(request, cookieName(provider))
    if (raw === undefined || raw === '') return null
    const unsigned = fastifyCookie.unsign(raw, secret)
    if (!unsigned.valid || unsigned.value === null) return null
    let flow: unknown
    try {
      flow = JSON.parse(Buffer.from(unsigned.value, 'base64url').toString('utf8'))
    } catch {
      return null
    }
    if (!isKeptFlow(flow) || flow.p !== provider || flow.e < Date.now() / 1000) return null
    return { state: flow.s, codeVerifier: flow.v, redirectUri: flow.r, ...(flow.n === undefined ? {} : { nonce: flow.n }) }
  }

  /** Social errors in djoser's shapes: 400 `{non_field_errors}` (the serializer's ValidationError), 404 `{detail}`. */
  function asWireError (request: FastifyRequest, error: unknown): unknown {
    if (!isSocialError(error)) return error
    if (error.cause !== undefined) request.log.info({ err: error.cause, code: error.code }, 'fastify-accounts: social login refused')
    if (error.statusCode === 404) return new NotFoundError(error.message)
    return fieldError('non_field_errors', error.message)
  }

  route(app, {
    method: 'GET',
    url: '/o/:provider/',
    schema: {
      ...tag,
      summary: "Start a social login: the provider's authorization URL (state, nonce and PKCE kept in a signed HttpOnly cookie)",
      params: ProviderParams,
      querystring: AuthorizationQuery,
      response: { 200: AuthorizationUrl, 400: Type.Union([RedirectUriRefused, FieldErrors]), 404: Detail }
    },
    async handler (request, reply) {
      try {
        // djoser's order: the redirect_uri first, then the provider.
        const redirectUri = checkRedirectUri(request.query.redirect_uri, social.options.allowedRedirectUris)
        const provider = await social.provider(social.configuredName(request.params.provider))
        const started = await provider.authorizationUrl({ redirectUri })
        keep(request, reply, request.params.provider, started)
        return { authorization_url: started.url }
      } catch (error) {
        if (error instanceof SocialRedirectUriError) {
          return await reply.code(400).type('application/json; charset=utf-8').send(JSON.stringify(SOCIAL_MESSAGES.redirectUri))
        }
        throw asWireError(request, error)
      }
    }
  })

  route(app, {
    method: 'POST',
    url: '/o/:provider/',
    schema: {
      ...tag,
      summary: 'Complete a social login with the code and state the provider sent back (query string or body): a JWT pair',
      params: ProviderParams,
      querystring: CallbackQuery,
      body: CallbackBody,
      response: { 200: TrenchStep, 201: SocialTokens, 400: FieldErrors, 404: Detail, 429: Detail }
    },
    preHandler: limit('login'),
    async handler (request, reply) {
      const name = request.params.provider
      const q = request.query
      const b = request.body as Static<typeof CallbackBody>
      const given = (a: string | undefined, c: string | undefined): string | undefined => a !== undefined && a !== '' ? a : c
      const params = { code: given(q.code, b.code), state: given(q.state, b.state), error: given(q.error, b.error), iss: given(q.iss, b.iss) }
      let user
      try {
        user = await countingFailures(request, (async () => {
          const provider = await social.provider(social.configuredName(name))
          const profile = await provider.completeAuthorization(params, kept(request, name))
          return (await social.service.login(profile, requestContext(request))).user
        })())
      } catch (error) {
        throw asWireError(request, error)
      }
      // The flow is done: its cookie goes (a second POST with it finds no state).
      reply.setCookie(cookieName(name), '', { ...cookieOptions(request), maxAge: 0, expires: new Date(0) })
      // A provider proves who the person is, not their second factor: a user with MFA on gets trench's first step.
      const step = await trenchStepFor(core, user, 'jwt')
      if (step !== null) return await reply.code(200).send(step)
      if (options.jwt.updateLastLogin) await accounts.recordLogin(user)
      const pair = await tokens.issuePair(user, undefined, requestContext(request))
      return await reply.code(201).send({ access: pair.access, refresh: pair.refresh, user: user[options.loginField] })
    }
  })
}
