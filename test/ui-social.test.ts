// The account pages' "Continue with …" buttons in a real browser (Debian's chromium, playwright-core): the
// example server with an OpenID Connect provider (panva's oidc-provider, its own sign-in and consent pages)
// and a local GitHub, no allowedRedirectUris of its own (the server allows its pages' root URL). Skipped
// (with the reason) when no chromium is found, except under CI=true.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import t, { type Test } from 'tap'
import { freePort, withChromium } from './helpers/browser.js'
import { heading, newPage, shot, SHOTS } from './helpers/pages.js'
import { start } from '../example/server.js'
import { startGitHub } from './helpers/github-server.js'
import { startBrowserIdp } from './helpers/oidc-browser.js'
import { APP_SECRET } from './helpers/oidc-provider.js'


await withChromium(t, browserTests)

async function browserTests (executablePath: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true })
  // The pages' root is the redirect URI: the providers must know it before the server starts.
  const port = await freePort()
  const base = `http://localhost:${port}`
  const idp = await startBrowserIdp([`${base}/`])
  t.teardown(idp.close)
  const gh = await startGitHub({ 'gh-app': { secret: 'gh-secret', redirectUris: [`${base}/`] } }, {
    octocat: { id: 583231, login: 'octocat', name: 'The Octocat', email: null, emails: [{ email: 'octocat@example.com', primary: true, verified: true }] }
  })
  t.teardown(gh.close)

  const dir = t.testdir()
  const config = join(dir, 'accounts.json')
  writeFileSync(config, JSON.stringify({
    argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 },
    social: {
      providers: {
        acme: { type: 'oidc', issuer: idp.issuer, clientId: 'app', clientSecret: APP_SECRET, timeout: 5 },
        github: { clientId: 'gh-app', clientSecret: 'gh-secret', oauthUrl: gh.url, apiUrl: gh.apiUrl, timeout: 5 },
        // X has no djoser route: no button.
        twitter: { consumerKey: 'k', consumerSecret: 's' }
      }
    }
  }))
  const { app } = await start({ PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:', ACCOUNTS_CONFIG: config }, { logger: false })
  t.teardown(() => app.close())
  const runAsRoot = process.getuid?.() === 0
  const browser: Browser = await chromium.launch({ executablePath, headless: true, args: runAsRoot ? ['--no-sandbox'] : [] })
  t.teardown(() => browser.close())

  t.test('the example server allows its pages\' root URL as the redirect_uri', async t => {
    t.same(app.accounts.social?.options.allowedRedirectUris, [`${base}/`])
  })

  t.test('Continue with an OpenID Connect provider: its sign-in and consent pages, then back signed in', async t => {
    const { page, problems } = await newPage(t, browser, base, { emptyStyles: 'https://fonts.googleapis.com/**' })
    await page.goto(`${base}/`)
    await heading(t, page, 'Log in')
    const buttons = page.locator('.social').getByRole('button')
    t.same(await buttons.allTextContents(), ['Continue with Acme', 'Continue with GitHub'], 'one button per djoser provider, X left out')
    await shot(page, 'social-login')

    await page.getByRole('button', { name: 'Continue with Acme' }).click()
    await page.waitForURL(`${idp.issuer}/**`)
    await page.locator('input[name="login"]').fill('alice')
    await page.locator('input[name="password"]').fill('any-password')
    await shot(page, 'social-provider-sign-in')
    await page.getByRole('button', { name: 'Sign-in' }).click()
    await page.getByRole('button', { name: 'Continue' }).click()

    await heading(t, page, 'Your account', 'back from the provider: the account page')
    t.equal(await page.locator('#me-username').textContent(), 'alice')
    t.equal(await page.locator('#me-email').textContent(), 'alice@example.com')
    t.equal(page.url(), `${base}/#/account`, 'the code and state left the address bar')
    t.same(await storage(page), ['fastify-accounts.access', 'fastify-accounts.refresh'], 'the tokens kept as after a password login, the pending provider gone')
    await shot(page, 'social-account')

    await page.reload()
    await heading(t, page, 'Your account', 'a reload sends no code again')
    t.equal(await page.locator('[role="alert"]:not([hidden])').count(), 0, 'and shows no error')

    // Logged out here, still signed in at the provider: the next click comes straight back, the same user.
    await page.getByRole('button', { name: 'Log out' }).click()
    await heading(t, page, 'Log in')
    await page.getByRole('button', { name: 'Continue with Acme' }).click()
    await heading(t, page, 'Your account', 'the provider remembers the person: no prompt')
    t.equal(await page.locator('#me-username').textContent(), 'alice', 'the same account, not a new one')
    t.same(problems, [], 'no console errors, no page errors')
  })

  t.test('Continue with GitHub from the sign-up page', async t => {
    const { page, problems } = await newPage(t, browser, base, { emptyStyles: 'https://fonts.googleapis.com/**' })
    await page.goto(`${base}/#/signup`)
    await heading(t, page, 'Create an account')
    await shot(page, 'social-signup')
    await page.getByRole('button', { name: 'Continue with GitHub' }).click()
    await heading(t, page, 'Your account')
    t.equal(await page.locator('#me-username').textContent(), 'octocat')
    t.equal(await page.locator('#me-email').textContent(), 'octocat@example.com')
    t.same(problems, [], 'no console errors')
  })

  t.test('cancel at the provider: the log-in page says so, nobody is signed in', async t => {
    const { page, problems } = await newPage(t, browser, base, { emptyStyles: 'https://fonts.googleapis.com/**' })
    await page.goto(`${base}/`)
    // With the keyboard: Tab from the password form's button reaches the first provider's, Enter presses it.
    await page.getByRole('button', { name: 'Log in', exact: true }).focus()
    await page.keyboard.press('Tab')
    t.equal(await page.evaluate(() => document.activeElement?.textContent), 'Continue with Acme', 'Tab reaches the button')
    await page.keyboard.press('Enter')
    await page.waitForURL(`${idp.issuer}/**`)
    await page.getByRole('link', { name: '[ Cancel ]' }).click()
    await socialError(t, page, /Authentication process canceled/)
    t.equal(page.url(), `${base}/#/login`, 'the error and state left the address bar')
    t.same(await storage(page), [], 'no tokens, no pending provider')
    await shot(page, 'social-canceled')
    await page.reload()
    await heading(t, page, 'Log in')
    t.equal(await page.locator('#social-error').count(), 0, 'the message is shown once')
    t.same(problems, [], 'no console errors')
  })

  t.test('a state changed on the way back is refused', async t => {
    const { page, problems } = await newPage(t, browser, base, { emptyStyles: 'https://fonts.googleapis.com/**' })
    // The provider's redirect reaches the pages with another state (a forged link, a mixed-up tab). Playwright
    // does not intercept redirects: the provider's answer is taken at its authorize endpoint and changed.
    await page.route((url) => url.href.startsWith(`${gh.url}/login/oauth/authorize`), async (route) => {
      const answer = await route.fetch({ maxRedirects: 0 })
      const back = new URL(answer.headers().location)
      back.searchParams.set('state', 'tampered')
      await route.fulfill({ status: 302, headers: { location: back.href } })
    })
    await page.goto(`${base}/`)
    await page.getByRole('button', { name: 'Continue with GitHub' }).click()
    await socialError(t, page, /Invalid state has been provided/)
    t.same(await storage(page), [], 'not signed in')
    await shot(page, 'social-tampered-state')
    t.same(problems, [], 'no console errors')
  })

  t.test('a provider\'s answer in a tab that did not start the sign-in', async t => {
    const { page, problems } = await newPage(t, browser, base, { emptyStyles: 'https://fonts.googleapis.com/**' })
    await page.goto(`${base}/?code=abc&state=def`)
    await socialError(t, page, /not started in this tab/)
    t.equal(page.url(), `${base}/#/login`)
    t.same(problems, [], 'no console errors')
  })

  t.test('pages opened at an address the server does not allow as redirect_uri: the button says why', async t => {
    // The server allows http://localhost:PORT/ only; the same pages at 127.0.0.1 cannot start a sign-in.
    const other = `http://127.0.0.1:${port}`
    const { page, problems } = await newPage(t, browser, other, { emptyStyles: 'https://fonts.googleapis.com/**' })
    await page.goto(`${other}/`)
    await page.getByRole('button', { name: 'Continue with Acme' }).click()
    const box = page.locator('#social-acme-error')
    await box.waitFor()
    t.match(await box.textContent(), /redirect_uri must be in SOCIAL_AUTH_ALLOWED_REDIRECT_URIS/, 'djoser\'s bare JSON string, shown at the button')
    t.equal(page.url(), `${other}/`, 'no navigation to the provider')
    t.same(await storage(page), [])
    t.same(problems, [], 'no console errors')
  })
}

/** The log-in page with a social sign-in's error at its top. */
async function socialError (t: Test, page: Page, text: RegExp): Promise<void> {
  // The error first: the page it starts from is a log-in page too.
  const box = page.locator('#social-error')
  await box.waitFor()
  await heading(t, page, 'Log in')
  t.equal(await box.getAttribute('role'), 'alert', 'announced to screen readers')
  t.match(await box.textContent(), text)
}

async function storage (page: Page): Promise<string[]> {
  return (await page.evaluate(() => Object.keys(sessionStorage))).sort()
}
