import { randomInt } from 'node:crypto'
import type { AccountsEventEmitter } from '../events.js'
import type { User, UserStore } from '../ports.js'
import type { RequestContext } from '../request-context.js'
import { MfaKeys, randomToken } from './crypto.js'
import {
  MFA_MESSAGES, MfaActivationTokenError, MfaAlreadyEnabledError, MfaEphemeralTokenError, MfaInvalidCodeError, MfaMethodNotFoundError,
  MfaNotEnabledError
} from './errors.js'
import type { MfaAuthenticator, MfaStore } from './store.js'
import { matchTotp, newTotpSecret, qrCodeDataUri, totpUri } from './totp.js'

export interface MfaSettings {
  /** The issuer an authenticator app shows (dj-rest-auth's MFA_TOTP_ISSUER, trench's APPLICATION_ISSUER_NAME). */
  issuer: string
  /** Seconds an ephemeral login token (and an activation token) lives (MFA_EPHEMERAL_TOKEN_TIMEOUT). */
  ephemeralTokenTimeout: number
  /** Recovery codes per set (MFA_RECOVERY_CODE_COUNT, trench's BACKUP_CODES_QUANTITY). */
  recoveryCodeCount: number
}

export interface MfaServiceDeps {
  store: MfaStore
  users: Pick<UserStore, 'findUserById'>
  secretKey: string
  events: AccountsEventEmitter
  settings: MfaSettings
  /** The clock, epoch ms (tests pass a fixed one). */
  now?: () => number
}

/** What a second step is for: `jwt` answers the JWT pair, `token` an opaque token (djoser's token/login/). */
export type LoginFlavour = 'jwt' | 'token'

export interface TotpSetup {
  secret: string
  totpUrl: string
  qrCodeDataUri: string
  activationToken: string
}

/** What the service needs of a user (a `request.user` fits). */
export type MfaUser = Pick<User, 'id' | 'username' | 'email'>

export interface MfaStatus {
  enabled: boolean
  createdAt: Date | null
  lastUsedAt: Date | null
}

const TOTP = 'totp'
// Recovery codes: 12 characters of a 31-character alphabet without look-alikes (59 bits), shown as xxxx-xxxx-xxxx.
const CODE_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789'
const CODE_LENGTH = 12
const ACTIVATION = 'totp-activation'

/** What the second step answers, as the token's first letter. */
const FLAVOUR_PREFIX: Record<LoginFlavour, string> = { jwt: 'j', token: 't' }

/**
 * Two-factor sign-in: TOTP authenticators and recovery codes, the ephemeral token between the password and
 * the code, and the activation token between showing a secret and confirming it. No routes: each dialect's
 * mfa.ts maps its wire onto these calls. Every code check goes through the store's atomic steps, so a code
 * (or a recovery code, or an ephemeral token) is accepted once even across instances.
 */
export class MfaService {
  readonly #store: MfaStore
  readonly #users: Pick<UserStore, 'findUserById'>
  readonly #keys: MfaKeys
  readonly #events: AccountsEventEmitter
  readonly settings: Readonly<MfaSettings>
  #now: () => number

  constructor (deps: MfaServiceDeps) {
    this.#store = deps.store
    this.#users = deps.users
    this.#keys = new MfaKeys(deps.secretKey)
    this.#events = deps.events
    this.settings = { ...deps.settings }
    this.#now = deps.now ?? Date.now
  }

  /** Replaces the clock (epoch ms): tests compute codes for a fixed time and set it here. */
  useClock (now: () => number): void {
    this.#now = now
  }

  get store (): MfaStore {
    return this.#store
  }

  /** Whether `userId` has two-factor sign-in on (a confirmed authenticator). */
  async isEnabled (userId: number): Promise<boolean> {
    return (await this.#active(userId)) !== null
  }

  async status (userId: number): Promise<MfaStatus> {
    const active = await this.#active(userId)
    return { enabled: active !== null, createdAt: active?.createdAt ?? null, lastUsedAt: active?.lastUsedAt ?? null }
  }

  /** trench's active methods: `app` when TOTP is on. */
  async activeMethods (userId: number): Promise<Array<{ name: 'app', isPrimary: boolean }>> {
    return (await this.isEnabled(userId)) ? [{ name: 'app', isPrimary: true }] : []
  }

  async recoveryCodesLeft (userId: number): Promise<number> {
    return await this.#store.countRecoveryCodes(userId)
  }

  // ---- sign-in ------------------------------------------------------------------------------------------

  /** The first step's answer: a random token (only its hash is kept) naming `user` for `ephemeralTokenTimeout` seconds. */
  async startLogin (user: MfaUser, flavour: LoginFlavour = 'jwt'): Promise<string> {
    // The flavour and the start time ride in the token's text, covered by the stored hash: changing them finds no token.
    const token = `${FLAVOUR_PREFIX[flavour]}.${this.#now().toString(36)}.${randomToken(32)}`
    await this.#store.saveEphemeralToken(this.#keys.hash(token, 'ephemeral'), user.id, new Date(this.#now() + this.settings.ephemeralTokenTimeout * 1000))
    return token
  }

  /**
   * The user a live ephemeral token names, without using it up (for the rate limit's account key). A
   * malformed token is null, never an error.
   */
  async userOfEphemeralToken (token: unknown): Promise<User | null> {
    if (typeof token !== 'string' || token.length > 200) return null
    const userId = await this.#store.findEphemeralToken(this.#keys.hash(token, 'ephemeral'), new Date(this.#now()))
    return userId === null ? null : await this.#users.findUserById(userId)
  }

  /**
   * The second step: `code` (TOTP or recovery) for the user of `ephemeralToken`. The token is used up only
   * when the code is right (a typo does not cost a new password login, as dj-rest-auth does); a wrong code
   * is an `mfa.failed` and counts against the account (the route runs this inside countingFailures).
   */
  async verifyLogin (ephemeralToken: string, code: string, context?: RequestContext | null): Promise<{ user: User, flavour: LoginFlavour }> {
    const user = await this.userOfEphemeralToken(ephemeralToken)
    // A password change or reset after the first step (the user's sessions cut-off) ends it too.
    const started = parseInt(ephemeralToken.split('.')[1] ?? '', 36)
    const cutoff = user?.sessionsValidAfter?.getTime() ?? null
    if (user === null || !user.isActive || (cutoff !== null && !(started > cutoff))) {
      this.#events.emit('mfa.failed', { userId: user?.id ?? null, reason: 'invalid-token', purpose: 'login' }, context)
      throw new MfaEphemeralTokenError(MFA_MESSAGES.ephemeralToken)
    }
    const method = await this.#checkCode(user.id, code, true)
    if (method === null) {
      this.#events.emit('mfa.failed', { userId: user.id, reason: 'invalid-code', purpose: 'login' }, context)
      throw new MfaInvalidCodeError(MFA_MESSAGES.invalidCode)
    }
    // Atomic: of two requests with the same token and two valid codes, one signs in.
    const consumed = await this.#store.consumeEphemeralToken(this.#keys.hash(ephemeralToken, 'ephemeral'), new Date(this.#now()))
    if (consumed !== user.id) {
      this.#events.emit('mfa.failed', { userId: user.id, reason: 'invalid-token', purpose: 'login' }, context)
      throw new MfaEphemeralTokenError(MFA_MESSAGES.ephemeralToken)
    }
    this.#events.emit('mfa.verified', { userId: user.id, method, purpose: 'login' }, context)
    return { user, flavour: ephemeralToken.startsWith(`${FLAVOUR_PREFIX.token}.`) ? 'token' : 'jwt' }
  }

  // ---- activation (dj-rest-auth: the pending secret travels in the activation token) ---------------------

  /** GET mfa/totp/activate/: a new secret, its URI and QR code, and the activation token that carries it encrypted. */
  async beginActivation (user: MfaUser): Promise<TotpSetup> {
    const secret = await newTotpSecret()
    const totpUrl = await totpUri(secret, user.email !== '' ? user.email : user.username, this.settings.issuer)
    const activationToken = this.#keys.sealToken({ u: user.id, s: secret, e: this.#now() + this.settings.ephemeralTokenTimeout * 1000 }, ACTIVATION)
    return { secret, totpUrl, qrCodeDataUri: await qrCodeDataUri(totpUrl), activationToken }
  }

  /** POST mfa/totp/activate/: the code proves the app has the secret; MFA goes on; the recovery codes, shown once. */
  async confirmActivation (user: MfaUser, activationToken: string, code: string, context?: RequestContext | null): Promise<string[]> {
    if (await this.isEnabled(user.id)) throw new MfaAlreadyEnabledError(MFA_MESSAGES.alreadyEnabled)
    const payload = this.#keys.openToken(activationToken, ACTIVATION) as { u?: unknown, s?: unknown, e?: unknown } | null
    if (payload === null || payload.u !== user.id || typeof payload.s !== 'string' || typeof payload.e !== 'number' || payload.e <= this.#now()) {
      this.#events.emit('mfa.failed', { userId: user.id, reason: 'invalid-token', purpose: 'activate' }, context)
      throw new MfaActivationTokenError(MFA_MESSAGES.activationToken)
    }
    return await this.#activate(user, payload.s, code, context)
  }

  // ---- activation (trench: the pending secret is stored, encrypted, until confirmed) ---------------------

  /** POST app/activate/: the otpauth:// URI of the user's pending secret (the same one until confirmed). */
  async beginPendingActivation (user: MfaUser): Promise<{ totpUrl: string, qrCodeDataUri: string }> {
    const existing = await this.#store.findAuthenticator(user.id, TOTP)
    if (existing?.active === true) throw new MfaAlreadyEnabledError(MFA_MESSAGES.methodAlreadyActive)
    let secret = existing === null ? null : this.#keys.decryptSecret(existing.encryptedSecret, user.id)
    if (secret === null) {
      secret = await newTotpSecret()
      await this.#store.saveAuthenticator({ userId: user.id, type: TOTP, encryptedSecret: this.#keys.encryptSecret(secret, user.id), active: false, createdAt: new Date(this.#now()) })
    }
    const totpUrl = await totpUri(secret, user.username, this.settings.issuer)
    return { totpUrl, qrCodeDataUri: await qrCodeDataUri(totpUrl) }
  }

  /** POST app/activate/confirm/: confirms the pending secret with a code; the backup codes, shown once. */
  async confirmPendingActivation (user: MfaUser, code: string, context?: RequestContext | null): Promise<string[]> {
    const pending = await this.#store.findAuthenticator(user.id, TOTP)
    if (pending === null) throw new MfaMethodNotFoundError(MFA_MESSAGES.methodNotFound)
    if (pending.active) throw new MfaAlreadyEnabledError(MFA_MESSAGES.methodAlreadyActive)
    const secret = this.#keys.decryptSecret(pending.encryptedSecret, user.id)
    if (secret === null) throw new MfaMethodNotFoundError(MFA_MESSAGES.methodNotFound)
    return await this.#activate(user, secret, code, context)
  }

  async #activate (user: MfaUser, secret: string, code: string, context?: RequestContext | null): Promise<string[]> {
    const now = this.#now()
    const step = await matchTotp(secret, code, now)
    if (step === null) {
      this.#events.emit('mfa.failed', { userId: user.id, reason: 'invalid-code', purpose: 'activate' }, context)
      throw new MfaInvalidCodeError(MFA_MESSAGES.activationInvalidCode)
    }
    await this.#store.saveAuthenticator({ userId: user.id, type: TOTP, encryptedSecret: this.#keys.encryptSecret(secret, user.id), active: true, createdAt: new Date(now) })
    // The code that confirmed the secret is spent: it cannot also sign in.
    await this.#store.claimStep(user.id, TOTP, step, new Date(now))
    const codes = await this.#newRecoveryCodes(user.id)
    this.#events.emit('mfa.activated', { userId: user.id, method: 'totp' }, context)
    return codes
  }

  // ---- deactivation and recovery codes -----------------------------------------------------------------

  /**
   * Turns MFA off, with a valid code (TOTP; and a recovery code when `allowRecoveryCode`, as trench takes
   * backup codes for protected actions, while dj-rest-auth takes TOTP only).
   */
  async deactivate (user: MfaUser, code: string, options: { allowRecoveryCode: boolean, notEnabledMessage?: string }, context?: RequestContext | null): Promise<void> {
    if (!(await this.isEnabled(user.id))) throw new MfaNotEnabledError(options.notEnabledMessage ?? MFA_MESSAGES.notEnabled)
    const method = await this.#checkCode(user.id, code, options.allowRecoveryCode)
    if (method === null) {
      this.#events.emit('mfa.failed', { userId: user.id, reason: 'invalid-code', purpose: 'deactivate' }, context)
      throw new MfaInvalidCodeError(MFA_MESSAGES.invalidCode)
    }
    this.#events.emit('mfa.verified', { userId: user.id, method, purpose: 'deactivate' }, context)
    await this.#store.deleteAuthenticator(user.id, TOTP)
    await this.#store.deleteRecoveryCodes(user.id)
    this.#events.emit('mfa.deactivated', { userId: user.id, method: 'totp' }, context)
  }

  /** A new set of recovery codes (the old ones stop working); with `code`, only after checking it (trench's default). */
  async regenerateRecoveryCodes (user: MfaUser, code: string | null, options: { notEnabledMessage?: string } = {}, context?: RequestContext | null): Promise<string[]> {
    if (!(await this.isEnabled(user.id))) throw new MfaNotEnabledError(options.notEnabledMessage ?? MFA_MESSAGES.notEnabled)
    if (code !== null) {
      const method = await this.#checkCode(user.id, code, true)
      if (method === null) {
        this.#events.emit('mfa.failed', { userId: user.id, reason: 'invalid-code', purpose: 'regenerate' }, context)
        throw new MfaInvalidCodeError(MFA_MESSAGES.invalidCode)
      }
      this.#events.emit('mfa.verified', { userId: user.id, method, purpose: 'regenerate' }, context)
    }
    const codes = await this.#newRecoveryCodes(user.id)
    this.#events.emit('mfa.recoveryCodesRegenerated', { userId: user.id, count: codes.length }, context)
    return codes
  }

  /**
   * A protected action's code (trench's ProtectedActionValidator) where nothing else changes: a TOTP code or
   * an unused recovery code of the active authenticator, spent when accepted.
   */
  async confirmCode (user: MfaUser, code: string, purpose: 'change-primary', options: { notEnabledMessage?: string } = {}, context?: RequestContext | null): Promise<void> {
    if (!(await this.isEnabled(user.id))) throw new MfaNotEnabledError(options.notEnabledMessage ?? MFA_MESSAGES.notEnabled)
    const method = await this.#checkCode(user.id, code, true)
    if (method === null) {
      this.#events.emit('mfa.failed', { userId: user.id, reason: 'invalid-code', purpose }, context)
      throw new MfaInvalidCodeError(MFA_MESSAGES.invalidCode)
    }
    this.#events.emit('mfa.verified', { userId: user.id, method, purpose }, context)
  }

  // ---- internals -------------------------------------------------------------------------------------------

  async #active (userId: number): Promise<MfaAuthenticator | null> {
    const found = await this.#store.findAuthenticator(userId, TOTP)
    return found?.active === true ? found : null
  }

  /** 'totp' or 'recovery-code' when `code` is accepted (and now spent), null otherwise. */
  async #checkCode (userId: number, code: unknown, allowRecoveryCode: boolean): Promise<'totp' | 'recovery-code' | null> {
    if (typeof code !== 'string' || code.length > 64) return null
    const trimmed = code.trim()
    const now = this.#now()
    const active = await this.#active(userId)
    if (active === null) return null
    const secret = this.#keys.decryptSecret(active.encryptedSecret, userId)
    if (secret !== null) {
      const step = await matchTotp(secret, trimmed.replace(/\s+/g, ''), now)
      // A code of the step last used, or of an earlier one, is refused: each code works once (ASVS 2.8.4).
      if (step !== null) return await this.#store.claimStep(userId, TOTP, step, new Date(now)) ? 'totp' : null
    }
    if (!allowRecoveryCode) return null
    const normalized = normalizeRecoveryCode(trimmed)
    if (normalized === null) return null
    return await this.#store.useRecoveryCode(userId, this.#keys.hash(normalized, 'recovery'), new Date(now)) ? 'recovery-code' : null
  }

  async #newRecoveryCodes (userId: number): Promise<string[]> {
    const codes = Array.from({ length: this.settings.recoveryCodeCount }, newRecoveryCode)
    await this.#store.replaceRecoveryCodes(userId, codes.map((c) => this.#keys.hash(normalizeRecoveryCode(c) as string, 'recovery')), new Date(this.#now()))
    return codes
  }
}

function newRecoveryCode (): string {
  let raw = ''
  for (let i = 0; i < CODE_LENGTH; i++) raw += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)]
  return `${raw.slice(0, 4)}-${raw.slice(4, 8)}-${raw.slice(8)}`
}

/** A recovery code as typed (any case, with or without dashes and spaces) in its one stored form; null when it cannot be one. */
export function normalizeRecoveryCode (code: string): string | null {
  const compact = code.toLowerCase().replace(/[\s-]+/g, '')
  return compact.length === CODE_LENGTH && [...compact].every((c) => CODE_ALPHABET.includes(c)) ? compact : null
}
