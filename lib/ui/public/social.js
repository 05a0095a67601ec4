// Social sign-in on djoser's o/{provider}/: a "Continue with …" button per provider asks the API for the
// provider's authorization URL and goes there; the provider sends the person back to these pages with
// `?code=&state=` (or `?error=`), which go to the API to sign in. The state, nonce and PKCE verifier stay in
// the API's HttpOnly cookie: the pages never see them.
import { ApiError, call, session } from './api.js'
import { bodyMessages, form, h } from './forms.js'

/** Which provider the tab went to (the redirect back names none), for the tab only, as the tokens. */
const PENDING = 'fastify-accounts.social'
const CALLBACK_PARAMS = ['code', 'state', 'error', 'iss']

/**
 * The redirect_uri: the pages' own root URL (origin and mount path). No fragment (OAuth forbids one) and no
 * query: the provider adds its answer there, and the API allows only the exact URIs it lists.
 */
export function redirectUri () {
  return new URL('.', location.href).href
}

/** The buttons, or null without providers. Each is a form of its own, so its error shows beside it. */
export function socialButtons (providers) {
  if (providers.length === 0) return null
  return h('section', { class: 'social', 'aria-labelledby': 'h-social' },
    h('h2', { id: 'h-social' }, 'Or continue with'),
    ...providers.map(({ provider, label }) => form({
      id: `social-${provider}`,
      submit: `Continue with ${label}`,
      async send () {
        const path = `/o/${encodeURIComponent(provider)}/?redirect_uri=${encodeURIComponent(redirectUri())}`
        const { authorization_url: url } = await call('GET', path)
        // Only a web address: never a javascript: URL, whatever the answer says.
        if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) throw new ApiError(200, { detail: 'The server sent no usable sign-in address.' })
        sessionStorage.setItem(PENDING, provider)
        location.assign(url)
      }
    })))
}

/** The provider's answer in the query string, or null when the page was not opened by a provider's redirect. */
function callbackParams () {
  const query = new URLSearchParams(location.search)
  if (!query.has('code') && !query.has('error') && !query.has('state')) return null
  return Object.fromEntries(CALLBACK_PARAMS.filter((name) => query.has(name)).map((name) => [name, query.get(name)]))
}

/**
 * When the page was opened by a provider's redirect: signs in with its answer (the tokens kept as after a
 * password login), calling `started` first (the page says it is signing in). Resolves to null when there was nothing to do, else to `{ ok: true, answer }` (the API's) or `{ ok: false,
 * messages }` (the API's words: djoser's `{non_field_errors}`, a `{detail}`, a bare string).
 */
export async function completeSocialLogin (started = () => {}) {
  const params = callbackParams()
  if (params === null) return null
  started()
  const provider = sessionStorage.getItem(PENDING)
  // Used once: a reload of the page, or the back button, must not send the same code again.
  sessionStorage.removeItem(PENDING)
  if (provider === null) return { ok: false, messages: ['This sign-in was not started in this tab, or is already over: start it again.'] }
  try {
    const answer = await call('POST', `/o/${encodeURIComponent(provider)}/`, params)
    // With two-factor sign-in on, the answer is the first step (`{ephemeral_token, method}`): no tokens yet.
    session.save(answer)
    return { ok: true, answer }
  } catch (error) {
    const messages = error instanceof ApiError ? bodyMessages(error.body) : []
    return { ok: false, messages: messages.length > 0 ? messages : [error instanceof Error ? error.message : String(error)] }
  }
}
