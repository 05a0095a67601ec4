import Fastify from 'fastify'
import t from 'tap'
import accounts, {
  InvalidCredentialsError, NotFoundError, OptionsError, PermissionDeniedError, ServiceUnavailableError, StoreUnavailableError, TokenNotValidError, fieldError
} from '../lib/index.js'
import {
  resolveSanicJwtOptions, SANIC_JWT_DEFAULTS, SanicJwtException, sanicJwtErrorFormatter, sanicJwtRoutes, type SanicJwtOptions
} from '../lib/dialects/sanic-jwt/index.js'
import { fastHasher } from './helpers/app.js'
import { buildSanicApp, SECRET } from './helpers/sanic-jwt.js'

t.test('resolveSanicJwtOptions: sanic-jwt 1.8\'s defaults', async t => {
  const o = resolveSanicJwtOptions()
  t.match(o, {
    accessTokenName: 'access_token',
    refreshTokenName: 'refresh_token',
    refreshTokenEnabled: false,
    userIdKey: 'user_id',
    expirationDelta: 1800,
    leeway: 180,
    authorizationHeader: 'authorization',
    authorizationHeaderPrefix: 'Bearer',
    claimIat: false,
    claimNbf: false,
    claimNbfDelta: 0,
    cookieSet: false,
    cookieStrict: true,
    cookieAccessTokenName: 'access_token',
    cookieRefreshTokenName: 'refresh_token',
    cookieHttponly: true,
    cookieDomain: '',
    cookieSplit: false,
    pathToAuthenticate: '/',
    pathToVerify: '/verify',
    pathToRetrieveUser: '/me',
    pathToRefresh: '/refresh'
  })
  t.equal(o.claimAud, undefined)
  t.equal(o.claimIss, undefined)
  t.equal(o.refreshTokenLifetime, undefined, 'the core\'s jwt.refreshTokenLifetime applies')
  t.same(resolveSanicJwtOptions({ prefix: '/auth' }), o, 'Fastify\'s prefix is accepted and ignored')
  t.same(resolveSanicJwtOptions(o), o, 'idempotent')
  t.not(resolveSanicJwtOptions(), resolveSanicJwtOptions(), 'a fresh object each time')
  t.equal(SANIC_JWT_DEFAULTS.expirationDelta, 1800)
})

t.test('resolveSanicJwtOptions: normalises the header name and SameSite spelling', async t => {
  const o = resolveSanicJwtOptions({ authorizationHeader: 'X-Token', cookieSamesite: 'lax' as 'Lax' })
  t.equal(o.authorizationHeader, 'x-token')
  t.equal(o.cookieSamesite, 'Lax')
})

t.test('resolveSanicJwtOptions: a mistake names the option', async t => {
  const cases: Array<[unknown, RegExp]> = [
    [{ accessTokenNmae: 'jwt' }, /sanicJwt\.accessTokenNmae is not a sanic-jwt option/],
    [{ refreshTokenEnabled: 'yes' }, /sanicJwt\.refreshTokenEnabled must be a boolean/],
    [{ accessTokenName: '' }, /sanicJwt\.accessTokenName must be a non-empty string/],
    [{ userIdKey: 5 }, /sanicJwt\.userIdKey/],
    [{ refreshTokenEnabled: true, refreshTokenName: 'access_token' }, /sanicJwt\.refreshTokenName must differ/],
    [{ expirationDelta: 0 }, /sanicJwt\.expirationDelta must be a positive whole number/],
    [{ expirationDelta: 1.5 }, /sanicJwt\.expirationDelta/],
    [{ leeway: -1 }, /sanicJwt\.leeway/],
    [{ claimNbfDelta: 'soon' }, /sanicJwt\.claimNbfDelta/],
    [{ refreshTokenLifetime: 0 }, /sanicJwt\.refreshTokenLifetime/],
    [{ authorizationHeader: 'Bad Header' }, /sanicJwt\.authorizationHeader/],
    [{ authorizationHeaderPrefix: 'Two Words' }, /sanicJwt\.authorizationHeaderPrefix/],
    [{ claimAud: '' }, /sanicJwt\.claimAud/],
    [{ claimIss: 3 }, /sanicJwt\.claimIss/],
    [{ cookieAccessTokenName: 'a;b' }, /sanicJwt\.cookieAccessTokenName must be a cookie name/],
    [{ cookieSet: true, refreshTokenEnabled: true, cookieRefreshTokenName: 'access_token' }, /must differ/],
    [{ cookieDomain: 'a b' }, /sanicJwt\.cookieDomain/],
    [{ cookiePath: 'auth' }, /sanicJwt\.cookiePath/],
    [{ cookieMaxAge: -5 }, /sanicJwt\.cookieMaxAge/],
    [{ cookieSamesite: 'sometimes' }, /sanicJwt\.cookieSamesite must be/],
    [{ cookieSamesite: 'None' }, /needs cookieSecure/],
    [{ pathToVerify: 'verify' }, /sanicJwt\.pathToVerify must be a path/],
    [{ pathToVerify: '/me' }, /must differ/],
    [null, /sanicJwt\.options must be an object/]
  ]
  for (const [input, message] of cases) {
    t.throws(() => resolveSanicJwtOptions(input as SanicJwtOptions), message, JSON.stringify(input))
    try {
      resolveSanicJwtOptions(input as SanicJwtOptions)
    } catch (error) {
      t.ok(error instanceof OptionsError, 'an OptionsError')
      t.match((error as Error).message, /^fastify-accounts: sanicJwt\./)
    }
  }
})

t.test('registering the routes with a bad option: ready() rejects with the message', async t => {
  await t.rejects(buildSanicApp({ expirationDelta: -1 }), /fastify-accounts: sanicJwt\.expirationDelta/)
})

t.test('refresh tokens are kept in the core token store (app.accounts.stores.tokens)', async t => {
  const app = Fastify({ logger: false })
  await app.register(accounts, { prefix: '/djoser', passwordHasher: fastHasher, jwt: { signingKey: SECRET } })
  app.register(sanicJwtRoutes, { prefix: '/auth', refreshTokenEnabled: true })
  t.teardown(() => app.close())
  await app.ready()
  t.type(app.accounts.stores.tokens.saveRefreshToken, 'function', 'the core exposes its token store: no store option needed')
})

t.test('sanicJwtErrorFormatter: every error in {reasons, exception} with its status', async t => {
  const format = sanicJwtErrorFormatter()
  t.same(format(new SanicJwtException('MissingAuthorizationHeader', 400, 'Authorization header not present.')),
    { statusCode: 400, body: { reasons: ['Authorization header not present.'], exception: 'MissingAuthorizationHeader' } })
  t.same(format(new SanicJwtException('InvalidToken', 401, ['Signature has expired.'], false)),
    { statusCode: 401, body: { valid: false, reason: 'Signature has expired.', reasons: ['Signature has expired.'], exception: 'InvalidToken' } })
  t.match(format(new InvalidCredentialsError('nope')), { statusCode: 401, body: { exception: 'AuthenticationFailed' } })
  t.match(format(new TokenNotValidError('bad')), { statusCode: 401, body: { reasons: ['bad'], exception: 'Unauthorized' } })
  t.match(format(new PermissionDeniedError('no')), { statusCode: 403, body: { exception: 'Unauthorized' } })
  t.match(format(new NotFoundError('Not found.')), { statusCode: 404, body: { exception: 'NotFound' } })
  t.match(format(new ServiceUnavailableError('down')), { statusCode: 503, body: { exception: 'ServiceUnavailable' } })
  t.match(format(new StoreUnavailableError('redis down')), { statusCode: 503, body: { exception: 'ServiceUnavailable' } })
  t.match(format(fieldError('email', 'Enter a valid email address.')), { statusCode: 400, body: { reasons: ['email: Enter a valid email address.'], exception: 'BadRequest' } })
  t.equal(format(new Error('a bug')), null, 'a bug is nobody\'s input: 500')
  t.equal(format('not even an error'), null)
})

t.test('a failing token store answers 503 in sanic-jwt\'s shape, never a 500', async t => {
  const a = await buildSanicApp({ refreshTokenEnabled: true })
  t.teardown(() => a.app.close())
  const failing = async (): Promise<never> => { throw new StoreUnavailableError('the token store is down') }
  a.tokens.saveRefreshToken = failing
  const created = await a.app.inject({ method: 'POST', url: '/djoser/users/', payload: { username: 'dave', email: 'dave@example.com', password: 'correct-horse-battery-staple' } })
  t.equal(created.statusCode, 201)
  const res = await a.app.inject({ method: 'POST', url: '/auth', payload: { username: 'dave', password: 'correct-horse-battery-staple' } })
  t.equal(res.statusCode, 503)
  t.same(JSON.parse(res.body), { reasons: ['The service is temporarily unavailable. Try again later.'], exception: 'ServiceUnavailable' })
})
