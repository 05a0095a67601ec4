import { PostgresAdapter, sql, type Kysely, type Selectable } from 'kysely'
import type { Database, SocialAccountTable } from '../stores/schema.js'
import type { NewSocialAccount, SocialAccount, SocialAccountStore } from './store.js'

/**
 * The social accounts in the accounts database (table accounts_social_account, migration 0005), through
 * Kysely: one implementation for SQLite and PostgreSQL, on the `db` of a createStores() result. Rows go with
 * their user (ON DELETE CASCADE). `extra_data` is JSON text, the same on both databases.
 */

type Row = Selectable<SocialAccountTable>

function parseExtra (text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : {}
  } catch {
    return {}
  }
}

function toAccount (row: Row): SocialAccount {
  return {
    id: Number(row.id),
    provider: row.provider,
    uid: row.uid,
    userId: Number(row.user_id),
    extraData: parseExtra(row.extra_data),
    lastLogin: new Date(Number(row.last_login)),
    dateJoined: new Date(Number(row.date_joined))
  }
}

/** A lost race (the row deleted between the insert and the update) is retried this many times. */
const ATTEMPTS = 5

export class KyselySocialAccountStore implements SocialAccountStore {
  readonly #db: Kysely<Database>

  constructor (db: Kysely<Database>) {
    this.#db = db
  }

  async upsertSocialAccount (data: NewSocialAccount): Promise<SocialAccount> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const now = Date.now()
      // Insert unless (provider, uid) is taken: one statement, so concurrent links of one account make one row.
      const inserted = await this.#db.insertInto('accounts_social_account')
        .values({
          ...(data.id === undefined ? {} : { id: data.id }),
          provider: data.provider,
          uid: data.uid,
          user_id: data.userId,
          extra_data: JSON.stringify(data.extraData ?? {}),
          last_login: data.lastLogin?.getTime() ?? now,
          date_joined: data.dateJoined?.getTime() ?? now
        })
        .onConflict((oc) => oc.columns(['provider', 'uid']).doNothing())
        .returningAll()
        .executeTakeFirst()
      if (inserted !== undefined) {
        if (data.id !== undefined) await this.#bumpSequence()
        return toAccount(inserted)
      }
      // Taken: the same user's link is refreshed; another user's is answered as it is (the caller refuses).
      const updated = await this.#db.updateTable('accounts_social_account')
        .set({ last_login: data.lastLogin?.getTime() ?? now, ...(data.extraData === undefined ? {} : { extra_data: JSON.stringify(data.extraData) }) })
        .where('provider', '=', data.provider).where('uid', '=', data.uid).where('user_id', '=', data.userId)
        .returningAll()
        .executeTakeFirst()
      if (updated !== undefined) return toAccount(updated)
      const other = await this.findSocialAccount(data.provider, data.uid)
      if (other !== null) return other
    }
    throw new Error(`fastify-accounts: the social account ${data.provider} could not be linked (it kept changing)`)
  }

  /** PostgreSQL's serial does not see explicit ids (an import): move it past them, or the next link collides. */
  async #bumpSequence (): Promise<void> {
    if (!(this.#db.getExecutor().adapter instanceof PostgresAdapter)) return
    await sql`select setval(pg_get_serial_sequence('accounts_social_account', 'id'), (select max(id) from accounts_social_account))`.execute(this.#db)
  }

  async findSocialAccount (provider: string, uid: string): Promise<SocialAccount | null> {
    const row = await this.#db.selectFrom('accounts_social_account').selectAll().where('provider', '=', provider).where('uid', '=', uid).executeTakeFirst()
    return row === undefined ? null : toAccount(row)
  }

  async findSocialAccountById (id: number): Promise<SocialAccount | null> {
    if (!Number.isSafeInteger(id)) return null
    const row = await this.#db.selectFrom('accounts_social_account').selectAll().where('id', '=', id).executeTakeFirst()
    return row === undefined ? null : toAccount(row)
  }

  async listSocialAccounts (userId: number): Promise<SocialAccount[]> {
    const rows = await this.#db.selectFrom('accounts_social_account').selectAll().where('user_id', '=', userId).orderBy('id').execute()
    return rows.map(toAccount)
  }

  async deleteSocialAccount (id: number, userId: number): Promise<boolean> {
    const result = await this.#db.deleteFrom('accounts_social_account').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst()
    return Number(result.numDeletedRows) > 0
  }

  async deleteUserSocialAccounts (userId: number): Promise<number> {
    const result = await this.#db.deleteFrom('accounts_social_account').where('user_id', '=', userId).executeTakeFirst()
    return Number(result.numDeletedRows)
  }
}
