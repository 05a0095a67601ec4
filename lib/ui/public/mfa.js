// Two-factor sign-in on django-trench's routes (its `app` method: TOTP): the log-in page's second step, and
// the account page's section that turns it on (QR code, the key as text, backup codes shown once), makes new
// backup codes, and turns it off.
import { ApiError, authed, call, session } from './api.js'
import { form, h } from './forms.js'

/**
 * The ephemeral token between the password and the code. Kept in this module only: it lives 5 minutes and
 * is worth nothing without a code, so a reload simply starts the log-in again.
 */
let pending = null

/** Remembers trench's first step (`{ephemeral_token, method}`); false when `answer` is not one (it holds the tokens). */
export function startCodeStep (answer) {
  if (typeof answer?.ephemeral_token !== 'string') return false
  pending = answer.ephemeral_token
  return true
}

export function endCodeStep () {
  pending = null
}

/**
 * A TOTP code or a backup code (`xxxx-xxxx-xxxx`, letters and digits): no numeric keyboard, which would hide
 * the letters; the browser may fill a code it received (one-time-code).
 */
const codeField = (label = 'Code') => ({ name: 'code', label, autocomplete: 'one-time-code', attrs: { autocapitalize: 'none', spellcheck: 'false', maxlength: '64' } })
const EITHER_CODE = 'Enter the 6-digit code from your authenticator app, or one of your backup codes.'

/** The log-in page's second step: the code, then the account page. `go(hash, message)` moves to a page. */
export function codeView (go) {
  if (pending === null) {
    go('#/login')
    return null
  }
  const token = pending
  return {
    title: 'Enter your code',
    body: [
      form({
        id: 'login-code',
        fields: [codeField()],
        submit: 'Log in',
        description: `Two-factor sign-in is on for this account. ${EITHER_CODE}`,
        async send ({ code }) {
          let tokens
          try {
            tokens = await call('POST', '/login/code/', { ephemeral_token: token, code })
          } catch (error) {
            // trench answers 401 {error} for a wrong code and for a token that expired or was used; only the
            // latter makes the password step start over.
            if (error instanceof ApiError && error.status === 401 && /token/i.test(String(error.body.error))) {
              pending = null
              go('#/login', 'Your sign-in expired before the code was entered: log in again.')
              return
            }
            throw error
          }
          pending = null
          session.save(tokens)
          go('#/account')
        }
      }),
      h('p', {}, h('a', { href: '#/login' }, 'Back to log in'))
    ]
  }
}

/** The key as a person types it into an app: base32 in groups of four. */
function grouped (secret) {
  return secret.replace(/(.{4})(?=.)/g, '$1 ')
}

/** A sub-heading that takes the focus when its part replaces the section's content (as a new page's h1 does). */
function focusable (text, id) {
  return h('h3', { id, tabindex: '-1' }, text)
}

/**
 * The account page's "Two-factor sign-in" content, from the user's active methods. `go(hash, message)` moves to
 * a page; `sessionEnded(error)` sends the person to log in when the session is over (and says whether it did).
 */
export async function mfaSection (go, sessionEnded) {
  const methods = await authed('GET', '/mfa/user-active-methods/')
  const on = Array.isArray(methods) && methods.some((method) => method?.name === 'app')
  const box = h('div', { id: 'mfa', class: 'mfa' })

  function show (parts, focus) {
    box.replaceChildren(...parts)
    // Keyboard and screen reader users land at the start of what replaced the button they used.
    if (focus) box.querySelector('h3')?.focus()
  }
  const guarded = (send) => async (values) => {
    try {
      await send(values)
    } catch (error) {
      if (!sessionEnded(error)) throw error
    }
  }

  function off () {
    return [
      h('p', { id: 'mfa-state' }, 'Off. With it on, logging in asks for your password and then a code from an authenticator app on your phone.'),
      form({
        id: 'mfa-start',
        submit: 'Turn on two-factor sign-in',
        send: guarded(async () => { show(setup(await authed('POST', '/app/activate/')), true) })
      })
    ]
  }

  function setup ({ details, qr_code_data_uri: qr }) {
    const secret = new URL(details).searchParams.get('secret') ?? ''
    return [
      focusable('Set up your authenticator app', 'h-mfa-setup'),
      h('p', {}, 'Scan this QR code with your authenticator app (Google Authenticator, Microsoft Authenticator, 1Password, Aegis…).'),
      // Only an image from a data: URI (the pages' CSP allows no other source anyway).
      typeof qr === 'string' && qr.startsWith('data:image/') ? h('img', { id: 'mfa-qr', class: 'qr', src: qr, width: 200, height: 200, alt: 'QR code of your account for an authenticator app' }) : null,
      h('p', { class: 'hint' }, 'Cannot scan it? Add the account in the app by typing this key instead:'),
      h('p', {}, h('code', { id: 'mfa-secret', class: 'secret' }, grouped(secret))),
      form({
        id: 'mfa-activate',
        fields: [codeField('Code from the app')],
        submit: 'Turn on',
        description: 'Then enter the 6-digit code the app shows, to check that it is set up.',
        send: guarded(async (values) => {
          const { backup_codes: codes } = await authed('POST', '/app/activate/confirm/', values)
          show(backupCodes(codes, 'Two-factor sign-in is on.'), true)
        })
      })
    ]
  }

  function backupCodes (codes, headline) {
    return [
      h('p', { id: 'mfa-notice', class: 'notice', role: 'status' }, headline),
      focusable('Your backup codes', 'h-backup-codes'),
      h('p', {}, 'Keep them somewhere safe, such as a password manager or on paper. If you lose your phone, each code logs you in once instead of a code from the app. ',
        h('strong', {}, 'This is the only time they are shown.')),
      h('ul', { id: 'backup-codes', class: 'backup-codes' }, ...codes.map((code) => h('li', {}, h('code', {}, code)))),
      h('button', { type: 'button', id: 'mfa-done', onclick () { go('#/account') } }, 'I have saved them')
    ]
  }

  function active () {
    return [
      h('p', { id: 'mfa-state' }, 'On. Logging in asks for your password and then a code from your authenticator app.'),
      h('h3', {}, 'New backup codes'),
      form({
        id: 'mfa-regenerate',
        fields: [codeField()],
        submit: 'Make new backup codes',
        description: `Your old backup codes stop working. ${EITHER_CODE}`,
        send: guarded(async (values) => {
          const { backup_codes: codes } = await authed('POST', '/app/codes/regenerate/', values)
          show(backupCodes(codes, 'New backup codes made: the old ones no longer work.'), true)
        })
      }),
      h('h3', {}, 'Turn off'),
      form({
        id: 'mfa-deactivate',
        fields: [codeField()],
        submit: 'Turn off two-factor sign-in',
        danger: true,
        description: `Logging in then needs your password only. ${EITHER_CODE}`,
        send: guarded(async (values) => {
          await authed('POST', '/app/deactivate/', values)
          go('#/account', 'Two-factor sign-in is off.')
        })
      })
    ]
  }

  show(on ? active() : off(), false)
  return box
}
