import { createHash } from 'node:crypto'
import rateLimitPlugin from '@fastify/rate-limit'
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { coreOf, userOf } from '../core.js'
import { InvalidCredentialsError, isAccountsError, RateLimitedError } from '../errors.js'
import type { AccountsEventEmitter } from '../events.js'
import { requestContext } from '../request-context.js'
import type { RateLimitRedis, ResolvedRateLimitOptions } from '../options.js'
import type { Limit, LimitedAction } from './limit.js'

export type { AccountOf, Limit, LimitedAction, LimitHook } from './limit.js'

type Limiter = ReturnType<FastifyInstance['createRateLimit']>

// ---- the failure budget ------------------------------------------------------------------------------

/**
 * Failed password checks per account. @fastify/rate-limit counts every request it sees and cannot give a
 * count back, so this small counter lives beside it, on the same backend: an attempt takes a unit from its
 * account's budget before the password is checked (so a thousand guesses sent at once cannot all get in
 * while the first is being hashed), and gives it back unless the check failed. A fixed window, as
 * @fastify/rate-limit's: it opens with the first unit taken (a counter given back to zero is dropped) and
 * lasts `timeWindow`; a spent budget stays spent, whatever the password, until it closes.
 */
interface FailureCounter {
  /** Takes one unit from each key's budget, all or none: 0 when taken, else the milliseconds until the fullest budget's window ends. */
  take: (keys: string[], max: number, windowMs: number) => Promise<number>
  /** Gives back the units taken (a key whose window ended meanwhile is left alone). */
  giveBack: (keys: string[]) => Promise<void>
}

/** At most this many accounts are tracked in memory: past it, ended windows go first, then the oldest. */
const MEMORY_ENTRIES = 100_000

function memoryCounter (): FailureCounter {
  const entries = new Map<string, { count: number, endsAt: number }>()
  const live = (key: string, now: number): { count: number, endsAt: number } | undefined => {
    const entry = entries.get(key)
    if (entry !== undefined && entry.endsAt <= now) entries.delete(key)
    return entry !== undefined && entry.endsAt > now ? entry : undefined
  }
  const prune = (now: number): void => {
    if (entries.size <= MEMORY_ENTRIES) return
    for (const [key, entry] of entries) if (entry.endsAt <= now) entries.delete(key)
    for (const key of entries.keys()) {
      if (entries.size <= MEMORY_ENTRIES * 0.9) break
      entries.delete(key)
    }
  }
  return {
    async take (keys, max, windowMs) {
      const now = Date.now()
      const spent = keys.flatMap((key) => {
        const entry = live(key, now)
        return entry !== undefined && entry.count >= max ? [entry.endsAt - now] : []
      })
      if (spent.length > 0) return Math.max(...spent)
      for (const key of keys) {
        const entry = live(key, now)
        if (entry === undefined) entries.set(key, { count: 1, endsAt: now + windowMs })
        else entry.count++
      }
      prune(now)
      return 0
    },
    async giveBack (keys) {
      const now = Date.now()
      for (const key of keys) {
        const entry = live(key, now)
        if (entry !== undefined && --entry.count <= 0) entries.delete(key)
      }
    }
  }
}

// All or none, in one step on the server: KEYS the accounts' counters, ARGV[1] the budget, ARGV[2] the window (ms).
const TAKE = `
local max = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local wait = 0
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= max then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then
      redis.call('PEXPIRE', key, window)
      ttl = window
    end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 or redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, window) end
end
return 0
`
// DECR on a counter whose window ended would make one that never expires: only a live counter is given back to.
const GIVE_BACK = `
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 and redis.call('DECR', key) <= 0 then redis.call('DEL', key) end
end
return 0
`

type FailureCommands = Record<'fastifyAccountsTakeFailure' | 'fastifyAccountsGiveBackFailure', (...args: Array<string | number>) => Promise<unknown>>

function redisCounter (redis: RateLimitRedis, namespace: string): FailureCounter {
  const commands = redis as unknown as Partial<FailureCommands>
  // Defined once per client (another app on the same client finds them); the key count comes first in each call.
  if (typeof commands.fastifyAccountsTakeFailure !== 'function') redis.defineCommand('fastifyAccountsTakeFailure', { lua: TAKE })
  if (typeof commands.fastifyAccountsGiveBackFailure !== 'function') redis.defineCommand('fastifyAccountsGiveBackFailure', { lua: GIVE_BACK })
  const client = redis as unknown as FailureCommands
  // One hash tag for every counter: an account's keys are used together, which Redis Cluster allows within one slot.
  const keyOf = (key: string): string => `${namespace}{failures}:${key}`
  return {
    async take (keys, max, windowMs) {
      return Number(await client.fastifyAccountsTakeFailure(keys.length, ...keys.map(keyOf), max, windowMs))
    },
    async giveBack (keys) {
      await client.fastifyAccountsGiveBackFailure(keys.length, ...keys.map(keyOf))
    }
  }
}

/**
 * A unit taken from an account's failure budget by a route's preHandler, until the route says how its
 * password check went (countingFailures) or, failing that, until the response is sent.
 */
interface Pending {
  settle: (failed: boolean) => Promise<void>
}

const pending = new WeakMap<object, Pending>()

/** A wrong password at login (unknown or inactive account too), or a wrong `current_password`: what the failure budget counts. */
function isFailedPasswordCheck (error: unknown): boolean {
  if (error instanceof InvalidCredentialsError) return true
  if (!isAccountsError(error) || error.code !== 'ACCOUNTS_VALIDATION') return false
  const fields = (error as { fields?: Record<string, unknown> }).fields
  return fields !== undefined && Object.hasOwn(fields, 'current_password')
}

/**
 * Runs the password check of a route limited with `limit('login', …)` or `limit('password')`, and settles
 * the unit its preHandler took from the account's failure budget: refused credentials or a wrong
 * `current_password` keep it spent; anything else (success, a weak new password, a taken name, a failing
 * store) gives it back. Pass the service's promise as it is, before mapping its errors to the wire:
 * `const user = await countingFailures(request, accounts.authenticateCredentials(login, password))`.
 * Without limits (`rateLimit: false`) it only awaits.
 */
export async function countingFailures<T> (request: object, check: Promise<T>): Promise<T> {
  const unit = pending.get(request)
  let result: T
  try {
    result = await check
  } catch (error) {
    await unit?.settle(isFailedPasswordCheck(error))
    throw error
  }
  await unit?.settle(false)
  return result
}

// ---- the hooks ---------------------------------------------------------------------------------------

function accountKeys (value: unknown): string[] {
  const names = (Array.isArray(value) ? value : [value]).filter((name): name is string => typeof name === 'string' && name !== '')
  // Keys are digests: no usernames or email addresses in Redis, and a name of any length makes a short key.
  const keys = names.map((name) => createHash('sha256').update(name.normalize('NFKC').toLowerCase()).digest('base64url'))
  return [...new Set(keys)]
}

/** The authenticated user's names: a current_password guess is a guess at the login by either. */
function userNames (request: FastifyRequest): string[] {
  const core = coreOf(request.server)
  const user = core === undefined ? null : userOf(request, core.names)
  return user === null ? [] : [user.username, user.email]
}

/** The authenticated user's id, for `rateLimit.exceeded`; null before authentication or without it. */
function userIdOf (request: FastifyRequest): number | null {
  const core = coreOf(request.server)
  return core === undefined ? null : userOf(request, core.names)?.id ?? null
}

function throttled (reply: FastifyReply, seconds: number): never {
  reply.header('retry-after', String(seconds))
  throw new RateLimitedError(`Request was throttled. Expected available in ${seconds} seconds.`)
}

/** Counters that do not answer let the request through: a Redis outage must not lock every user out. */
function unavailable (log: FastifyBaseLogger, error: unknown, what = 'request let through'): void {
  log.warn({ err: error }, `fastify-accounts: rate-limit counters unavailable, ${what}`)
}

/**
 * Per-address budgets (@fastify/rate-limit) and per-account ones (@fastify/rate-limit for resets and
 * activation, the failure counter above for password checks), in memory or, shared by every instance, in
 * Redis. The hooks run as preHandlers, after authentication and body validation, so the account the body
 * names (or the authenticated user) can be counted too.
 */
export async function registerRateLimits (app: FastifyInstance, options: ResolvedRateLimitOptions | false, events?: AccountsEventEmitter): Promise<Limit> {
  if (options === false) return () => []
  await app.register(rateLimitPlugin, {
    global: false,
    // Errors reach the hooks below, which log them and let the request through.
    skipOnError: false,
    ...(options.redis === undefined ? {} : { redis: options.redis, nameSpace: options.redisNamespace })
  })
  const failures = options.redis === undefined ? memoryCounter() : redisCounter(options.redis, options.redisNamespace)
  const failureBudget = { max: options.perAccountFailures.max, windowMs: options.perAccountFailures.timeWindow * 1000 }

  const accountOfRequest = new WeakMap<FastifyRequest, string>()
  const limiters = new Map<string, Limiter>()
  const limiter = (bucket: string, window: { max: number, timeWindow: number }, key: (request: FastifyRequest) => string): Limiter => {
    let made = limiters.get(bucket)
    if (made === undefined) {
      made = app.createRateLimit({ max: window.max, timeWindow: window.timeWindow * 1000, keyGenerator: key })
      limiters.set(bucket, made)
    }
    return made
  }
  // Logins and current_password checks share one per-address budget: both cost a password hash.
  const perAddress = (action: LimitedAction): Limiter => {
    if (action === 'registration') return limiter('registration:ip', options.registration, (request) => `registration:ip:${request.ip}`)
    const bucket = action === 'password' ? 'login' : action
    return limiter(`${bucket}:ip`, options.perIp, (request) => `${bucket}:ip:${request.ip}`)
  }
  const perAccount = (action: LimitedAction): Limiter =>
    limiter(`${action}:account`, options.perAccount, (request) => `${action}:account:${accountOfRequest.get(request) ?? ''}`)

  function exceeded (request: FastifyRequest, reply: FastifyReply, seconds: number, limit: LimitedAction, scope: 'address' | 'account'): never {
    events?.emit('rateLimit.exceeded', { limit, scope, userId: userIdOf(request) }, requestContext(request))
    throttled(reply, seconds)
  }

  async function spend (request: FastifyRequest, reply: FastifyReply, check: Limiter, limit: LimitedAction, scope: 'address' | 'account'): Promise<void> {
    let verdict: Awaited<ReturnType<Limiter>>
    try {
      verdict = await check(request)
    } catch (error) {
      unavailable(request.log, error)
      return
    }
    if (!verdict.isAllowed && verdict.isExceeded) exceeded(request, reply, verdict.ttlInSeconds, limit, scope)
  }

  /** Takes a unit from the accounts' failure budgets, settled by countingFailures or when the response is sent. */
  async function takeFailure (request: FastifyRequest, reply: FastifyReply, action: 'login' | 'password', keys: string[]): Promise<void> {
    let wait: number
    try {
      wait = await failures.take(keys, failureBudget.max, failureBudget.windowMs)
    } catch (error) {
      unavailable(request.log, error)
      return
    }
    if (wait > 0) exceeded(request, reply, Math.max(1, Math.ceil(wait / 1000)), action, 'account')
    let settled = false
    const unit: Pending = {
      async settle (failed) {
        if (settled) return
        settled = true
        pending.delete(request)
        if (failed) return
        try {
          await failures.giveBack(keys)
        } catch (error) {
          unavailable(request.log, error, 'an attempt that did not fail stays counted')
        }
      }
    }
    pending.set(request, unit)
    // A route that did not say: a refused login (400, 401, in every dialect) counts; a current_password check
    // only counts through countingFailures (its 400 may be a weak new password). An aborted request stays counted.
    reply.raw.once('finish', () => {
      const status = reply.statusCode
      void unit.settle(action === 'login' && (status === 400 || status === 401))
    })
  }

  return (action, accountOf) => {
    const address = perAddress(action)
    return [async function rateLimit (request, reply) {
      await spend(request, reply, address, action, 'address')
      if (action === 'registration') return
      const body = (request.body ?? {}) as Record<string, unknown>
      const named = accountOf === undefined ? (action === 'password' ? userNames(request) : undefined) : accountOf(body, request)
      const keys = accountKeys(named)
      if (keys.length === 0) return
      if (action === 'login' || action === 'password') {
        await takeFailure(request, reply, action, keys)
        return
      }
      accountOfRequest.set(request, keys[0])
      await spend(request, reply, perAccount(action), action, 'account')
    }]
  }
}
