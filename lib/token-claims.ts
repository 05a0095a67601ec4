// What a JWT of this plugin says and how a request proved who it is: shapes shared by the token service, the
// authenticators and the decorators' types, kept in a leaf module so none of them imports another for a type.

export type TokenType = 'access' | 'refresh'

/** A verified JWT payload: simplejwt's claims plus whatever else the token carries. */
export type TokenClaims = Record<string, unknown>

/** How the current request proved who it is (DRF's `request.auth`). */
export type RequestAuth =
  | { scheme: 'jwt', claims: TokenClaims }
  | { scheme: 'token', key: string }

export interface TokenPair {
  access: string
  refresh: string
}

export interface RefreshResult {
  access: string
  /** Present when refresh tokens rotate. */
  refresh?: string
}

/** A user id claim's value as a user id: a positive integer, or its decimal digits as a string; else null. */
export function userIdFromClaim (claim: unknown): number | null {
  const value = typeof claim === 'string' && /^\d{1,15}$/.test(claim) ? Number(claim) : claim
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : null
}
