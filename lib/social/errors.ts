import createError from '@fastify/error'

/**
 * What social login can fail with, each a 4xx with a stable `code`. The message is the human text; each
 * dialect maps the codes to its own words (dj-rest-auth's `non_field_errors`, djoser's). Provider tokens,
 * codes and secrets never appear in a message: a `cause` may hold the library error, for the log only.
 */

type Message = [detail: string, options?: { cause: unknown }]

/** The request named no way in: no `access_token`, `code` nor `id_token` (dj-rest-auth: "Incorrect input. access_token or code is required."). */
export const SocialInputError = createError<'ACCOUNTS_SOCIAL_INPUT', 400, Message>('ACCOUNTS_SOCIAL_INPUT', '%s', 400)
/** The provider refused the authorization code: bad, expired or reused code, wrong PKCE verifier or redirect URI, wrong client secret. */
export const SocialCodeExchangeError = createError<'ACCOUNTS_SOCIAL_CODE_EXCHANGE', 400, Message>('ACCOUNTS_SOCIAL_CODE_EXCHANGE', '%s', 400)
/**
 * A token the provider or this server refused: an id_token with a bad signature, issuer, audience, expiry
 * or nonce; an access token the provider does not know, or issued to another app; a bad OAuth 1.0a pair.
 */
export const SocialTokenError = createError<'ACCOUNTS_SOCIAL_TOKEN', 400, Message>('ACCOUNTS_SOCIAL_TOKEN', '%s', 400)
/** The provider is down, too slow (every call has a timeout), or answered something that makes no sense. */
export const SocialProviderError = createError<'ACCOUNTS_SOCIAL_PROVIDER', 400, Message>('ACCOUNTS_SOCIAL_PROVIDER', '%s', 400)

/** djoser's three state failures, each with its own message. */
export type StateProblem = 'missing' | 'not-kept' | 'mismatch'
export const SocialStateError = createError<'ACCOUNTS_SOCIAL_STATE', 400, [detail: string]>('ACCOUNTS_SOCIAL_STATE', '%s', 400)
/** The user (or the provider) cancelled at the provider: `?error=access_denied` on the callback (djoser: "Authentication process canceled"). */
export const SocialCanceledError = createError<'ACCOUNTS_SOCIAL_CANCELED', 400, [detail: string]>('ACCOUNTS_SOCIAL_CANCELED', '%s', 400)
/** A redirect URI that is not in `allowedRedirectUris`. */
export const SocialRedirectUriError = createError<'ACCOUNTS_SOCIAL_REDIRECT_URI', 400, [detail: string]>('ACCOUNTS_SOCIAL_REDIRECT_URI', '%s', 400)
/** No provider of that name is configured (404 in both dialects). */
export const SocialUnknownProviderError = createError<'ACCOUNTS_SOCIAL_UNKNOWN_PROVIDER', 404, [detail: string]>('ACCOUNTS_SOCIAL_UNKNOWN_PROVIDER', '%s', 404)
/** The provider cannot do what was asked (an id_token given to GitHub, a code given to X). */
export const SocialUnsupportedError = createError<'ACCOUNTS_SOCIAL_UNSUPPORTED', 400, [detail: string]>('ACCOUNTS_SOCIAL_UNSUPPORTED', '%s', 400)

/** Sign-up would take an email another local account has (allauth's words, as dj-rest-auth sends them). */
export const SocialEmailTakenError = createError<'ACCOUNTS_SOCIAL_EMAIL_TAKEN', 400, [detail: string]>('ACCOUNTS_SOCIAL_EMAIL_TAKEN', '%s', 400)
/** Sign-up needs an email and the provider gave none. */
export const SocialEmailRequiredError = createError<'ACCOUNTS_SOCIAL_EMAIL_REQUIRED', 400, [detail: string]>('ACCOUNTS_SOCIAL_EMAIL_REQUIRED', '%s', 400)
/** No local account matches and `autoSignup` is off. */
export const SocialSignupClosedError = createError<'ACCOUNTS_SOCIAL_SIGNUP_CLOSED', 400, [detail: string]>('ACCOUNTS_SOCIAL_SIGNUP_CLOSED', '%s', 400)
/** The account it signs in is inactive (waiting for activation, or disabled). */
export const SocialInactiveError = createError<'ACCOUNTS_SOCIAL_INACTIVE', 400, [detail: string]>('ACCOUNTS_SOCIAL_INACTIVE', '%s', 400)
/** Connect: the provider account is linked to another local user (dj-rest-auth would sign in as them: its issue 464). */
export const SocialAlreadyConnectedError = createError<'ACCOUNTS_SOCIAL_ALREADY_CONNECTED', 400, [detail: string]>('ACCOUNTS_SOCIAL_ALREADY_CONNECTED', '%s', 400)
/** Disconnect would leave the user no way to sign in (no usable password, no other social account). */
export const SocialDisconnectRefusedError = createError<'ACCOUNTS_SOCIAL_DISCONNECT_REFUSED', 400, [detail: string]>('ACCOUNTS_SOCIAL_DISCONNECT_REFUSED', '%s', 400)
/** Disconnect: no social account with that id belongs to the caller. */
export const SocialAccountNotFoundError = createError<'ACCOUNTS_SOCIAL_ACCOUNT_NOT_FOUND', 404, [detail: string]>('ACCOUNTS_SOCIAL_ACCOUNT_NOT_FOUND', '%s', 404)

/**
 * What a SocialError keeps of the library error behind it, for the log: its name, code and message (and
 * the same of its own cause, for a network error's ECONNREFUSED), never the objects a library attaches
 * (a token response, a JWS input, claims), which could carry what must not be logged.
 */
export function safeCause (error: unknown): Error | null {
  if (error === null || error === undefined) return null
  const describe = (e: unknown): string => {
    if (!(e instanceof Error)) return typeof e === 'string' ? e.slice(0, 200) : typeof e
    const code = (e as { code?: unknown }).code
    return `${e.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${e.message.slice(0, 300)}`
  }
  const inner = error instanceof Error && error.cause !== undefined ? ` (${describe(error.cause)})` : ''
  return new Error(describe(error) + inner)
}

/** The default words, close to the anchors' so a dialect can use them as they are. */
export const SOCIAL_MESSAGES = {
  input: 'Incorrect input. access_token or code is required.',
  codeExchange: 'Failed to exchange code for access token',
  token: 'Incorrect value',
  provider: 'The provider could not be reached or gave an invalid answer.',
  stateMissing: 'State could not be found in request data.',
  stateNotKept: 'State could not be found in server-side session data.',
  stateMismatch: 'Invalid state has been provided.',
  canceled: 'Authentication process canceled',
  redirectUri: 'redirect_uri must be in SOCIAL_AUTH_ALLOWED_REDIRECT_URIS',
  emailTaken: 'User is already registered with this e-mail address.',
  emailRequired: 'The provider gave no e-mail address, and one is required to sign up.',
  signupClosed: 'Sign up is closed.',
  inactive: 'User account is disabled.',
  alreadyConnected: 'The social account is already connected to a different account.',
  noPassword: 'Your account has no password set up.',
  accountNotFound: 'Not found.'
} as const

export function stateError (problem: StateProblem): InstanceType<typeof SocialStateError> & { problem: StateProblem } {
  const message = problem === 'missing' ? SOCIAL_MESSAGES.stateMissing : problem === 'not-kept' ? SOCIAL_MESSAGES.stateNotKept : SOCIAL_MESSAGES.stateMismatch
  return Object.assign(new SocialStateError(message), { problem })
}

export function unknownProvider (name: string): InstanceType<typeof SocialUnknownProviderError> {
  return new SocialUnknownProviderError(`Provider '${name}' not supported`)
}

export type SocialError =
  | InstanceType<typeof SocialInputError>
  | InstanceType<typeof SocialCodeExchangeError>
  | InstanceType<typeof SocialTokenError>
  | InstanceType<typeof SocialProviderError>
  | InstanceType<typeof SocialStateError>
  | InstanceType<typeof SocialCanceledError>
  | InstanceType<typeof SocialRedirectUriError>
  | InstanceType<typeof SocialUnknownProviderError>
  | InstanceType<typeof SocialUnsupportedError>
  | InstanceType<typeof SocialEmailTakenError>
  | InstanceType<typeof SocialEmailRequiredError>
  | InstanceType<typeof SocialSignupClosedError>
  | InstanceType<typeof SocialInactiveError>
  | InstanceType<typeof SocialAlreadyConnectedError>
  | InstanceType<typeof SocialDisconnectRefusedError>
  | InstanceType<typeof SocialAccountNotFoundError>

export const SOCIAL_ERROR_CODES: ReadonlySet<string> = new Set([
  'ACCOUNTS_SOCIAL_INPUT', 'ACCOUNTS_SOCIAL_CODE_EXCHANGE', 'ACCOUNTS_SOCIAL_TOKEN', 'ACCOUNTS_SOCIAL_PROVIDER',
  'ACCOUNTS_SOCIAL_STATE', 'ACCOUNTS_SOCIAL_CANCELED', 'ACCOUNTS_SOCIAL_REDIRECT_URI', 'ACCOUNTS_SOCIAL_UNKNOWN_PROVIDER',
  'ACCOUNTS_SOCIAL_UNSUPPORTED', 'ACCOUNTS_SOCIAL_EMAIL_TAKEN', 'ACCOUNTS_SOCIAL_EMAIL_REQUIRED', 'ACCOUNTS_SOCIAL_SIGNUP_CLOSED',
  'ACCOUNTS_SOCIAL_INACTIVE', 'ACCOUNTS_SOCIAL_ALREADY_CONNECTED', 'ACCOUNTS_SOCIAL_DISCONNECT_REFUSED', 'ACCOUNTS_SOCIAL_ACCOUNT_NOT_FOUND'
])

export function isSocialError (error: unknown): error is SocialError {
  return error instanceof Error && SOCIAL_ERROR_CODES.has((error as { code?: unknown }).code as string)
}
