/**
 * allauth's social accounts (`socialaccount_socialaccount`) copied into the social accounts store, keeping
 * their ids, so users who signed in with Google (or any provider) on Django still do here: the provider name
 * is allauth's (`google`, `github`, an OpenID Connect app's `provider_id`), which is the name to configure under
 * `social.providers`. Idempotent: an account already there (same id, or same provider and uid) is left as it
 * is. `extra_data` is kept without provider tokens; allauth's `socialaccount_socialtoken` is not read.
 */
import { withoutSecrets } from '../social/http.js'
import type { SocialAccountStore } from '../social/store.js'
import { importTable, type Run } from './run.js'
import { datetime, integer, text, type Row } from './source.js'
import { DjangoImportError, type TableSummary } from './types.js'

const TABLE = 'socialaccount_socialaccount'
const SELECT = `select id as __key, id, provider, uid, user_id, extra_data, last_login, date_joined from ${TABLE}`

/** A JSONField: text in SQLite (and in allauth's older TextField), an object from PostgreSQL's jsonb. */
function extraData (row: Row): Record<string, unknown> {
  let value = row.extra_data
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value)
    } catch {
      return {}
    }
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? withoutSecrets(value as Record<string, unknown>) : {}
}

/** null when the Django database has no socialaccount table (allauth's socialaccount app not installed). */
export async function importSocialAccounts (run: Run, store: SocialAccountStore): Promise<TableSummary | null> {
  return await importTable(run, { table: TABLE, select: SELECT, key: 'id' }, async (row) => {
    const id = integer(TABLE, row, 'id')
    const provider = text(TABLE, row, 'provider')
    const uid = text(TABLE, row, 'uid')
    const userId = integer(TABLE, row, 'user_id')
    const byId = await store.findSocialAccountById(id)
    if (byId !== null) {
      if (byId.provider !== provider || byId.uid !== uid) {
        throw new DjangoImportError(`${TABLE} id ${id} (${provider} ${uid}): the target already has social account id ${id} for ${byId.provider} ${byId.uid}; import into an empty database`)
      }
      return 'unchanged'
    }
    if (await store.findSocialAccount(provider, uid) !== null) return 'unchanged'
    await store.upsertSocialAccount({
      id, provider, uid, userId, extraData: extraData(row), lastLogin: datetime(TABLE, row, 'last_login'), dateJoined: datetime(TABLE, row, 'date_joined')
    })
    return 'inserted'
  })
}
