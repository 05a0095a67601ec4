/** Fastify's own register options, which reach a plugin beside its own. */
const REGISTER_OPTIONS = new Set(['prefix', 'logLevel', 'logSerializers'])

/** A route plugin's options without Fastify's register options (`prefix`, `logLevel`, `logSerializers`). */
export function withoutRegisterOptions<T extends object> (options: T | undefined): T {
  return Object.fromEntries(Object.entries(options ?? {}).filter(([key]) => !REGISTER_OPTIONS.has(key))) as T
}
