/**
 * `npm run import-django -- --from <django sqlite file | postgres://…>`: copies a Django project's users and
 * live tokens into the stores DATABASE_URL (and REDIS_URL) name, so nobody is logged out by the move:
 *
 * - `auth_user` → users, keeping ids (uid links already mailed and the `user_id` of live JWTs still point at
 *   the same people), password hashes as they are (DjangoPasswordHasher reads them; they become argon2id on
 *   each user's next login), flags, names, date_joined and last_login;
 * - `authtoken_token` (DRF's TokenAuthentication) → opaque tokens, stored as their SHA-256 (the keys keep
 *   working with `Authorization: Token <key>`);
 * - allauth's `socialaccount_socialaccount` → social accounts (lib/import-django/social.ts), with a `social`
 *   store in the target (createStores() gives one);
 * - simplejwt's `token_blacklist_outstandingtoken` / `token_blacklist_blacklistedtoken` → refresh-token
 *   records, the blacklisted ones revoked (so they stay rejected) and the others recorded (so a password
 *   change here revokes them too). Expired ones are skipped.
 *
 * Idempotent: a row already in the target (same id, or same token) is left as it is, so a second run changes
 * nothing. Transactional on SQL targets: users and SQL-stored tokens are written in one transaction, and any
 * failure (a username or email already taken by another user, a broken row, a lost connection) rolls all
 * of it back. A Redis token store is filled after that commit; it is idempotent, so after a failure there
 * simply run the import again. Tables the project did not use (authtoken, token_blacklist) are skipped.
 *
 * The source is only read, in one read transaction (a consistent snapshot). Django's `DATETIME` values are
 * taken as UTC (Django's USE_TZ = True, the default since 1.x's startproject).
 */
import { KyselyTokenStore, KyselyUserStore } from './stores/kysely.js'
import { openSource } from './import-django/source.js'
import { importSocialAccounts } from './import-django/social.js'
import { KyselySocialAccountStore } from './social/sql-store.js'
import type { Run } from './import-django/run.js'
import { formatSummary, importAuthTokens, importRefreshTokens, importUsers } from './import-django/tables.js'
import { DjangoImportError, type ImportDjangoOptions, type ImportSummary } from './import-django/types.js'

export { DjangoImportError, type ImportDjangoOptions, type ImportLogger, type ImportSummary, type ImportTarget, type TableSummary } from './import-django/types.js'
export { formatSummary } from './import-django/tables.js'

/**
 * Copies a Django database's users and tokens into `store` (see the top of this file). Resolves with what
 * it did; rejects with DjangoImportError (or the store's error) having written nothing on SQL targets.
 */
export async function importDjango (options: ImportDjangoOptions): Promise<ImportSummary> {
  const logger = options.logger ?? { info: () => {} }
  const target = options.store
  const source = await openSource(options.from)
  const run: Run = {
    source,
    logger,
    progressEvery: options.progressEvery ?? 1000,
    batchSize: options.batchSize ?? 1000,
    now: options.now ?? new Date()
  }
  try {
    const db = target.db
    const sqlTokens = target.tokens instanceof KyselyTokenStore && target.kind?.tokens !== 'redis'
    let summary: ImportSummary
    if (db !== undefined && target.users instanceof KyselyUserStore) {
      const inTransaction = await db.transaction().execute(async (trx) => {
        const tokens = sqlTokens ? new KyselyTokenStore(trx) : undefined
        return {
          users: await importUsers(run, new KyselyUserStore(trx)),
          authTokens: tokens === undefined ? undefined : await importAuthTokens(run, tokens),
          refreshTokens: tokens === undefined ? undefined : await importRefreshTokens(run, tokens),
          // A social store over this database joins the transaction; another kind is filled after it.
          socialAccounts: target.social instanceof KyselySocialAccountStore ? await importSocialAccounts(run, new KyselySocialAccountStore(trx)) : undefined
        }
      })
      let { authTokens, refreshTokens } = inTransaction
      if (authTokens === undefined || refreshTokens === undefined) {
        // A token store of its own (Redis): filled once the users are committed; idempotent, so a rerun completes it.
        try {
          authTokens = await importAuthTokens(run, target.tokens)
          refreshTokens = await importRefreshTokens(run, target.tokens)
        } catch (error) {
          throw new DjangoImportError(`the users are imported (${inTransaction.users.inserted} new), but importing the tokens into the token store failed; run the import again to complete it: ${(error as Error).message}`, { cause: error })
        }
      }
      const socialAccounts = inTransaction.socialAccounts ?? (target.social === undefined ? undefined : await importSocialAccounts(run, target.social))
      summary = { from: source.description, users: inTransaction.users, authTokens, refreshTokens, socialAccounts, transactional: true }
    } else {
      logger.info('the target is not a SQL store: rows are written one by one (a failure leaves those written so far; rerun to complete)')
      summary = {
        from: source.description,
        users: await importUsers(run, target.users),
        authTokens: await importAuthTokens(run, target.tokens),
        refreshTokens: await importRefreshTokens(run, target.tokens),
        socialAccounts: target.social === undefined ? undefined : await importSocialAccounts(run, target.social),
        transactional: false
      }
    }
    for (const line of formatSummary(summary)) logger.info(line)
    return summary
  } finally {
    await source.close()
  }
}
