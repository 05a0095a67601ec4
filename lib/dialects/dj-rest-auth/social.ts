import { Type, type Static } from '@sinclair/typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { requireUser as currentUser } from '../../core.js'
import { fieldError, NotFoundError } from '../../errors.js'
import { countingFailures } from '../../http/rate-limit.js'
import { route, type TypedInstance } from '../../http/route.js'
import type { User } from '../../ports.js'
import { requestContext } from '../../request-context.js'
import { isSocialError } from '../../social/errors.js'
import type { SocialLogin } from '../../social/runtime.js'
import type { SocialAccount } from '../../social/store.js'
import type { SocialCredentials, SocialProfile } from '../../social/types.js'
import { BAD_REQUEST, jwtLoginBody, tag, UNAUTHORIZED, type DjRestAuthRoutesContext } from './common.js'
import { mfaStepFor, withMfaStep } from './mfa.js'
import { DjRestAuthJwt, DjRestAuthTokenKey } from './schemas.js'
import { Detail, Empty } from '../../../schemas/shared.js'

/**
 * dj-rest-auth's social views, for each configured provider: `{name}/` (SocialLoginView), `{name}/connect/`
 * (SocialConnectView), `socialaccounts/` (SocialAccountListView), `socialaccounts/{id}/disconnect/`
 * (SocialAccountDisconnectView). Their wire shapes, not their bugs: a bad id_token, a provider down or a
 * failed userinfo call is a 400 (dj-rest-auth: 500); connecting an account linked to someone else is refused
 * (dj-rest-auth signs in as them: its issue 464).
 */

const Token = (description: string) => Type.Optional(Type.String({ maxLength: 8192, description }))

/** SocialLoginSerializer (+ `code_verifier`, for a frontend that used PKCE). */
const SocialLoginBody = Type.Object({
  access_token: Token('An access token the frontend got from the provider.'),
  code: Token("An authorization code, exchanged here (with social.callbackUrl as redirect_uri)."),
  id_token: Token('google, apple and OpenID Connect providers: an id_token on its own, checked against the provider\'s keys.'),
  code_verifier: Token('The PKCE verifier, when the frontend sent a code_challenge (beyond dj-rest-auth).')
})
/** TwitterLoginSerializer. */
const TwitterLoginBody = Type.Object({
  access_token: Type.String({ minLength: 1, maxLength: 8192 }),
  token_secret: Type.String({ minLength: 1, maxLength: 8192 })
})

/** SocialAccountSerializer. */
const SocialAccountSchema = Type.Object({
  id: Type.Integer(),
  provider: Type.String(),
  uid: Type.String(),
  last_login: Type.String({ format: 'date-time' }),
  date_joined: Type.String({ format: 'date-time' })
}, { additionalProperties: false })
const SocialAccountList = Type.Array(SocialAccountSchema)
// DRF's <int:pk>: digits only; anything else is no route (404).
const AccountIdParams = Type.Object({ id: Type.String({ pattern: '^[0-9]{1,10}$' }) })

function socialAccount (account: SocialAccount): Static<typeof SocialAccountSchema> {
  return { id: account.id, provider: account.provider, uid: account.uid, last_login: account.lastLogin.toISOString(), date_joined: account.dateJoined.toISOString() }
}

function credentialsOf (body: Record<string, string | undefined>): SocialCredentials {
  const given = (value: string | undefined): string | undefined => value === undefined || value === '' ? undefined : value
  return {
    accessToken: given(body.access_token),
    tokenSecret: given(body.token_secret),
    code: given(body.code),
    codeVerifier: given(body.code_verifier),
    idToken: given(body.id_token)
  }
}

/**
 * Social errors in DRF's shapes: a 400 is `{non_field_errors: [..]}` as the serializer's ValidationError, a
 * 404 `{detail}`. The library error behind one (never a token) goes to the request's log.
 */
function asWireError (request: FastifyRequest, error: unknown): unknown {
  if (!isSocialError(error)) return error
  if (error.cause !== undefined) request.log.info({ err: error.cause, code: error.code }, 'fastify-accounts: social login refused')
  if (error.statusCode === 404) return new NotFoundError(error.message)
  return fieldError('non_field_errors', error.message)
}

async function social<T> (request: FastifyRequest, work: Promise<T>): Promise<T> {
  try {
    return await work
  } catch (error) {
    throw asWireError(request, error)
  }
}

export function socialRoutes (app: TypedInstance, ctx: DjRestAuthRoutesContext): void {
  const { core, dj, limit, authenticate, security } = ctx
  if (core.social === null) return
  const login: SocialLogin = core.social
  const { users: accounts, tokens, options } = core
  const loginResponse = dj.useJwt ? DjRestAuthJwt : DjRestAuthTokenKey

  /** The dialect's login response for `user` (LoginView.get_response): the token key, or the JWT pair, user and cookies. */
  async function signedIn (request: FastifyRequest, reply: FastifyReply, user: User): Promise<Static<typeof DjRestAuthTokenKey> | Static<typeof DjRestAuthJwt>> {
    const context = requestContext(request)
    if (dj.sessionLogin || (dj.useJwt && options.jwt.updateLastLogin)) await accounts.recordLogin(user)
    if (!dj.useJwt) return { key: await tokens.createAuthToken(user, context) }
    const pair = await tokens.issuePair(user, undefined, context)
    ctx.setAccessCookie(reply, pair.access)
    ctx.setRefreshCookie(reply, pair.refresh)
    return jwtLoginBody(dj, options.jwt, user, pair)
  }

  /** Who the body proves to be at `name`: the provider's checks, each failure a 400. */
  async function profileFrom (request: FastifyRequest, name: string): Promise<SocialProfile> {
    const provider = await login.provider(name)
    return await provider.authenticate(credentialsOf(request.body as Record<string, string | undefined>))
  }

  for (const name of login.names()) {
    const twitter = (login.options.providers[name].type ?? name) === 'twitter'
    const body = twitter ? TwitterLoginBody : SocialLoginBody

    route(app, {
      method: 'POST',
      url: `/${name}/`,
      schema: {
        ...tag('dj-rest-auth social'),
        summary: `Sign in with ${name}: ${twitter ? 'access_token and token_secret (OAuth 1.0a)' : 'access_token, code or id_token'}; a new account when none matches`,
        body,
        response: { 200: withMfaStep(dj, loginResponse), ...BAD_REQUEST, 429: Detail }
      },
      preHandler: limit('login'),
      async handler (request, reply) {
        const result = await social(request, countingFailures(request, (async () => {
          const profile = await profileFrom(request, name)
          return await login.service.login(profile, requestContext(request))
        })()))
        // A provider proves who the person is, not their second factor: a user with MFA on gets MFALoginView's first step.
        return await mfaStepFor(core, result.user) ?? await signedIn(request, reply, result.user)
      }
    })

    route(app, {
      method: 'POST',
      url: `/${name}/connect/`,
      schema: {
        ...tag('dj-rest-auth social'),
        summary: `Link a ${name} account to the current user`,
        security,
        body,
        response: { 200: loginResponse, ...BAD_REQUEST, ...UNAUTHORIZED, 429: Detail }
      },
      onRequest: authenticate,
      preHandler: limit('login'),
      async handler (request, reply) {
        const user = currentUser(request)
        await social(request, (async () => {
          const profile = await profileFrom(request, name)
          await login.service.connect(user.id, profile, requestContext(request))
        })())
        // SocialConnectView is a LoginView: it answers with the login response of the user it connected to.
        const fresh = await core.stores.users.findUserById(user.id)
        if (fresh === null) throw new NotFoundError('Not found.')
        return await signedIn(request, reply, fresh)
      }
    })
  }

  route(app, {
    method: 'GET',
    url: '/socialaccounts/',
    schema: { ...tag('dj-rest-auth social'), summary: "The current user's social accounts", security, response: { 200: SocialAccountList, ...UNAUTHORIZED } },
    onRequest: authenticate,
    async handler (request) {
      return (await login.service.list(currentUser(request).id)).map(socialAccount)
    }
  })

  route(app, {
    method: 'POST',
    url: '/socialaccounts/:id/disconnect/',
    schema: {
      ...tag('dj-rest-auth social'),
      summary: 'Unlink one of the current user\'s social accounts (refused when it is their last way to sign in)',
      security,
      params: AccountIdParams,
      response: { 200: Empty, ...BAD_REQUEST, ...UNAUTHORIZED, 404: Detail }
    },
    onRequest: authenticate,
    async handler (request) {
      await social(request, login.service.disconnect(currentUser(request).id, Number(request.params.id), requestContext(request)))
      return {}
    }
  })
}
