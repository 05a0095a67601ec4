// The pages: a hash router over the views below. The mailed links land here as djoser's defaults shape them
// (`#/activate/{uid}/{token}` …), so the uid and token stay in the fragment: never in a server log or a Referer.
import { ApiError, authed, call, logout, session, setApiBase } from './api.js'
import { FIELDS, form, h } from './forms.js'
import { codeView, endCodeStep, mfaSection, startCodeStep } from './mfa.js'
import { completeSocialLogin, socialButtons } from './social.js'

const config = await (await fetch('config.json')).json()
setApiBase(config.api)
const login = config.loginField
const editable = login === 'username' ? 'email' : 'username'
const noun = { username: 'username', email: 'email address' }
const onlyLinks = config.pages === 'links'

/** A message for the next page (after a redirect), shown as a status. */
let notice = null
/** Why a social sign-in failed, shown once on the log-in page it lands on. */
let socialFailure = null

function go (hash, message = null) {
  notice = message
  if (location.hash === hash) render()
  else location.hash = hash
}

const link = (hash, text) => h('a', { href: hash }, text)
const retyped = (flag, name) => (flag ? [name] : [])

function sessionEnded (error) {
  if (error instanceof ApiError && error.sessionEnded) {
    go('#/login', error.message)
    return true
  }
  return false
}

// ---- views: each returns its title and content ---------------------------------------------------------

function loginView () {
  const failed = socialFailure
  socialFailure = null
  endCodeStep()
  return {
    title: 'Log in',
    body: [
      failed === null ? null : h('div', { class: 'form-error', id: 'social-error', role: 'alert' }, ...failed.map((text) => h('p', {}, text))),
      form({
        id: 'login',
        fields: [login, 'password'],
        submit: 'Log in',
        async send (values) {
          const answer = await call('POST', '/jwt/create/', values)
          // Two-factor sign-in on: django-trench's first step, the code comes next.
          if (startCodeStep(answer)) return go('#/login/code')
          session.save(answer)
          go('#/account')
        }
      }),
      socialButtons(config.socialProviders),
      h('ul', { class: 'links' },
        h('li', {}, link('#/signup', 'Create an account')),
        h('li', {}, link('#/password/reset', 'Forgot your password?')),
        h('li', {}, link('#/username/reset', `Forgot your ${noun[login]}?`)),
        config.sendActivationEmail ? h('li', {}, link('#/activation/resend', 'Activation link lost or expired?')) : null)
    ]
  }
}

function signupView () {
  return {
    title: 'Create an account',
    body: [
      form({
        id: 'signup',
        fields: ['username', 'email', { ...FIELDS.password, name: 'password', autocomplete: 'new-password' }, ...retyped(config.retype.userCreatePassword, 're_password')],
        submit: 'Create the account',
        async send (values) {
          await call('POST', '/users/', values)
          go('#/login', config.sendActivationEmail
            ? `Account created. We sent an activation link to ${values.email}: follow it, then log in.`
            : 'Account created: you can log in.')
        }
      }),
      socialButtons(config.socialProviders),
      h('p', {}, 'Already have an account? ', link('#/login', 'Log in'))
    ]
  }
}

/** One form asking for an email address, for a link by mail. */
function emailView (title, id, path, description, done) {
  return {
    title,
    body: [form({ id, fields: ['email'], submit: 'Send the link', description, async send (values) {
      await call('POST', path, values)
      go('#/login', done)
    } })]
  }
}

const forgotPassword = () => emailView('Forgot your password?', 'reset-password', '/users/reset_password/',
  'Give the email address of your account: we will mail you a link to choose a new password.',
  'If an account uses that address, a link to choose a new password is on its way.')
const forgotLogin = () => emailView(`Forgot your ${noun[login]}?`, 'reset-username', `/users/reset_${login}/`,
  `Give the email address of your account: we will mail you a link to choose a new ${noun[login]}.`,
  `If an account uses that address, a link to choose a new ${noun[login]} is on its way.`)
const resendActivation = () => emailView('Send the activation link again', 'resend-activation', '/users/resend_activation/',
  'Give the email address you signed up with: we will mail you a new activation link.',
  'If an account waits for activation at that address, a new link is on its way.')

/** Where a mailed link's form goes on success: the login page, or (links-only pages) a page that says it is done. */
function linkDone (message) {
  if (onlyLinks) go('#/done', message)
  else go('#/login', `${message} You can log in.`)
}

const doneView = () => ({ title: 'Done', body: [h('p', {}, 'You can close this page.')] })

// A button, not an activation on load: link scanners and mail previews open links, and must not use them up.
function activateView (uid, token) {
  return {
    title: 'Activate your account',
    body: [form({ id: 'activate', submit: 'Activate my account', description: 'One click and your account is ready.', async send () {
      await call('POST', '/users/activation/', { uid, token })
      linkDone('Your account is active.')
    } })]
  }
}

function resetPasswordView (uid, token) {
  return {
    title: 'Choose a new password',
    body: [form({ id: 'reset-password-confirm', fields: ['new_password', ...retyped(config.retype.passwordResetConfirm, 're_new_password')], submit: 'Set the password', async send (values) {
      await call('POST', '/users/reset_password_confirm/', { uid, token, ...values })
      linkDone('Your password is changed.')
    } })]
  }
}

function resetLoginView (uid, token) {
  return {
    title: `Choose a new ${noun[login]}`,
    body: [form({ id: 'reset-username-confirm', fields: [`new_${login}`, ...retyped(config.retype.usernameResetConfirm, `re_new_${login}`)], submit: `Set the ${noun[login]}`, async send (values) {
      await call('POST', `/users/reset_${login}_confirm/`, { uid, token, ...values })
      linkDone(`Your ${noun[login]} is changed.`)
    } })]
  }
}

/** An account form: the call, then the page again with `message`, or the login page when the session ended. */
function accountForm (options, run, message) {
  return form({
    ...options,
    async send (values) {
      try {
        const next = await run(values)
        go(next ?? '#/account', message)
      } catch (error) {
        if (!sessionEnded(error)) throw error
      }
    }
  })
}

async function accountView () {
  let me
  try {
    me = await authed('GET', '/users/me/')
  } catch (error) {
    if (sessionEnded(error)) return null
    throw error
  }
  const section = (title, ...content) => h('section', { 'aria-labelledby': `h-${title.replace(/\W+/g, '-')}` },
    h('h2', { id: `h-${title.replace(/\W+/g, '-')}` }, title), ...content)
  let mfa = null
  if (config.mfa) {
    try {
      mfa = await mfaSection(go, sessionEnded)
    } catch (error) {
      if (sessionEnded(error)) return null
      throw error
    }
  }
  // With activation on, a new email deactivates the account until the new address is confirmed.
  const reactivate = editable === 'email' && config.sendActivationEmail
  return {
    title: 'Your account',
    body: [
      h('dl', { class: 'profile' },
        h('dt', {}, 'Username'), h('dd', { id: 'me-username' }, me.username),
        h('dt', {}, 'Email'), h('dd', { id: 'me-email' }, me.email)),
      section(`Change your ${noun[editable]}`, accountForm(
        { id: `change-${editable}`, fields: [{ ...FIELDS[editable], name: editable, label: `New ${noun[editable]}` }], submit: `Change the ${noun[editable]}`,
          description: reactivate ? 'Your account then waits for you to follow the activation link mailed to the new address.' : undefined },
        async (values) => {
          await authed('PATCH', '/users/me/', values)
          if (!reactivate) return null
          session.clear()
          return '#/login'
        },
        reactivate ? 'Email changed. Follow the activation link we mailed to the new address, then log in.' : `Your ${noun[editable]} is changed.`)),
      section(`Change your ${noun[login]}`, accountForm(
        { id: `set-${login}`, fields: [`new_${login}`, ...retyped(config.retype.setUsername, `re_new_${login}`), 'current_password'], submit: `Change the ${noun[login]}` },
        (values) => authed('POST', `/users/set_${login}/`, values), `Your ${noun[login]} is changed.`)),
      section('Change your password', accountForm(
        { id: 'set-password', fields: ['new_password', ...retyped(config.retype.setPassword, 're_new_password'), 'current_password'], submit: 'Change the password' },
        (values) => authed('POST', '/users/set_password/', values), 'Your password is changed.')),
      mfa === null ? null : section('Two-factor sign-in', mfa),
      section('Delete your account', accountForm(
        { id: 'delete-account', fields: ['current_password'], submit: 'Delete my account', danger: true, description: 'This cannot be undone.' },
        async (values) => {
          await authed('DELETE', '/users/me/', values)
          session.clear()
          return '#/login'
        }, 'Your account is deleted.'))
    ]
  }
}

function notFoundView () {
  const start = onlyLinks ? [] : [' ', link('#/', 'Go to the start')]
  return { title: 'Page not found', body: [h('p', {}, 'There is no page at this address.', ...start)] }
}

// ---- routing ---------------------------------------------------------------------------------------------

const LINK_ROUTES = [
  [/^#\/activate\/([^/]+)\/([^/]+)$/, activateView],
  [/^#\/password\/reset\/confirm\/([^/]+)\/([^/]+)$/, resetPasswordView],
  [/^#\/username\/reset\/confirm\/([^/]+)\/([^/]+)$/, resetLoginView],
  [/^#\/done$/, doneView]
]
const PAGE_ROUTES = [
  [/^#\/login$/, loginView],
  [/^#\/login\/code$/, () => codeView(go)],
  [/^#\/signup$/, signupView],
  [/^#\/password\/reset$/, forgotPassword],
  [/^#\/username\/reset$/, forgotLogin],
  [/^#\/activation\/resend$/, resendActivation],
  [/^#\/account$/, accountView]
]
const ROUTES = onlyLinks ? LINK_ROUTES : [...LINK_ROUTES, ...PAGE_ROUTES]

function navigation (shown) {
  const item = (child) => h('li', {}, child)
  const current = (hash) => (shown === hash ? 'page' : undefined)
  const items = onlyLinks
    ? []
    : session.signedIn
      ? [item(h('a', { href: '#/account', 'aria-current': current('#/account') }, 'Account')),
          item(h('button', { type: 'button', class: 'link', id: 'logout', async onclick () {
            await logout()
            go('#/login', 'You are logged out.')
          } }, 'Log out'))]
      : [item(h('a', { href: '#/login', 'aria-current': current('#/login') }, 'Log in')),
          item(h('a', { href: '#/signup', 'aria-current': current('#/signup') }, 'Sign up'))]
  document.getElementById('nav').replaceChildren(...items)
  document.getElementById('nav-slot').replaceChildren(...config.navLinks.map(({ href, label }) => item(h('a', { href }, label))))
}

let firstRender = true

async function render () {
  let hash = location.hash
  if (!onlyLinks && (hash === '' || hash === '#' || hash === '#/')) hash = session.signedIn ? '#/account' : '#/login'
  const found = ROUTES.map(([pattern, view]) => [pattern.exec(hash), view]).find(([match]) => match !== null)
  const message = notice
  notice = null
  let page
  try {
    page = found === undefined ? notFoundView() : await found[1](...found[0].slice(1).map(decodeURIComponent))
  } catch (error) {
    page = { title: 'Something went wrong', body: [h('p', { class: 'form-error', role: 'alert' }, error instanceof Error ? error.message : String(error))] }
  }
  if (page === null) return // the view went elsewhere
  navigation(hash)
  document.title = `${page.title} · ${config.siteName}`
  const heading = h('h1', { tabindex: '-1' }, page.title)
  const status = message === null ? [] : [h('p', { class: 'notice', role: 'status' }, message)]
  document.getElementById('main').replaceChildren(heading, ...status, ...page.body.filter((part) => part !== null))
  // Keyboard and screen reader users start at the new page's heading, as after a page load.
  if (!firstRender) heading.focus()
  firstRender = false
}

document.getElementById('site-name').textContent = config.siteName
if (!onlyLinks) {
  // Back from a provider (`?code=&state=`): sign in, then the query leaves the address bar and the history,
  // so a reload does not send the used code again. The account page on success, the log-in page and why not.
  const main = document.getElementById('main')
  const social = await completeSocialLogin(() => {
    main.setAttribute('aria-busy', 'true')
    main.replaceChildren(h('p', { class: 'hint', role: 'status' }, 'Signing you in…'))
  })
  if (social !== null) {
    main.removeAttribute('aria-busy')
    if (!social.ok) socialFailure = social.messages
    // A user with two-factor sign-in on gets trench's first step from the provider's sign-in too.
    const next = !social.ok ? '#/login' : startCodeStep(social.answer) ? '#/login/code' : '#/account'
    history.replaceState(null, '', `${location.pathname}${next}`)
  }
}
window.addEventListener('hashchange', () => { render() })
render()
