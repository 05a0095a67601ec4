/**
 * The social accounts port: allauth's `socialaccount_socialaccount` (provider, uid unique; the user; extra
 * data; last login; date joined). Provider tokens are never stored: `extraData` is what the provider said
 * about the person. Adapters: lib/social/memory-store.ts; the contract suite every adapter passes is
 * lib/social/store-contract.ts.
 */

export interface SocialAccount {
  id: number
  /** The configured provider name (allauth's `provider`: `google`, `github`…). */
  provider: string
  uid: string
  userId: number
  extraData: Record<string, unknown>
  lastLogin: Date
  dateJoined: Date
}

export interface NewSocialAccount {
  provider: string
  uid: string
  userId: number
  /** Default `{}`. */
  extraData?: Record<string, unknown>
  /** Kept when given (an import from Django keeps allauth's ids); otherwise the next free id. */
  id?: number
  /** Default now. */
  dateJoined?: Date
  /** Default now. */
  lastLogin?: Date
}

export interface SocialAccountStore {
  /**
   * Links (provider, uid) to `userId`, atomically:
   * - no account has that (provider, uid): inserts it, and returns it;
   * - one does, for the same user: updates its `extraData` (when given) and `lastLogin` (given, else now), and returns it;
   * - one does, for another user: changes nothing and returns that account as it is, so the caller sees the
   *   other `userId` and refuses (a link never moves from one user to another here).
   */
  upsertSocialAccount (data: NewSocialAccount): Promise<SocialAccount>
  findSocialAccount (provider: string, uid: string): Promise<SocialAccount | null>
  findSocialAccountById (id: number): Promise<SocialAccount | null>
  /** A user's accounts, ordered by id; [] when none. */
  listSocialAccounts (userId: number): Promise<SocialAccount[]>
  /** Deletes the account `id` only when it belongs to `userId`; true when a row was deleted. */
  deleteSocialAccount (id: number, userId: number): Promise<boolean>
  /** Deletes every account of a user (the user is being deleted); returns how many. */
  deleteUserSocialAccounts (userId: number): Promise<number>
  close? (): Promise<void>
}
