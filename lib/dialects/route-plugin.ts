import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { coreOf, type AccountsCore } from '../core.js'
import { OptionsError } from '../errors.js'

/**
 * A dialect's route set as a plugin: encapsulated (its parsers, validator, hooks and error formatter stay
 * with its routes) and declaring its dependency on the core, so registering it alone fails with a message.
 */
export function dialectPlugin<O extends object> (routes: FastifyPluginAsync<O>, name: string): FastifyPluginAsync<O> {
  return fp(routes, { fastify: '5.x', name: `fastify-accounts-${name}`, dependencies: ['fastify-accounts'], encapsulate: true })
}

/** The core the route set runs on; throws a clear message when the core plugin is missing. */
export function dialectCore (instance: FastifyInstance, plugin: string): AccountsCore {
  const core = coreOf(instance)
  if (core === undefined) throw new OptionsError(`${plugin} needs the fastify-accounts plugin registered first`)
  return core
}
