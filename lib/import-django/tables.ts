/**
 * The target side of the import: what each Django table's rows become in the stores (idempotently; the
 * paging, counting and progress are run.ts's), and the summary of what happened.
 */
import { DuplicateUserError, type NewRefreshToken, type TokenStore, type User, type UserStore } from '../ports.js'
import { hashAuthToken } from '../tokens.js'
import { importTable, type Run } from './run.js'
import { bool, datetime, integer, text, type Source } from './source.js'
import { DjangoImportError, type ImportSummary, type TableSummary } from './types.js'

const USERS_SELECT = 'select id as __key, id, username, email, password, is_active, is_staff, is_superuser, first_name, last_name, date_joined, last_login from auth_user'
const AUTH_TOKENS_SELECT = 'select "key" as __key, "key", created, user_id from authtoken_token'
const REFRESH_SELECT = 'select o.id as __key, o.id, o.jti, o.expires_at, o.user_id, b.id as blacklisted_id ' +
  'from token_blacklist_outstandingtoken o left join token_blacklist_blacklistedtoken b on b.token_id = o.id'
const REFRESH_KEY = 'o.id'

/** DRF's keys are 40 lower-case hex characters; the token login accepts nothing else. */
const DRF_KEY = /^[0-9a-f]{40}$/

/** Django allows duplicate and blank emails; the target's email is unique (any letter case). Say which, up front. */
async function checkEmails (source: Source): Promise<void> {
  const dupes = await source.query('select lower(email) as email, count(*) as n from auth_user group by lower(email) having count(*) > 1 order by lower(email) limit 10')
  if (dupes.length === 0) return
  const list = dupes.map((r) => `${r.email === '' ? '(blank)' : String(r.email)} × ${String(r.n)}`).join(', ')
  throw new DjangoImportError(
    `auth_user has emails shared by several users (${list}${dupes.length === 10 ? ', …' : ''}); ` +
    'here an email belongs to one user (case-insensitively). Give those users distinct emails in Django, then run the import again.')
}

function sameUser (existing: User, id: number, username: string): void {
  if (existing.username !== username) {
    throw new DjangoImportError(`auth_user id ${id} (${username}): the target already has user id ${id} with username ${existing.username}; import into an empty database`)
  }
}

export async function importUsers (run: Run, users: UserStore): Promise<TableSummary> {
  const table = 'auth_user'
  const summary = await importTable(run, { table, select: USERS_SELECT, key: 'id', before: checkEmails }, async (row) => {
    const id = integer(table, row, 'id')
    const username = text(table, row, 'username')
    const existing = await users.findUserById(id)
    if (existing !== null) {
      sameUser(existing, id, username)
      return 'unchanged'
    }
    try {
      await users.createUser({
        id,
        username,
        email: text(table, row, 'email'),
        password: text(table, row, 'password'),
        isActive: bool(table, row, 'is_active'),
        isStaff: bool(table, row, 'is_staff'),
        isSuperuser: bool(table, row, 'is_superuser'),
        firstName: text(table, row, 'first_name'),
        lastName: text(table, row, 'last_name'),
        dateJoined: datetime(table, row, 'date_joined'),
        lastLogin: datetime(table, row, 'last_login', true)
      })
    } catch (error) {
      if (error instanceof DuplicateUserError) {
        throw new DjangoImportError(`auth_user id ${id} (${username}): another user of the target already has this ${error.field}; import into an empty database`, { cause: error })
      }
      throw error
    }
    return 'inserted'
  })
  if (summary === null) throw new DjangoImportError(`${run.source.description} has no auth_user table: is it a Django database (with django.contrib.auth migrated)?`)
  return summary
}

export async function importAuthTokens (run: Run, tokens: TokenStore): Promise<TableSummary | null> {
  const table = 'authtoken_token'
  return await importTable(run, { table, select: AUTH_TOKENS_SELECT, key: '"key"' }, async (row) => {
    const key = text(table, row, 'key')
    if (!DRF_KEY.test(key)) return 'skipped'
    const hash = hashAuthToken(key)
    if (await tokens.findAuthToken(hash) !== null) return 'unchanged'
    await tokens.saveAuthToken({ hash, userId: integer(table, row, 'user_id'), createdAt: datetime(table, row, 'created') })
    return 'inserted'
  })
}

export async function importRefreshTokens (run: Run, tokens: TokenStore): Promise<TableSummary | null> {
  const table = 'token_blacklist_outstandingtoken'
  const read = { table, joins: ['token_blacklist_blacklistedtoken'], select: REFRESH_SELECT, key: REFRESH_KEY }
  return await importTable(run, read, async (row) => {
    const expiresAt = datetime(table, row, 'expires_at')
    if (expiresAt.getTime() <= run.now.getTime()) return 'skipped'
    const jti = text(table, row, 'jti')
    // A user deleted in Django leaves user_id NULL (SET_NULL): the token then names nobody.
    const userId = row.user_id === null || row.user_id === undefined ? 0 : integer(table, row, 'user_id')
    const blacklisted = row.blacklisted_id !== null && row.blacklisted_id !== undefined
    const record: NewRefreshToken = { jti, userId, family: jti, expiresAt }
    const existing = await tokens.findRefreshToken(jti)
    if (existing !== null) {
      if (!blacklisted || existing.revokedAt !== null) return 'unchanged'
      await tokens.revokeRefreshToken(jti, record)
      return 'updated'
    }
    if (blacklisted) await tokens.revokeRefreshToken(jti, record)
    else await tokens.saveRefreshToken(record)
    return 'inserted'
  })
}

function describeTable (name: string, s: TableSummary | null): string {
  if (s === null) return `${name}: not in the Django database, skipped`
  const parts = [`${s.read} read`, `${s.inserted} imported`]
  if (s.updated > 0) parts.push(`${s.updated} updated`)
  parts.push(`${s.unchanged} already there`)
  if (s.skipped > 0) parts.push(`${s.skipped} skipped`)
  return `${name}: ${parts.join(', ')}`
}

/** The summary as the CLI prints it, one line per table. */
export function formatSummary (summary: ImportSummary): string[] {
  return [
    describeTable('auth_user', summary.users),
    describeTable('authtoken_token', summary.authTokens),
    describeTable('token_blacklist (refresh tokens)', summary.refreshTokens),
    // allauth's social accounts: a line only when the Django database has them.
    ...(summary.socialAccounts === undefined || summary.socialAccounts === null ? [] : [describeTable('socialaccount_socialaccount', summary.socialAccounts)])
  ]
}

