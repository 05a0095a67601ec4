/**
 * The MFA port: authenticators (dj-rest-auth's `Authenticator`, trench's `MFAMethod`), hashed recovery
 * codes and ephemeral login tokens. Secrets arrive encrypted and codes and tokens hashed (lib/mfa/crypto.ts):
 * a store never sees anything usable. Adapters: memory-store.ts, sql-store.ts (SQLite and PostgreSQL);
 * the contract every adapter passes is store-contract.ts.
 */

export type AuthenticatorType = 'totp'

export interface MfaAuthenticator {
  userId: number
  type: AuthenticatorType
  /** The TOTP secret, AES-256-GCM encrypted (MfaKeys.encryptSecret). */
  encryptedSecret: string
  /**
   * false while set up but not confirmed (trench's `app/activate/` before `confirm/`): it signs nobody in
   * and `findActiveAuthenticator` does not see it.
   */
  active: boolean
  /** The last TOTP time step accepted; no code of this step or an earlier one is accepted again (ASVS 2.8.4). */
  lastUsedStep: number | null
  createdAt: Date
  lastUsedAt: Date | null
}

export interface MfaStore {
  /** Puts the user's authenticator of `type`, replacing any (its last used step and dates start afresh). */
  saveAuthenticator (data: { userId: number, type: AuthenticatorType, encryptedSecret: string, active: boolean, createdAt?: Date }): Promise<MfaAuthenticator>
  /** The user's authenticator of `type`, active or not. */
  findAuthenticator (userId: number, type: AuthenticatorType): Promise<MfaAuthenticator | null>
  /** The user's active authenticators (trench's active methods), oldest first. */
  listActiveAuthenticators (userId: number): Promise<MfaAuthenticator[]>
  /**
   * Atomically: when the user's authenticator is active and `step` is after its last used step, records
   * `step` and `at` as last used and returns true; otherwise changes nothing and returns false. Two
   * requests with one code: one wins.
   */
  claimStep (userId: number, type: AuthenticatorType, step: number, at: Date): Promise<boolean>
  /** Deletes the user's authenticator of `type`; true when one was deleted. */
  deleteAuthenticator (userId: number, type: AuthenticatorType): Promise<boolean>

  /** Replaces every recovery code of the user with these hashes (all unused). */
  replaceRecoveryCodes (userId: number, hashes: string[], at: Date): Promise<void>
  /**
   * Atomically marks the user's unused code with this hash used; true when one was (once only). A use is a
   * use of the user's MFA: it stamps `at` as `lastUsedAt` of the user's active authenticators too (not their
   * last used step), as dj-rest-auth's mfa/status/ counts recovery codes in `last_used_at`.
   */
  useRecoveryCode (userId: number, hash: string, at: Date): Promise<boolean>
  /** How many unused recovery codes the user has. */
  countRecoveryCodes (userId: number): Promise<number>
  deleteRecoveryCodes (userId: number): Promise<void>

  /** Keeps an ephemeral token's hash for `userId` until `expiresAt`. */
  saveEphemeralToken (hash: string, userId: number, expiresAt: Date): Promise<void>
  /** The user of a live ephemeral token (not expired at `now`), without using it up; null otherwise. */
  findEphemeralToken (hash: string, now: Date): Promise<number | null>
  /** Atomically deletes a live ephemeral token and returns its user: one caller wins; null when gone or expired. */
  consumeEphemeralToken (hash: string, now: Date): Promise<number | null>
  /** Drops the ephemeral tokens expired at `now`; returns how many. */
  purgeExpiredEphemeralTokens (now: Date): Promise<number>

  /** Everything MFA of a user (the user is being deleted; the SQL tables also cascade). */
  deleteUserMfa (userId: number): Promise<void>
  close? (): Promise<void>
}

/** Every method the plugin calls, checked at registration. */
export const MFA_STORE_METHODS = [
  'saveAuthenticator', 'findAuthenticator', 'listActiveAuthenticators', 'claimStep', 'deleteAuthenticator',
  'replaceRecoveryCodes', 'useRecoveryCode', 'countRecoveryCodes', 'deleteRecoveryCodes',
  'saveEphemeralToken', 'findEphemeralToken', 'consumeEphemeralToken', 'purgeExpiredEphemeralTokens', 'deleteUserMfa'
] as const
