import { EventEmitter } from 'node:events'
import type { RequestContext } from './request-context.js'

/** What happened, for audit logs and metrics. Payloads carry ids, never passwords or tokens. */
export interface AccountsEvents {
  /** `method` 'social' (and the provider's configured name) for a social login; absent for a password login. */
  'login.succeeded': { userId: number, method?: 'password' | 'social', provider?: string }
  /** A provider account was linked to a user (a social sign-up, a connect, an email sign-in with auto-connect). */
  'social.connected': { userId: number, provider: string, accountId: number }
  /** A provider account was unlinked (dj-rest-auth's socialaccounts/{id}/disconnect/). */
  'social.disconnected': { userId: number, provider: string, accountId: number }
  /** `userId` is null when the login named no account; `login` is what was typed. */
  'login.failed': { login: string, userId: number | null, reason: 'unknown-user' | 'wrong-password' | 'inactive' }
  'user.created': { userId: number }
  'user.activated': { userId: number }
  'user.updated': { userId: number, fields: string[] }
  'user.deleted': { userId: number }
  'password.changed': { userId: number }
  'password.reset': { userId: number }
  'username.changed': { userId: number, field: 'username' | 'email' }
  /** A refresh token was exchanged (simplejwt's /jwt/refresh/); `rotated` when a new refresh token came with it. */
  'token.refreshed': { userId: number, rotated: boolean }
  /**
   * A rotated-out refresh token came back after `jwt.refreshReuseInterval`: with reuse detection, its whole
   * rotation family (named by the jti of its first token) was revoked.
   */
  'token.reuseDetected': { userId: number, family: string }
  /**
   * Tokens were revoked: one refresh token blacklisted (`blacklist`), opaque tokens deleted at logout
   * (`logout`), the user's sessions ended by a password change (`password-change`: every session but the one
   * that made the change, when it named one) or by a password reset (`password-reset`: every session), or
   * every refresh and opaque token of the user at account deletion (`user-deleted`). A password change or
   * reset that sets a cut-off (`revokeTokensOnPasswordChange`) always emits it: the cut-off ends access tokens,
   * which no store holds. Otherwise it is emitted only when something was revoked. `userId` is null for a
   * blacklisted token that names no user.
   */
  'token.revoked': { userId: number | null, reason: 'blacklist' | 'logout' | 'password-change' | 'password-reset' | 'user-deleted' }
  /**
   * A request's credentials were refused: `scheme` is how it tried (a JWT, an opaque token), `reason` why
   * (`invalid`: bad signature, expired, wrong type or unknown key; `revoked`: blacklisted or of an ended
   * session; `no-user`: it names no account; `inactive`). `userId` when the token named one. Requests without
   * credentials emit nothing.
   */
  'auth.failed': AuthFailure
  /** A wrong `current_password`: on set password, set username, account deletion, or an email change that needs it. */
  'password.wrongCurrent': { userId: number, action: WrongCurrentAction }
  /**
   * A rate limit answered 429: `limit` is the limited action (`login`, `password` for current-password checks,
   * `registration`, and the mail-sending actions), `scope` whose budget ran out (the client address's, or the
   * account's). `userId` when the request was authenticated.
   */
  'rateLimit.exceeded': { limit: string, scope: 'address' | 'account', userId: number | null }
  /**
   * A 403: `not-staff` (another user's record), `already-active` (an activation link for an active account),
   * `cross-site` (a cookie-authenticated request from a foreign origin), `csrf-token` (the double-submit token
   * missing or wrong), `inactive` (an authenticated request of a deactivated account).
   */
  'permission.denied': { userId: number | null, reason: 'not-staff' | 'already-active' | 'cross-site' | 'csrf-token' | 'inactive' }
  /**
   * A user ended sessions from the sessions routes: one (`user-ended-one`: its refresh family revoked or its
   * opaque token deleted), or every one but the current (`user-ended-others`: a cut-off, as a password change
   * writes). `count` is how many listed sessions ended (JWT sessions of the other dialects end too, uncounted).
   */
  'session.ended': { userId: number, count: number, reason: 'user-ended-one' | 'user-ended-others' }
  /** Two-factor sign-in was turned on (a TOTP authenticator confirmed with a code; recovery codes issued). */
  'mfa.activated': { userId: number, method: 'totp' }
  /** Two-factor sign-in was turned off (with a valid code). */
  'mfa.deactivated': { userId: number, method: 'totp' }
  /** A second factor was accepted: at sign-in (`login`) or to confirm an action (`deactivate`, `regenerate`). */
  'mfa.verified': { userId: number, method: 'totp' | 'recovery-code', purpose: 'login' | 'deactivate' | 'regenerate' | 'change-primary' }
  /**
   * A second factor was refused: a wrong, reused or out-of-window code (`invalid-code`; it also spends the
   * account's login failure budget), or an unknown, expired or used ephemeral / activation token (`invalid-token`).
   */
  'mfa.failed': { userId: number | null, reason: 'invalid-code' | 'invalid-token', purpose: 'login' | 'activate' | 'deactivate' | 'regenerate' | 'change-primary' }
  /** A new set of recovery codes replaced the old one. */
  'mfa.recoveryCodesRegenerated': { userId: number, count: number }
}

/** Why a request's credentials were refused (`auth.failed`). */
export interface AuthFailure {
  scheme: 'jwt' | 'token'
  reason: 'invalid' | 'revoked' | 'no-user' | 'inactive'
  userId: number | null
}

/** What a wrong current password was given for. */
export type WrongCurrentAction = 'set-password' | 'set-username' | 'delete-account' | 'change-email'

export type AccountsEventName = keyof AccountsEvents

/**
 * What a listener receives: the event's fields and the request behind it (its id, IP and user agent), null
 * when the service was called outside a request (a script, a job).
 */
export type AccountsEventPayload<K extends AccountsEventName> = AccountsEvents[K] & { request: RequestContext | null }

type Listener<K extends AccountsEventName> = (payload: AccountsEventPayload<K>) => void

/**
 * A typed event emitter: `app.accounts.events.on('login.failed', ({ login }) => …)`. A listener that
 * throws is logged and never breaks the request that emitted the event.
 */
export class AccountsEventEmitter {
  readonly #emitter = new EventEmitter()
  readonly #onListenerError: (error: unknown, event: AccountsEventName) => void

  constructor (onListenerError: (error: unknown, event: AccountsEventName) => void) {
    this.#onListenerError = onListenerError
  }

  on<K extends AccountsEventName> (event: K, listener: Listener<K>): this {
    this.#emitter.on(event, listener)
    return this
  }

  once<K extends AccountsEventName> (event: K, listener: Listener<K>): this {
    this.#emitter.once(event, listener)
    return this
  }

  off<K extends AccountsEventName> (event: K, listener: Listener<K>): this {
    this.#emitter.off(event, listener)
    return this
  }

  /** Calls the listeners of `event` with `payload` and the request context (`request`; null without one). */
  emit<K extends AccountsEventName> (event: K, payload: AccountsEvents[K], context?: RequestContext | null): void {
    // rawListeners: a once() wrapper removes itself when called; listeners() would unwrap it.
    const listeners = this.#emitter.rawListeners(event) as Array<Listener<K>>
    if (listeners.length === 0) return
    const delivered: AccountsEventPayload<K> = { ...payload, request: context ?? null }
    for (const listener of listeners) {
      try {
        listener(delivered)
      } catch (error) {
        this.#onListenerError(error, event)
      }
    }
  }
}
