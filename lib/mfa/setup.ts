import type { FastifyInstance } from 'fastify'
import { AccountService, type AccountServiceDeps } from '../accounts.js'
import type { AccountsEventEmitter } from '../events.js'
import type { ResolvedOptions } from '../options.js'
import type { UserStore } from '../ports.js'
import { MfaGuardedAccountService } from './guard.js'
import { MemoryMfaStore } from './memory-store.js'
import { checkMfaStore, resolveMfaSettings } from './options.js'
import { MfaService } from './service.js'

const PURGE_INTERVAL_MS = 60 * 60 * 1000

/**
 * The MFA service, built once at registration when `mfa` or `djRestAuth.mfa` is on (null otherwise), on
 * `store.mfa` (in memory when not given). Expired ephemeral tokens are dropped hourly, off the request path.
 */
export function setUpMfa (app: FastifyInstance, deps: { options: ResolvedOptions, users: UserStore, events: AccountsEventEmitter, now?: () => number }): MfaService | null {
  const { options } = deps
  const settings = resolveMfaSettings(options.mfa, options.djRestAuth.mfa, options.siteName)
  if (settings === null) return null
  const given = options.store?.mfa
  checkMfaStore(given)
  if (given === undefined && process.env.NODE_ENV === 'production') {
    app.log.warn('fastify-accounts: no store.mfa given, so MFA authenticators live in memory and are lost on restart (createStores() gives the SQL one)')
  }
  const store = given ?? new MemoryMfaStore()
  const mfa = new MfaService({ store, users: deps.users, secretKey: options.secretKey, events: deps.events, settings, now: deps.now })
  const purge = setInterval(() => {
    store.purgeExpiredEphemeralTokens(new Date()).catch((error: unknown) => {
      app.log.warn({ err: error }, 'fastify-accounts: purging expired MFA ephemeral tokens failed')
    })
  }, PURGE_INTERVAL_MS)
  purge.unref()
  app.addHook('onClose', async () => { clearInterval(purge) })
  return mfa
}

/** The account service, with every password login guarded by the second factor when MFA is on. */
export function accountService (deps: AccountServiceDeps, mfa: MfaService | null): AccountService {
  return mfa === null ? new AccountService(deps) : new MfaGuardedAccountService(deps, mfa)
}
