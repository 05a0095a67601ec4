// The accounts API (djoser dialect), as the pages use it: JSON in and out, DRF error bodies turned into
// ApiError, and the signed-in session's JWTs.

// The tokens live in sessionStorage: they survive a reload and the mailed-link pages opened in the same
// tab, end with the tab, are not shared with other tabs, and are never sent by the browser on its own (so
// no CSRF). Script on the page could read them, which the strict Content-Security-Policy (no inline or
// foreign script) guards against. localStorage would keep a refresh token on disk for as long as it lives.
const ACCESS = 'fastify-accounts.access'
const REFRESH = 'fastify-accounts.refresh'

let base = '/auth'

export function setApiBase (prefix) {
  base = prefix
}

export const session = {
  get access () { return sessionStorage.getItem(ACCESS) },
  get refresh () { return sessionStorage.getItem(REFRESH) },
  get signedIn () { return sessionStorage.getItem(REFRESH) !== null },
  save (tokens) {
    if (typeof tokens.access === 'string') sessionStorage.setItem(ACCESS, tokens.access)
    // A refresh token comes back only when the server rotates them.
    if (typeof tokens.refresh === 'string') sessionStorage.setItem(REFRESH, tokens.refresh)
  },
  clear () {
    sessionStorage.removeItem(ACCESS)
    sessionStorage.removeItem(REFRESH)
  }
}

/** An answer other than 2xx: its status and its body, DRF's `{ field: [msg] }`, `{ detail }` or `{ non_field_errors }`. */
export class ApiError extends Error {
  constructor (status, body, sessionEnded = false) {
    super(typeof body.detail === 'string' ? body.detail : `The server answered ${status}.`)
    this.status = status
    this.body = body
    /** True when the refresh token no longer works either: the person must log in again. */
    this.sessionEnded = sessionEnded
  }
}

function isRecord (value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * An error answer as `{ field: [msg] }`: DRF raises some errors with a bare message (djoser's social
 * redirect_uri check answers the JSON string itself) or a list of them.
 */
function errorBody (data, status) {
  if (isRecord(data)) return data
  if (typeof data === 'string' && data !== '') return { detail: data }
  if (Array.isArray(data) && data.length > 0 && data.every((item) => typeof item === 'string')) return { non_field_errors: data }
  return { detail: `The server answered ${status}.` }
}

async function send (method, path, body, access) {
  const headers = { accept: 'application/json' }
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (access) headers.authorization = `Bearer ${access}`
  let response
  try {
    response = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  } catch {
    throw new ApiError(0, { detail: 'The server cannot be reached. Check the connection and try again.' })
  }
  const text = await response.text()
  let data = {}
  try {
    if (text !== '') data = JSON.parse(text)
  } catch {
    data = { detail: `The server sent an answer these pages cannot read (HTTP ${response.status}).` }
  }
  if (!response.ok) {
    if (response.status === 429) data = { detail: isRecord(data) && typeof data.detail === 'string' ? data.detail : 'Too many attempts: wait a little, then try again.' }
    throw new ApiError(response.status, errorBody(data, response.status))
  }
  return data
}

/** An anonymous call. */
export function call (method, path, body) {
  return send(method, path, body)
}

function ended () {
  session.clear()
  return new ApiError(401, { detail: 'Your session has ended: please log in again.' }, true)
}

/**
 * A call as the signed-in person. On a 401 the access token (short-lived) is renewed once with the refresh
 * token and the call retried; when that fails too, the session is over.
 */
export async function authed (method, path, body) {
  if (!session.signedIn) throw ended()
  try {
    return await send(method, path, body, session.access)
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error
  }
  try {
    session.save(await send('POST', '/jwt/refresh/', { refresh: session.refresh }))
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) throw ended()
    throw error
  }
  try {
    return await send(method, path, body, session.access)
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) throw ended()
    throw error
  }
}

/** Logs out: the refresh token is blacklisted (best effort: the tokens are forgotten either way). */
export async function logout () {
  const refresh = session.refresh
  session.clear()
  if (refresh !== null) await send('POST', '/jwt/blacklist/', { refresh }).catch(() => {})
}
