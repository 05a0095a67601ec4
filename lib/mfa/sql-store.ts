import type { Kysely, Selectable } from 'kysely'
import type { Database, MfaAuthenticatorTable } from '../stores/schema.js'
import type { AuthenticatorType, MfaAuthenticator, MfaStore } from './store.js'

const nullableNumber = (value: number | string | null): number | null => (value === null ? null : Number(value))

function toAuthenticator (row: Selectable<MfaAuthenticatorTable>): MfaAuthenticator {
  const lastUsedAt = nullableNumber(row.last_used_at)
  return {
    userId: Number(row.user_id),
    type: row.type as AuthenticatorType,
    encryptedSecret: row.secret,
    active: Number(row.is_active) === 1,
    lastUsedStep: nullableNumber(row.last_used_step),
    createdAt: new Date(Number(row.created_at)),
    lastUsedAt: lastUsedAt === null ? null : new Date(lastUsedAt)
  }
}

/**
 * The MFA store on the accounts database (SQLite or PostgreSQL, migration 0006_mfa), through Kysely: pass
 * the `db` of createSqliteStores / createPostgresStores / createStores. Every check-and-write is one
 * conditional statement, so it is atomic on both databases without a lock.
 */
export class KyselyMfaStore implements MfaStore {
  readonly #db: Kysely<Database>

  constructor (db: Kysely<Database>) {
    this.#db = db
  }

  async saveAuthenticator (data: { userId: number, type: AuthenticatorType, encryptedSecret: string, active: boolean, createdAt?: Date }): Promise<MfaAuthenticator> {
    const row = {
      user_id: data.userId,
      type: data.type,
      secret: data.encryptedSecret,
      is_active: data.active ? 1 as const : 0 as const,
      last_used_step: null,
      created_at: (data.createdAt ?? new Date()).getTime(),
      last_used_at: null
    }
    const saved = await this.#db.insertInto('accounts_mfa_authenticator').values(row)
      .onConflict((oc) => oc.columns(['user_id', 'type']).doUpdateSet({
        secret: row.secret, is_active: row.is_active, last_used_step: null, created_at: row.created_at, last_used_at: null
      }))
      .returningAll().executeTakeFirstOrThrow()
    return toAuthenticator(saved)
  }

  async findAuthenticator (userId: number, type: AuthenticatorType): Promise<MfaAuthenticator | null> {
    const row = await this.#db.selectFrom('accounts_mfa_authenticator').selectAll()
      .where('user_id', '=', userId).where('type', '=', type).executeTakeFirst()
    return row === undefined ? null : toAuthenticator(row)
  }

  async listActiveAuthenticators (userId: number): Promise<MfaAuthenticator[]> {
    const rows = await this.#db.selectFrom('accounts_mfa_authenticator').selectAll()
      .where('user_id', '=', userId).where('is_active', '=', 1).orderBy('created_at').orderBy('type').execute()
    return rows.map(toAuthenticator)
  }

  async claimStep (userId: number, type: AuthenticatorType, step: number, at: Date): Promise<boolean> {
    const result = await this.#db.updateTable('accounts_mfa_authenticator')
      .set({ last_used_step: step, last_used_at: at.getTime() })
      .where('user_id', '=', userId).where('type', '=', type).where('is_active', '=', 1)
      .where((eb) => eb.or([eb('last_used_step', 'is', null), eb('last_used_step', '<', step)]))
      .executeTakeFirst()
    return Number(result.numUpdatedRows) === 1
  }

  async deleteAuthenticator (userId: number, type: AuthenticatorType): Promise<boolean> {
    const result = await this.#db.deleteFrom('accounts_mfa_authenticator').where('user_id', '=', userId).where('type', '=', type).executeTakeFirst()
    return Number(result.numDeletedRows) > 0
  }

  async replaceRecoveryCodes (userId: number, hashes: string[], at: Date): Promise<void> {
    // One transaction: a failure half-way leaves the old codes, never none.
    await this.#db.transaction().execute(async (trx) => {
      await trx.deleteFrom('accounts_mfa_recovery_code').where('user_id', '=', userId).execute()
      if (hashes.length === 0) return
      await trx.insertInto('accounts_mfa_recovery_code')
        .values([...new Set(hashes)].map((hash) => ({ user_id: userId, hash, created_at: at.getTime(), used_at: null })))
        .execute()
    })
  }

  async useRecoveryCode (userId: number, hash: string, at: Date): Promise<boolean> {
    return await this.#db.transaction().execute(async (trx) => {
      const result = await trx.updateTable('accounts_mfa_recovery_code').set({ used_at: at.getTime() })
        .where('user_id', '=', userId).where('hash', '=', hash).where('used_at', 'is', null).executeTakeFirst()
      if (Number(result.numUpdatedRows) !== 1) return false
      await trx.updateTable('accounts_mfa_authenticator').set({ last_used_at: at.getTime() })
        .where('user_id', '=', userId).where('is_active', '=', 1).execute()
      return true
    })
  }

  async countRecoveryCodes (userId: number): Promise<number> {
    const row = await this.#db.selectFrom('accounts_mfa_recovery_code').select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('user_id', '=', userId).where('used_at', 'is', null).executeTakeFirst()
    return Number(row?.n ?? 0)
  }

  async deleteRecoveryCodes (userId: number): Promise<void> {
    await this.#db.deleteFrom('accounts_mfa_recovery_code').where('user_id', '=', userId).execute()
  }

  async saveEphemeralToken (hash: string, userId: number, expiresAt: Date): Promise<void> {
    await this.#db.insertInto('accounts_mfa_ephemeral_token').values({ hash, user_id: userId, expires_at: expiresAt.getTime() }).execute()
  }

  async findEphemeralToken (hash: string, now: Date): Promise<number | null> {
    const row = await this.#db.selectFrom('accounts_mfa_ephemeral_token').select('user_id')
      .where('hash', '=', hash).where('expires_at', '>', now.getTime()).executeTakeFirst()
    return row === undefined ? null : Number(row.user_id)
  }

  async consumeEphemeralToken (hash: string, now: Date): Promise<number | null> {
    // One DELETE … RETURNING: of two requests with one token, one gets the row.
    const row = await this.#db.deleteFrom('accounts_mfa_ephemeral_token').where('hash', '=', hash)
      .returning(['user_id', 'expires_at']).executeTakeFirst()
    return row === undefined || Number(row.expires_at) <= now.getTime() ? null : Number(row.user_id)
  }

  async purgeExpiredEphemeralTokens (now: Date): Promise<number> {
    const result = await this.#db.deleteFrom('accounts_mfa_ephemeral_token').where('expires_at', '<=', now.getTime()).executeTakeFirst()
    return Number(result.numDeletedRows)
  }

  async deleteUserMfa (userId: number): Promise<void> {
    await this.#db.deleteFrom('accounts_mfa_ephemeral_token').where('user_id', '=', userId).execute()
    await this.#db.deleteFrom('accounts_mfa_recovery_code').where('user_id', '=', userId).execute()
    await this.#db.deleteFrom('accounts_mfa_authenticator').where('user_id', '=', userId).execute()
  }
}
