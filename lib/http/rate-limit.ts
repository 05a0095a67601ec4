import rateLimitPlugin from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { RateLimitedError } from '../errors.js'
import type { ResolvedRateLimitOptions } from '../options.js'

/** The routes that share one budget: logging in, asking for a mailed link, using an activation link. */
export type LimitedAction = 'login' | 'reset' | 'activation'

export type LimitHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>

/** Makes the preHandler hooks that limit one route: `limit('login', (body) => body.username)`. */
export type Limit = (action: LimitedAction, accountOf: (body: Record<string, unknown>) => unknown) => LimitHook[]

type Limiter = ReturnType<FastifyInstance['createRateLimit']>

/**
 * Per-IP and per-account limits on the routes an attacker hammers (djoser issue 536), counted by
 * @fastify/rate-limit in memory or, to share them across instances, in Redis. The hooks run as
 * preHandlers, after the body is parsed, so the account it names can be counted too.
 */
export async function registerRateLimits (app: FastifyInstance, options: ResolvedRateLimitOptions | false): Promise<Limit> {
  if (options === false) return () => []
  await app.register(rateLimitPlugin, {
    global: false,
    // A Redis outage lets requests through (logged by the store) rather than locking every user out.
    skipOnError: true,
    ...(options.redis === undefined ? {} : { redis: options.redis, nameSpace: options.redisNamespace })
  })
  const accountOfRequest = new WeakMap<FastifyRequest, string>()
  const limiters = new Map<LimitedAction, { ip: Limiter, account: Limiter }>()
  const limitersFor = (action: LimitedAction): { ip: Limiter, account: Limiter } => {
    let pair = limiters.get(action)
    if (pair === undefined) {
      pair = {
        ip: app.createRateLimit({ ...windowOf(options.perIp), keyGenerator: (request) => `${action}:ip:${request.ip}` }),
        account: app.createRateLimit({ ...windowOf(options.perAccount), keyGenerator: (request) => `${action}:account:${accountOfRequest.get(request) ?? ''}` })
      }
      limiters.set(action, pair)
    }
    return pair
  }

  return (action, accountOf) => {
    const { ip, account } = limitersFor(action)
    return [async function rateLimit (request, reply) {
      await enforce(await ip(request), reply)
      const name = accountOf((request.body ?? {}) as Record<string, unknown>)
      if (typeof name !== 'string' || name === '') return
      accountOfRequest.set(request, name.toLowerCase())
      await enforce(await account(request), reply)
    }]
  }
}

function windowOf (limit: { max: number, timeWindow: number }): { max: number, timeWindow: number } {
  return { max: limit.max, timeWindow: limit.timeWindow * 1000 }
}

async function enforce (verdict: Awaited<ReturnType<Limiter>>, reply: FastifyReply): Promise<void> {
  if (verdict.isAllowed || !verdict.isExceeded) return
  reply.header('retry-after', String(verdict.ttlInSeconds))
  throw new RateLimitedError(`Request was throttled. Expected available in ${verdict.ttlInSeconds} seconds.`)
}
