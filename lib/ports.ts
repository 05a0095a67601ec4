/**
 * The four ports the services talk to. Adapters (lib/stores, lib/mail, lib/passwords) implement them;
 * lib/testing (`fastify-accounts/testing`) is the one contract suite every store adapter passes.
 */

/** A user row as the services see it. `password` is the encoded hash (never leaves the services). */
export interface User {
  id: number
  username: string
  email: string
  firstName: string
  lastName: string
  /** Encoded password hash (`$argon2id$…`, or a Django-style `algorithm$…` string); '' means unusable. */
  password: string
  isActive: boolean
  isStaff: boolean
  isSuperuser: boolean
  lastLogin: Date | null
  dateJoined: Date
  /**
   * The sessions cut-off (set by a password change or reset): every token and opaque token of a session
   * that started at or before this instant is refused by every dialect's authentication, except those of
   * `keptSession`. Null (or absent, from a store written before it existed) when there is none. Every
   * adapter of this package returns it; the contract suite checks it round-trips with millisecond precision.
   */
  sessionsValidAfter?: Date | null
  /**
   * The one session the cut-off spares: the one that changed the password (a `sid` claim, or the SHA-256
   * hash of an opaque key). Null when the cut-off spares none (a reset) or there is no cut-off.
   */
  keptSession?: string | null
}

/** The session cut-off of a user row, as the authenticators read it. */
export type SessionCutoff = Pick<User, 'sessionsValidAfter' | 'keptSession'>

/** What a refresh (or a /jwt/verify/ of a refresh token) checks against the stores, read in one statement. */
export interface RefreshStanding {
  /** The refresh token is blacklisted (a token with no record is not). */
  revoked: boolean
  /** The user's session cut-off; null when there is no such user. */
  cutoff: SessionCutoff | null
}

/**
 * Reads a refresh token's standing (`jti`) and its user's session cut-off (`userId`) in one statement, for
 * stores whose one database holds both the users and the refresh tokens: `createStores` (SQLite or
 * PostgreSQL without Redis), `createSqliteStores` and `createPostgresStores` give one beside their stores.
 */
export type RefreshStandingReader = (jti: string, userId: number) => Promise<RefreshStanding>

/**
 * A user as routes and `request.user` see it: every field but the password hash. The session cut-off
 * fields are the services' too: `toAccountUser` leaves them out.
 */
export type AccountUser = Omit<User, 'password'>

/** The user without its password hash (nor its session cut-off), for `request.user` and responses. */
export function toAccountUser (user: User): AccountUser {
  const { password: _password, sessionsValidAfter: _after, keptSession: _kept, ...rest } = user
  return rest
}

export interface NewUser {
  username: string
  email: string
  password: string
  isActive: boolean
  isStaff?: boolean
  isSuperuser?: boolean
  firstName?: string
  lastName?: string
  /** Kept when given (an import from Django keeps its ids); otherwise the next free id. */
  id?: number
  /** Default now. */
  dateJoined?: Date
  /** Default null. */
  lastLogin?: Date | null
}

export type UserPatch = Partial<Pick<User,
  'username' | 'email' | 'firstName' | 'lastName' | 'password' | 'isActive' | 'isStaff' | 'isSuperuser' | 'lastLogin' | 'sessionsValidAfter' |
  'keptSession'>>

/** Fields an update may be made conditional on (optimistic check: the row must still hold these values). */
export type UserExpectation = Partial<Pick<User, 'username' | 'email' | 'password' | 'isActive'>>

/** Thrown by a UserStore when a create or update would break the uniqueness of username or email. */
export class DuplicateUserError extends Error {
  readonly field: 'username' | 'email'
  constructor (field: 'username' | 'email') {
    super(`a user with this ${field} already exists`)
    this.name = 'DuplicateUserError'
    this.field = field
  }
}

export { StoreUnavailableError } from './errors.js'

export interface UserStore {
  /**
   * Inserts a user; throws DuplicateUserError on a taken username (exact) or email (any letter case).
   * With an explicit id, later ids continue after the largest one.
   */
  createUser (data: NewUser): Promise<User>
  findUserById (id: number): Promise<User | null>
  /**
   * Optional: only the user's session cut-off (what `/jwt/verify/` and a refresh check against a token), or null
   * when there is no such user. For a store that reads two columns for less than a whole row (the SQLite store);
   * without it, findUserById serves.
   */
  findSessionCutoff? (id: number): Promise<SessionCutoff | null>
  /** Exact, case-sensitive match, as Django's default username field. */
  findUserByUsername (username: string): Promise<User | null>
  /**
   * Every user whose username equals `username` ignoring letter case (allauth's `filter_users_by_username`,
   * which the dj-rest-auth dialect's registration and login use), ordered by id; [] when none. Usernames are
   * unique only exactly, so there may be several (`alice` and `Alice`): the caller decides what that means.
   * ASCII letters must match in any case; beyond ASCII an adapter may follow its database's `lower()` (the
   * memory store and PostgreSQL with a Unicode locale fold every letter; SQLite's `lower()` folds ASCII only).
   */
  findUsersByUsernameIgnoringCase (username: string): Promise<User[]>
  /** Case-insensitive match. */
  findUserByEmail (email: string): Promise<User | null>
  /**
   * Applies `patch`; when `expect` is given the update only happens if the row still holds those values.
   * Returns the updated user, or null when the user is gone or the expectation failed.
   * Throws DuplicateUserError on a taken username or email.
   */
  updateUser (id: number, patch: UserPatch, expect?: UserExpectation): Promise<User | null>
  /** Returns true when a row was deleted. */
  deleteUser (id: number): Promise<boolean>
  /** All users ordered by id. */
  listUsers (): Promise<User[]>
  close? (): Promise<void>
}

/** One issued refresh token (simplejwt's OutstandingToken, plus the rotation family). */
export interface RefreshTokenRecord {
  jti: string
  userId: number
  /** The jti of the first token of a rotation chain; every rotated descendant shares it. */
  family: string
  expiresAt: Date
  /** Set when the token was rotated (exchanged for a new pair). */
  usedAt: Date | null
  /** Set when the token was blacklisted or revoked. */
  revokedAt: Date | null
}

export type NewRefreshToken = Pick<RefreshTokenRecord, 'jti' | 'userId' | 'family' | 'expiresAt'>

/** The refresh token a rotation issues in place of the one it claims; its user and family are the claimed record's. */
export type RefreshSuccessor = Pick<RefreshTokenRecord, 'jti' | 'expiresAt'>

/** Outcome of claiming a refresh token for rotation. */
export type RefreshClaim =
  | { status: 'claimed', record: RefreshTokenRecord }
  | { status: 'used', record: RefreshTokenRecord }
  | { status: 'revoked', record: RefreshTokenRecord }

export interface AuthTokenRecord {
  /** sha256 hex of the 40-hex-char key; the key itself is never stored. */
  hash: string
  userId: number
  createdAt: Date
  /**
   * From `findAuthToken`: when its session was last used (its session record's `lastUsedAt`), null when it has
   * no session record (created before the store kept sessions). Lets the authenticator throttle its
   * last-use writes without a lookup of its own. Ignored by `saveAuthToken`.
   */
  lastUsedAt?: Date | null
}

/** What a session is: a simplejwt rotation family (`jwt`), or an opaque token (`token`), its own session. */
export type SessionKind = 'jwt' | 'token'

/** One session as `GET users/me/sessions/` lists it (ASVS 3.3.4). */
export interface SessionRecord {
  /** `jwt`: the rotation family's id (the tokens' `sid`); `token`: the opaque key's SHA-256 hash. */
  id: string
  userId: number
  kind: SessionKind
  createdAt: Date
  /** Updated at most about once a minute (see `touchSession`). */
  lastUsedAt: Date
  /** Its absolute end (`jwt.sessionLifetime`, `authTokenLifetime`); null when none. */
  expiresAt: Date | null
  /** The client address and User-Agent of the login that started it (null when unknown). */
  ip: string | null
  userAgent: string | null
}

export interface TokenStore {
  /** Records an issued refresh token. */
  saveRefreshToken (record: NewRefreshToken): Promise<void>
  findRefreshToken (jti: string): Promise<RefreshTokenRecord | null>
  /**
   * Atomically marks the token used, for rotation: exactly one concurrent caller gets 'claimed'.
   * A token with no record (issued elsewhere with the same key) is recorded from `fallback` and claimed.
   * An already used token answers 'used', a revoked one 'revoked'; neither is changed.
   * With `successor`, a 'claimed' answer also means the successor is recorded (same user and family as the
   * claimed record), in the same atomic step: a failure leaves neither the claim nor the successor.
   */
  claimRefreshToken (jti: string, fallback: NewRefreshToken, successor?: RefreshSuccessor): Promise<RefreshClaim>
  /** Blacklists one refresh token (creating its record from `fallback` when missing). Idempotent. */
  revokeRefreshToken (jti: string, fallback: NewRefreshToken): Promise<void>
  /** Revokes every token of a rotation family; returns how many were newly revoked. */
  revokeRefreshFamily (family: string): Promise<number>
  /**
   * Revokes every refresh token of a user, except those of the rotation family `exceptFamily` (the session a
   * password change keeps); returns how many were newly revoked. A store that ignores `exceptFamily` revokes
   * them all: safe, but the session that changed the password then has to log in again.
   */
  revokeUserRefreshTokens (userId: number, exceptFamily?: string): Promise<number>

  saveAuthToken (record: AuthTokenRecord): Promise<void>
  findAuthToken (hash: string): Promise<AuthTokenRecord | null>
  /** Returns true when a token was deleted. */
  deleteAuthToken (hash: string): Promise<boolean>
  /**
   * Deletes every opaque token of a user, except the one whose hash is `exceptHash` (the session a password
   * change keeps); returns how many were deleted.
   */
  deleteUserAuthTokens (userId: number, exceptHash?: string): Promise<number>

  /**
   * Removes refresh records that expired before `now` (returns how many), and the session records that
   * expired before `now` or whose credentials are all gone.
   */
  purgeExpired (now: Date): Promise<number>

  // Sessions (ASVS 3.3.4). A session record is written when a rotation family starts and when an opaque token
  // is created, and removed in the same atomic step as what ends it: `revokeRefreshFamily` (its family),
  // `revokeUserRefreshTokens` (the user's jwt sessions but `exceptFamily`), `deleteAuthToken` and
  // `deleteUserAuthTokens` (token sessions, but `exceptHash`); SQL stores also drop them with their user.

  /** Records a session as it starts. Saving an id again replaces the record. */
  saveSession (record: SessionRecord): Promise<void>
  /**
   * Notes a use of a session at `record.lastUsedAt`: its last use is updated only when the stored one is
   * before `staleBefore` (one write a minute at most, across instances), and `record` is recorded whole when
   * the session has none (it started before the store kept sessions). Other fields of a record are kept.
   */
  touchSession (record: SessionRecord, staleBefore: Date): Promise<void>
  /**
   * The user's live sessions, oldest first: not expired at `now` and still holding a credential (`jwt`: a
   * refresh token of its family neither rotated out, revoked nor expired; `token`: its opaque token).
   */
  listSessions (userId: number, now: Date): Promise<SessionRecord[]>
  close? (): Promise<void>
}

export interface MailMessage {
  to: string
  subject: string
  text: string
  html?: string
}

export interface Mailer {
  send (message: MailMessage): Promise<void>
  close? (): Promise<void>
}

export interface PasswordHasher {
  hash (password: string): Promise<string>
  /** False for a wrong password or a hash it cannot read; never throws for bad input. */
  verify (encoded: string, password: string): Promise<boolean>
  /** True when `encoded` should be replaced by a fresh hash (other algorithm or weaker parameters). */
  needsRehash (encoded: string): boolean
}

/** What the stores log (a pino or Fastify logger fits). */
export interface StoreLogger {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
}
