/**
 * Two-factor sign-in's services: TOTP (otpauth) and recovery codes, the ephemeral login token, the
 * activation token, the QR code (qrcode), the MfaStore port and its adapters. No routes: each dialect's
 * `mfa.ts` maps its wire onto MfaService (lib/dialects/dj-rest-auth/mfa.ts, lib/dialects/djoser/mfa.ts).
 *
 * What the originals do, read from their source (and matched by the routes):
 *
 * dj-rest-auth 7.2, `dj_rest_auth/mfa/` (urls.py, views.py, serializers.py, totp.py, recovery_codes.py, utils.py):
 * - `MFALoginView` replaces `login/`: for a user with a TOTP Authenticator it answers 200
 *   `{ephemeral_token, mfa_required: true}` (a TimestampSigner over the user pk; later versions add a nonce
 *   burnt on use) instead of logging in. Only that view is guarded: `dj_rest_auth.urls`' own login and the
 *   social views still log in on the first factor.
 * - `POST mfa/verify/` `{ephemeral_token, code}` (AllowAny, throttle scope dj_rest_auth): 200 = LoginView's
 *   response (JWT pair + user, or `{key}`; cookies; session login); 400 `{ephemeral_token: ["Invalid or
 *   expired token."]}`, 400 `{code: ["Invalid code."]}`. The code is a TOTP code (pyotp, valid_window=1) or
 *   a recovery code.
 * - `GET mfa/totp/activate/` (IsAuthenticated): 200 `{secret, totp_url, qr_code_data_uri, activation_token}`
 *   (`activation_token` = signing.dumps({uid, secret}), MFA_EPHEMERAL_TOKEN_TIMEOUT).
 * - `POST mfa/totp/activate/` `{activation_token, code}`: 200 `{recovery_codes: [..]}`; 400 `{detail: "MFA is
 *   already enabled. Deactivate it before activating again."}`; 400 `{code: ["Invalid code. Please check your
 *   authenticator app and try again."]}`; a bad activation token is a 400 on `activation_token`.
 * - `POST mfa/totp/deactivate/` `{code}` (TOTP only): 200 `{detail: "TOTP has been deactivated."}`; 400
 *   `{detail: "MFA is not enabled."}`; 400 `{code: ["Invalid code."]}`.
 * - `GET mfa/status/`: 200 `{mfa_enabled, created_at, last_used_at}`.
 * - `GET mfa/recovery-codes/`: 200 `{codes: [unused codes]}` (derived from a stored seed: readable again).
 * - `POST mfa/recovery-codes/regenerate/` (no code asked): 200 `{codes}`; 400 `{detail: "MFA is not enabled."}`.
 * - Settings (REST_AUTH): MFA_EPHEMERAL_TOKEN_TIMEOUT 300, MFA_TOTP_DIGITS 6, MFA_TOTP_PERIOD 30,
 *   MFA_TOTP_ISSUER '', MFA_RECOVERY_CODE_COUNT 10 (codes `xxxx-xxxx`, 8 hex digits).
 *
 * django-trench (trench/urls/base.py, urls/jwt.py, views/base.py, views/jwt.py, serializers.py, exceptions.py):
 * - `POST login/` {USERNAME_FIELD, password}: MFA on: 200 `{ephemeral_token, method}` (the primary method's
 *   name; the code is dispatched); off: 200 `{access, refresh}`; bad credentials 400 `{error: "Unable to
 *   login with provided credentials."}` (the docs say 401 `{details}`; the code answers 400 `{error}`).
 * - `POST login/code/` {ephemeral_token, code}: 200 `{access, refresh}`; 401 `{error: "Invalid or expired
 *   token."}` / `{error: "Invalid or expired code."}`; a backup code works too (and is removed).
 * - `POST {method}/activate/`: 200 `{details: <otpauth URI>}` for `app` (the MFAMethod is created inactive,
 *   get_or_create: the same secret until confirmed); 400 `{error: "Requested MFA method does not exist."}`,
 *   `{error: "MFA method already active."}`.
 * - `POST {method}/activate/confirm/` {code}: 200 `{backup_codes: [..]}`; 400 `{code: [msg]}` (the validator's
 *   errors: "Code invalid or expired.", "MFA method already active.", "Requested MFA method does not exist.").
 * - `POST {method}/deactivate/` {code} (required only with CONFIRM_DISABLE_WITH_CODE, default False): 204;
 *   400 `{code: ["2FA is not enabled."]}` etc.
 * - `POST {method}/codes/regenerate/` {code} (CONFIRM_BACKUP_CODES_REGENERATION_WITH_CODE, default True): 200
 *   `{backup_codes}`.
 * - `GET mfa/config/`: `{methods, confirm_disable_with_code, confirm_regeneration_with_code,
 *   allow_backup_codes_regeneration}`; `GET mfa/user-active-methods/`: `[{name, is_primary}]`;
 *   `POST code/request/`, `POST mfa/change-primary-method/` (several methods; not served here).
 * - Settings (TRENCH_AUTH): BACKUP_CODES_QUANTITY 5, BACKUP_CODES_LENGTH 12, APPLICATION_ISSUER_NAME,
 *   DEFAULT_VALIDITY_PERIOD 30, ENCRYPT_BACKUP_CODES True.
 *
 * Ours, beyond both: every password login of every dialect is guarded (MfaGuardedAccountService), the TOTP
 * secret is encrypted at rest, codes are accepted once (the time step is stored), recovery codes exist only
 * as keyed hashes (so `GET mfa/recovery-codes/` reports a count), the ephemeral token is single use and ends
 * with a password change, and wrong codes spend the account's login failure budget.
 */
export * from './errors.js'
export { MfaKeys } from './crypto.js'
export { MfaService, normalizeRecoveryCode, type MfaSettings, type MfaServiceDeps, type MfaStatus, type MfaUser, type LoginFlavour, type TotpSetup } from './service.js'
export { MfaGuardedAccountService } from './guard.js'
export { MfaOptionSchema, MfaSettingsSchema, resolveMfaSettings, type MfaOption } from './options.js'
export { TOTP_DIGITS, TOTP_PERIOD, TOTP_WINDOW, matchTotp, newTotpSecret, qrCodeDataUri, stepAt, totpCode, totpUri } from './totp.js'
export type { AuthenticatorType, MfaAuthenticator, MfaStore } from './store.js'
export { MFA_STORE_METHODS } from './store.js'
export { MemoryMfaStore } from './memory-store.js'
export { KyselyMfaStore } from './sql-store.js'
export { mfaStoreContract, type MfaContractStore } from './store-contract.js'
