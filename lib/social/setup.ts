import type { FastifyBaseLogger } from 'fastify'
import type { AccountService } from '../accounts.js'
import type { AccountsEventEmitter } from '../events.js'
import type { ResolvedOptions } from '../options.js'
import type { UserStore } from '../ports.js'
import type { TokenService } from '../tokens.js'
import { AccountSocialUsers } from './account-users.js'
import { MemorySocialAccountStore } from './memory-store.js'
import { createSocialLogin, type SocialLogin } from './runtime.js'
import type { SocialAccountStore } from './store.js'

export interface SocialSetup {
  options: ResolvedOptions
  /** `store.social` as given (a createStores() result has one); default in memory. */
  store: SocialAccountStore | undefined
  users: UserStore
  accounts: AccountService
  tokens: TokenService
  events: AccountsEventEmitter
  log: FastifyBaseLogger
}

/**
 * The plugin's social login, once at registration: null without providers. Deleting a user deletes their
 * social accounts in every store: the SQL tables cascade, and the `user.deleted` event covers the others (a
 * link whose user is gone anyway, deleted behind the service's back, is dropped at its next sign-in).
 */
export function setUpSocialLogin (s: SocialSetup): SocialLogin | null {
  if (Object.keys(s.options.social.providers).length === 0) return null
  const store = s.store ?? new MemorySocialAccountStore()
  const users = new AccountSocialUsers({ users: s.users, accounts: s.accounts, tokens: s.tokens, events: s.events, options: s.options, log: s.log })
  s.events.on('user.deleted', ({ userId }) => {
    store.deleteUserSocialAccounts(userId).catch((error: unknown) => {
      s.log.warn({ err: error, userId }, 'fastify-accounts: deleting the social accounts of a deleted user failed')
    })
  })
  return createSocialLogin({ options: s.options.social, accounts: store, users, events: s.events })
}
