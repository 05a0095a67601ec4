/**
 * The optional peer dependencies (better-sqlite3, pg, ioredis, bcrypt, nodemailer) are loaded only by the
 * store, hasher or mailer that needs them. This module turns "that package is not installed" into an error
 * that names it and the command that installs it; any other failure (the package is there but broken, one
 * of its own dependencies is missing) is passed on unchanged.
 */

/** A feature was used whose optional package is not installed; `packageName` says which one to install. */
export class MissingPackageError extends Error {
  readonly code = 'ACCOUNTS_MISSING_PACKAGE'
  readonly packageName: string

  constructor (packageName: string, feature: string, options?: { cause: unknown }) {
    super(`fastify-accounts: ${feature} need the optional package ${packageName}: npm install ${packageName}`, options)
    this.name = 'MissingPackageError'
    this.packageName = packageName
  }
}

function escapeRegExp (text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/**
 * True when `error` is Node's "not found" for the package `name` itself: ESM's ERR_MODULE_NOT_FOUND
 * (`Cannot find package 'name' imported from …`) or CommonJS's MODULE_NOT_FOUND (`Cannot find module
 * 'name'`). False for a missing file inside an installed package or a missing dependency of it. An error
 * without a code counts too: a resolver hook running off-thread (a TypeScript loader's, under tap) hands the
 * error back without it; an error with any other code does not.
 */
export function isMissingPackage (error: unknown, name: string): boolean {
  if (!(error instanceof Error)) return false
  const code = (error as NodeJS.ErrnoException).code
  if (code !== undefined && code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false
  return new RegExp(`Cannot find (?:package|module) '${escapeRegExp(name)}'`).test(error.message)
}

/**
 * Runs `load` (an `import()` of the module that needs `packageName`, or of the package itself) and turns
 * the absence of `packageName` into a MissingPackageError, `feature` being what needs it ("sqlite: URLs").
 */
export async function loadOptional<T> (packageName: string, feature: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load()
  } catch (error) {
    if (isMissingPackage(error, packageName)) throw new MissingPackageError(packageName, feature, { cause: error })
    throw error
  }
}
