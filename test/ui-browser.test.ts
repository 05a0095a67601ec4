// The pages in a real browser: Debian's chromium, driven by playwright-core, against the example server on
// an ephemeral port. Skipped (with the reason) when no chromium is found, except under CI=true.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { chromium, type Browser, type Page } from 'playwright-core'
import t from 'tap'
import { freePort, withChromium } from './helpers/browser.js'
import { fieldError, formError, heading, newPage, notice, shot as pageShot, SHOTS, unlabelled } from './helpers/pages.js'
import { start } from '../example/server.js'
import { MemoryMailer } from '../lib/mail/memory.js'
import { accounts } from '../lib/plugin.js'
import { MemoryTokenStore, MemoryUserStore } from '../lib/stores/memory.js'
import { accountsUi, uiLinks } from '../lib/ui/index.js'
import { fastHasher, SECRET } from './helpers/app.js'

const PASSWORD = 'correct-horse-battery-staple'
const NEW_PASSWORD = 'another-horse-battery-staple'
const RESET_PASSWORD = 'yet-another-staple-battery'
/** DOCS_SCREENSHOTS=1 also refreshes the README's images under docs/. */
const DOCS = process.env.DOCS_SCREENSHOTS === '1' ? resolve('docs') : undefined

await withChromium(t, browserTests)

async function browserTests (executablePath: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true })
  const dir = t.testdir()
  const config = join(dir, 'accounts.json')
  writeFileSync(config, JSON.stringify({ argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } }))
  // The mailed links name the port: the server listens on one chosen beforehand.
  const port = await freePort()
  const { app } = await start({ PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:', ACCOUNTS_CONFIG: config }, { logger: false })
  t.teardown(() => app.close())
  const base = `http://localhost:${port}`
  const runAsRoot = process.getuid?.() === 0
  const browser: Browser = await chromium.launch({ executablePath, headless: true, args: runAsRoot ? ['--no-sandbox'] : [] })
  t.teardown(() => browser.close())

  t.test('a new user\'s whole journey, and the failures met on the way', async t => {
    const { page, problems } = await newPage(t, browser, base)

    await page.goto(`${base}/`)
    await heading(t, page, 'Log in', 'the start page asks to log in')
    await shot(page, 'login')

    // ---- sign up: a weak password, then a good one, then a taken username
    await page.getByRole('navigation').getByRole('link', { name: 'Sign up' }).click()
    await heading(t, page, 'Create an account')
    await fill(page, 'signup', { Username: 'alice', Email: 'alice@example.com', Password: '1234' })
    await page.getByRole('button', { name: 'Create the account' }).click()
    await fieldError(t, page, 'signup-password', /short|common|numeric/i, 'a weak password is refused next to the password field')
    await shot(page, 'signup-errors')
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Create the account' }).click()
    await heading(t, page, 'Log in')
    await notice(t, page, /Account created\. We sent an activation link to alice@example\.com/)

    await page.getByRole('link', { name: 'Create an account' }).click()
    await fill(page, 'signup', { Username: 'alice', Email: 'other@example.com', Password: PASSWORD })
    await page.getByRole('button', { name: 'Create the account' }).click()
    await fieldError(t, page, 'signup-username', /already exists/, 'a taken username is refused next to the username field')

    // ---- the activation mail, in the dev mailbox
    await page.getByRole('link', { name: 'Dev mailbox' }).click()
    // A page of its own (a full navigation): wait for it rather than read whichever h1 is there first.
    await page.getByRole('heading', { level: 1, name: 'Mails sent' }).waitFor()
    t.equal(await page.title(), 'Dev mailbox', 'the dev mailbox')
    await shot(page, 'dev-mailbox')
    const activation = await mailLink(page, 'Account activation', /#\/activate\//, undefined, true)
    await heading(t, page, 'Activate your account')
    await shot(page, 'activate')
    await page.getByRole('button', { name: 'Activate my account' }).click()
    await heading(t, page, 'Log in')
    await notice(t, page, /Your account is active\. You can log in\./)

    await page.goto(activation)
    await heading(t, page, 'Activate your account')
    await page.getByRole('button', { name: 'Activate my account' }).click()
    await formError(t, page, 'activate', /stale|already|used/i, 'a used link says so')

    // ---- log in: a wrong password, then the right one
    await page.goto(`${base}/#/login`)
    await fill(page, 'login', { Username: 'alice', Password: 'wrong-password-1' })
    await page.getByRole('button', { name: 'Log in' }).click()
    await formError(t, page, 'login', /No active account/, 'a wrong password is refused')
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Log in' }).click()
    await heading(t, page, 'Your account')
    t.equal(await page.locator('#me-username').textContent(), 'alice')
    t.equal(await page.locator('#me-email').textContent(), 'alice@example.com')
    await shot(page, 'account')

    // ---- an expired access token is renewed with the refresh token, without a word to the person
    await page.evaluate(() => { sessionStorage.setItem('fastify-accounts.access', 'not-a-token') })
    await page.reload()
    await heading(t, page, 'Your account', 'a bad access token is refreshed, the page loads')
    t.not(await page.evaluate(() => sessionStorage.getItem('fastify-accounts.access')), 'not-a-token')

    // ---- change the password: a wrong current password, then the right one
    const setPassword = page.locator('#set-password')
    await setPassword.getByLabel('New password').fill(NEW_PASSWORD)
    await setPassword.getByLabel('Current password').fill('not-my-password')
    await setPassword.getByRole('button', { name: 'Change the password' }).click()
    await fieldError(t, page, 'set-password-current_password', /./, 'a wrong current password is shown at that field')
    await setPassword.getByLabel('Current password').fill(PASSWORD)
    await setPassword.getByRole('button', { name: 'Change the password' }).click()
    await notice(t, page, /Your password is changed/)

    // ---- log out
    await page.getByRole('button', { name: 'Log out' }).click()
    await heading(t, page, 'Log in')
    await notice(t, page, /You are logged out/)
    t.same(await page.evaluate(() => Object.keys(sessionStorage)), [], 'no token is left in the tab')
    await page.goto(`${base}/#/account`)
    await heading(t, page, 'Log in', 'the account page asks to log in again')

    // ---- forgot password: the mail, the landing page, a weak password, then a good one; the link works once
    await page.getByRole('link', { name: 'Forgot your password?' }).click()
    await heading(t, page, 'Forgot your password?')
    await fill(page, 'reset-password', { Email: 'alice@example.com' })
    await page.getByRole('button', { name: 'Send the link' }).click()
    await notice(t, page, /a link to choose a new password is on its way/)
    await page.goto(`${base}/dev/mail`)
    const reset = await mailLink(page, 'Password reset', /#\/password\/reset\/confirm\//, undefined, true)
    await heading(t, page, 'Choose a new password')
    await shot(page, 'password-reset-confirm')
    await page.getByLabel('New password').fill('password')
    await page.getByRole('button', { name: 'Set the password' }).click()
    await fieldError(t, page, 'reset-password-confirm-new_password', /common/i, 'a weak new password is refused at its field')
    await page.getByLabel('New password').fill(RESET_PASSWORD)
    await page.getByRole('button', { name: 'Set the password' }).click()
    await notice(t, page, /Your password is changed\. You can log in\./)
    await page.goto(reset)
    await page.getByLabel('New password').fill('and-once-more-battery-horse')
    await page.getByRole('button', { name: 'Set the password' }).click()
    await formError(t, page, 'reset-password-confirm', /invalid|expired|token/i, 'a used reset link is refused')

    // ---- forgot username: the mail, its landing page, then log in with the new name and the reset password
    await page.goto(`${base}/#/username/reset`)
    await fill(page, 'reset-username', { Email: 'alice@example.com' })
    await page.getByRole('button', { name: 'Send the link' }).click()
    await notice(t, page, /a link to choose a new username is on its way/)
    await page.goto(`${base}/dev/mail`)
    await page.goto(await mailLink(page, 'Username reset', /#\/username\/reset\/confirm\//))
    await heading(t, page, 'Choose a new username')
    await shot(page, 'username-reset-confirm')
    await page.getByLabel('New username').fill('alice2')
    await page.getByRole('button', { name: 'Set the username' }).click()
    await notice(t, page, /Your username is changed/)
    await fill(page, 'login', { Username: 'alice', Password: RESET_PASSWORD })
    await page.getByRole('button', { name: 'Log in' }).click()
    await formError(t, page, 'login', /No active account/, 'the old username no longer logs in')
    await fill(page, 'login', { Username: 'alice2', Password: NEW_PASSWORD })
    await page.getByRole('button', { name: 'Log in' }).click()
    await formError(t, page, 'login', /No active account/, 'nor the password from before the reset')
    await fill(page, 'login', { Username: 'alice2', Password: RESET_PASSWORD })
    await page.getByRole('button', { name: 'Log in' }).click()
    await heading(t, page, 'Your account')
    t.equal(await page.locator('#me-username').textContent(), 'alice2')

    // ---- delete the account: a wrong password first
    const remove = page.locator('#delete-account')
    await remove.getByLabel('Current password').fill('not-my-password')
    await remove.getByRole('button', { name: 'Delete my account' }).click()
    await fieldError(t, page, 'delete-account-current_password', /./, 'a wrong password does not delete')
    await remove.getByLabel('Current password').fill(RESET_PASSWORD)
    await remove.getByRole('button', { name: 'Delete my account' }).click()
    await heading(t, page, 'Log in')
    await notice(t, page, /Your account is deleted/)
    await fill(page, 'login', { Username: 'alice2', Password: RESET_PASSWORD })
    await page.getByRole('button', { name: 'Log in' }).click()
    await formError(t, page, 'login', /No active account/, 'a deleted account cannot log in')

    t.same(problems, [], 'no console errors, no page errors')
  })

  t.test('change of email: the account waits for the new address\'s activation link', async t => {
    const { page, problems } = await newPage(t, browser, base)
    await signUpAndLogIn(app, page, base, 'bob')
    const form = page.locator('#change-email')
    await form.getByLabel('New email address').fill('not-an-email')
    await form.getByRole('button', { name: 'Change the email address' }).click()
    await fieldError(t, page, 'change-email-email', /valid email/i, 'a malformed address is refused at its field')
    await form.getByLabel('New email address').fill('bob2@example.com')
    await form.getByRole('button', { name: 'Change the email address' }).click()
    await heading(t, page, 'Log in')
    await notice(t, page, /Follow the activation link we mailed to the new address/)
    await page.goto(`${base}/dev/mail`)
    await page.goto(await mailLink(page, 'Account activation', /#\/activate\//, 'bob2@example.com'))
    await page.getByRole('button', { name: 'Activate my account' }).click()
    await fill(page, 'login', { Username: 'bob', Password: PASSWORD })
    await page.getByRole('button', { name: 'Log in' }).click()
    await heading(t, page, 'Your account')
    t.equal(await page.locator('#me-email').textContent(), 'bob2@example.com')
    t.same(problems, [], 'no console errors')
  })

  t.test('every input has a label, and a form is used with the keyboard alone', async t => {
    const { page, problems } = await newPage(t, browser, base)
    await signUpAndLogIn(app, page, base, 'carol')
    t.same(await unlabelled(page), [], 'the account page: every input is labelled')
    await shot(page, 'account-keyboard')
    for (const hash of ['#/signup', '#/password/reset', '#/username/reset', '#/activation/resend', '#/activate/x/y', '#/password/reset/confirm/x/y', '#/username/reset/confirm/x/y']) {
      await page.goto(`${base}/${hash}`)
      await page.locator('main h1').waitFor()
      t.same(await unlabelled(page), [], `${hash}: every input is labelled`)
    }
    await page.goto(`${base}/#/activation/resend`)
    await shot(page, 'resend-activation')
    await page.goto(`${base}/#/nowhere`)
    await heading(t, page, 'Page not found')

    await page.getByRole('button', { name: 'Log out' }).click()
    await heading(t, page, 'Log in')
    // From the page's top, Tab reaches the fields and the button in order, each with a visible focus ring.
    await page.reload()
    await heading(t, page, 'Log in')
    const reached: string[] = []
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press('Tab')
      const focused = await page.evaluate(() => {
        const el = document.activeElement as HTMLElement
        const style = getComputedStyle(el)
        return { id: el.id !== '' ? el.id : `${el.tagName.toLowerCase()}:${el.textContent ?? ''}`, outline: style.outlineStyle, width: parseFloat(style.outlineWidth) }
      })
      reached.push(focused.id)
      if (focused.id.startsWith('login-') || focused.id === 'button:Log in') {
        t.ok(focused.outline !== 'none' && focused.width >= 2, `${focused.id} shows its focus`)
      }
    }
    const order = ['login-username', 'login-password', 'button:Log in'].map((id) => reached.indexOf(id))
    t.ok(order.every((i) => i >= 0) && order[0] < order[1] && order[1] < order[2], `Tab goes username → password → button (${reached.join(', ')})`)
    t.ok(reached.includes('a:Sign up') && reached.includes('a:Forgot your password?'), 'the navigation and the page\'s links are reachable too')

    // Log in with the keyboard only: type, Tab, type, Enter.
    await page.locator('#login-username').focus()
    await page.keyboard.type('carol')
    await page.keyboard.press('Tab')
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press('Enter')
    await heading(t, page, 'Your account', 'Enter submits the form')
    t.equal(await page.evaluate(() => document.activeElement?.tagName), 'H1', 'focus moves to the new page\'s heading')
    t.same(problems, [], 'no console errors')
  })

  t.test('a server that cannot be reached, or answers what is not JSON', async t => {
    const { page, problems } = await newPage(t, browser, base)
    await page.goto(`${base}/#/login`)
    await heading(t, page, 'Log in')
    // A server that cannot be reached: the person is told, the page does not break.
    await page.route('**/auth/jwt/create/', (route) => route.abort())
    await fill(page, 'login', { Username: 'x', Password: 'y' })
    await page.getByRole('button', { name: 'Log in' }).click()
    await formError(t, page, 'login', /cannot be reached/, 'a network failure is shown at the form')
    await page.unroute('**/auth/jwt/create/')
    await page.route('**/auth/jwt/create/', (route) => route.fulfill({ status: 502, contentType: 'text/html', body: '<h1>Bad gateway</h1>' }))
    await page.getByRole('button', { name: 'Log in' }).click()
    await formError(t, page, 'login', /cannot read \(HTTP 502\)/, 'an answer that is not JSON is shown, not thrown')
    t.ok(problems.some((p) => /status of 502/.test(p)), 'the console collector does see errors (the 502 is one)')
    t.same(problems.filter((p) => !/ERR_FAILED|502/.test(p)), [], 'no other console error')
  })

  t.test('fastify-accounts/ui in an app of its own: only the mailed-link pages, under /account', async t => {
    const port = await freePort()
    const own = Fastify({ logger: false })
    const mailer = new MemoryMailer()
    await own.register(accounts, {
      prefix: '/api', store: { users: new MemoryUserStore(), tokens: new MemoryTokenStore() }, mailer, passwordHasher: fastHasher,
      domain: `localhost:${port}`, ...uiLinks('/account'), jwt: { signingKey: SECRET }
    })
    await own.register(accountsUi, { prefix: '/account', apiPrefix: '/api', pages: 'links' })
    await own.listen({ port, host: '127.0.0.1' })
    t.teardown(() => own.close())
    const ownBase = `http://localhost:${port}`
    await own.inject({ method: 'POST', url: '/api/users/', payload: { username: 'dave', email: 'dave@example.com', password: PASSWORD } })
    const link = /http:\S+#\/activate\/\S+/.exec(mailer.last()?.text ?? '')?.[0]
    t.match(link, `${ownBase}/account/#/activate/`, 'the mailed link lands on the mounted pages')

    const { page, problems } = await newPage(t, browser, ownBase, { api: `${ownBase}/api/` })
    await page.goto(link ?? '')
    await heading(t, page, 'Activate your account')
    t.equal(await page.getByRole('navigation').getByRole('link').count(), 0, 'no sign-up or log-in pages to link to')
    await page.getByRole('button', { name: 'Activate my account' }).click()
    await heading(t, page, 'Done')
    await notice(t, page, /Your account is active\./)
    await shot(page, 'links-only-done')
    await page.goto(`${ownBase}/account/#/login`)
    await heading(t, page, 'Page not found', 'the other pages are not served in this mode')
    t.equal((await own.inject({ method: 'POST', url: '/api/jwt/create/', payload: { username: 'dave', password: PASSWORD } })).statusCode, 200, 'the account is active')
    t.same(problems, [], 'no console errors')
  })
}

async function shot (page: Page, name: string): Promise<void> {
  const file = await pageShot(page, name)
  if (DOCS !== undefined && ['dev-mailbox', 'signup-errors'].includes(name)) {
    mkdirSync(DOCS, { recursive: true })
    copyFileSync(file, join(DOCS, `${name === 'dev-mailbox' ? 'dev-mailbox' : `ui-${name}`}.png`))
  }
}

async function fill (page: Page, formId: string, values: Record<string, string>): Promise<void> {
  const form = page.locator(`#${formId}`)
  for (const [label, value] of Object.entries(values)) await form.getByLabel(label, { exact: true }).fill(value)
}

/**
 * The newest mailed link to `to` (any address when not given) in a mail whose subject starts with `subject`,
 * clicked when `follow` (as a person does).
 */
async function mailLink (page: Page, subject: string, href: RegExp, to?: string, follow = false): Promise<string> {
  let mails = page.locator('article.mail').filter({ has: page.getByRole('heading', { name: subject }) })
  if (to !== undefined) mails = mails.filter({ hasText: `To ${to}` })
  const link = mails.first().getByRole('link').filter({ hasText: href })
  const url = await link.getAttribute('href')
  if (url === null) throw new Error(`no link in the "${subject}" mail`)
  if (follow) await link.click()
  return url
}

/** Registers and activates through the API, then logs in through the pages. */
async function signUpAndLogIn (app: FastifyInstance, page: Page, base: string, username: string): Promise<void> {
  const created = await app.inject({ method: 'POST', url: '/auth/users/', payload: { username, email: `${username}@example.com`, password: PASSWORD } })
  if (created.statusCode !== 201) throw new Error(created.body)
  await page.goto(`${base}/dev/mail`)
  await page.goto(await mailLink(page, 'Account activation', /#\/activate\//, `${username}@example.com`))
  await page.getByRole('button', { name: 'Activate my account' }).click()
  await page.getByRole('status').waitFor()
  await fill(page, 'login', { Username: username, Password: PASSWORD })
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.locator('main h1', { hasText: 'Your account' }).waitFor()
}
