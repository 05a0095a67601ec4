// Two-factor sign-in in the pages, in a real browser (Debian's chromium via playwright-core) against the example
// server: turning it on from the account page (QR code, the key as text, backup codes), the log-in's code step,
// backup codes, an expired sign-in, new backup codes, turning it off. The MFA service runs on a fixed clock, so
// the test computes each code from the key the page shows, one 30 s step apart.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import t, { type Test } from 'tap'
import { freePort, withChromium } from './helpers/browser.js'
import { fieldError, formError, heading, newPage, notice, shot, SHOTS, unlabelled } from './helpers/pages.js'
import { codeAt, fixClock, secretOf, STEP } from './helpers/mfa.js'
import { start } from '../example/server.js'
import type { MfaService } from '../lib/mfa/service.js'

const PASSWORD = 'correct-horse-battery-staple'
/** DOCS_SCREENSHOTS=1 also refreshes the README's image docs/ui-mfa.png. */
const DOCS = process.env.DOCS_SCREENSHOTS === '1' ? resolve('docs') : undefined
const BACKUP_CODE = /^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/

await withChromium(t, browserTests)

async function browserTests (executablePath: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true })
  const dir = t.testdir()
  const config = join(dir, 'accounts.json')
  // Accounts active at once (no mail to follow); the per-account limit raised for the many logins of one person.
  writeFileSync(config, JSON.stringify({
    argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 }, sendActivationEmail: false, rateLimit: { perAccount: { max: 100, timeWindow: 60 } }
  }))
  const port = await freePort()
  const { app } = await start({ PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:', ACCOUNTS_CONFIG: config }, { logger: false })
  t.teardown(() => app.close())
  // Ahead of the real time (the account's sessions start at its creation) and in the middle of a step.
  const clock = fixClock(app, Math.floor((Date.now() + 60_000) / STEP) * STEP + STEP / 2)
  const base = `http://localhost:${port}`
  const browser: Browser = await chromium.launch({ executablePath, headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] })
  t.teardown(() => browser.close())

  const pagesConfig = JSON.parse((await app.inject({ method: 'GET', url: '/config.json' })).body) as { mfa: boolean }
  t.equal(pagesConfig.mfa, true, 'the example server serves the MFA routes, and the pages know it')

  t.test('turn two-factor sign-in on, log in with a code or a backup code, turn it off', async t => {
    const created = await app.inject({ method: 'POST', url: '/auth/users/', payload: { username: 'erin', email: 'erin@example.com', password: PASSWORD } })
    t.equal(created.statusCode, 201)
    const { page, problems } = await newPage(t, browser, base)
    await logIn(page, base)
    await heading(t, page, 'Your account', 'no code asked while two-factor sign-in is off')
    const mfa = page.locator('section', { has: page.getByRole('heading', { level: 2, name: 'Two-factor sign-in' }) })
    t.match(await mfa.locator('#mfa-state').textContent(), /^Off\./)
    await shot(page, 'mfa-off')

    // ---- turn it on: the QR code, the key as text, a wrong code, the right one, the backup codes
    await mfa.getByRole('button', { name: 'Turn on two-factor sign-in' }).click()
    await page.locator('#h-mfa-setup').waitFor()
    t.equal(await page.evaluate(() => document.activeElement?.id), 'h-mfa-setup', 'the focus moves to the setup\'s heading')
    const qr = page.locator('#mfa-qr')
    await page.waitForFunction(() => (document.getElementById('mfa-qr') as HTMLImageElement | null)?.complete === true)
    t.ok(await qr.evaluate((img: HTMLImageElement) => img.naturalWidth > 0), 'the QR code loads (the CSP allows the data: image)')
    t.match(await qr.getAttribute('src'), /^data:image\/svg\+xml;base64,/)
    t.match(await qr.getAttribute('alt'), /QR code/)
    const box = await qr.boundingBox()
    t.ok(box !== null && box.width >= 200 && box.height >= 200, `the QR code is drawn at a scannable size (${box?.width ?? 0}×${box?.height ?? 0})`)
    const shown = (await page.locator('#mfa-secret').textContent()) ?? ''
    t.match(shown, /^([A-Z2-7]{4} )+[A-Z2-7]{1,4}$/, 'the key, in groups of four, for those who cannot scan')
    const secret = shown.replace(/\s+/g, '')
    t.equal(secret.length, 32, 'a 160-bit key')
    await shot(page, 'mfa-setup')
    // The README's picture: the section alone, the rest of the account page is in docs/ already.
    if (DOCS !== undefined) {
      // Page coordinates (a full-page clip's), with the main box's padding around the section.
      const area = await mfa.evaluate((el) => { const r = el.getBoundingClientRect(); return { x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height } })
      await page.screenshot({ path: join(DOCS, 'ui-mfa.png'), fullPage: true, clip: { x: area.x - 32, y: area.y - 8, width: area.width + 64, height: area.height + 40 } })
    }

    const activate = page.locator('#mfa-activate')
    t.equal(await activate.getByLabel('Code from the app').getAttribute('autocomplete'), 'one-time-code')
    await activate.getByLabel('Code from the app').fill(otherThan(codeAt(secret, clock.now)))
    await activate.getByRole('button', { name: 'Turn on' }).click()
    await fieldError(t, page, 'mfa-activate-code', /Code invalid or expired/, 'a wrong code is refused at the field')
    await activate.getByLabel('Code from the app').fill(codeAt(secret, clock.now))
    await activate.getByRole('button', { name: 'Turn on' }).click()
    await page.locator('#backup-codes').waitFor()
    t.equal(await page.locator('#mfa-notice').textContent(), 'Two-factor sign-in is on.')
    t.match(await mfa.textContent(), /Keep them somewhere safe.*only time they are shown/)
    const codes = await page.locator('#backup-codes li').allTextContents()
    t.equal(codes.length, 10, 'ten backup codes')
    t.ok(codes.every((code) => BACKUP_CODE.test(code)), `backup codes as xxxx-xxxx-xxxx (${codes[0]})`)
    t.equal(await page.evaluate(() => document.activeElement?.id), 'h-backup-codes')
    await shot(page, 'mfa-backup-codes')
    await page.getByRole('button', { name: 'I have saved them' }).click()
    await page.locator('#mfa-state', { hasText: /^On\./ }).waitFor()
    t.equal(await page.locator('#backup-codes').count(), 0, 'the codes are not shown again')
    t.same(await unlabelled(page), [], 'the section\'s code fields are labelled')
    await shot(page, 'mfa-on')

    // ---- log in: the code step; a wrong code; the right one, typed and sent with Enter
    await logOut(t, page)
    await logIn(page, base)
    await heading(t, page, 'Enter your code')
    t.match(await page.locator('#login-code-description').textContent(), /6-digit code from your authenticator app, or one of your backup codes/)
    const codeInput = page.locator('#login-code-code')
    t.equal(await codeInput.getAttribute('autocomplete'), 'one-time-code')
    t.equal(await codeInput.getAttribute('inputmode'), null, 'a full keyboard: backup codes have letters')
    t.same(await page.evaluate(() => Object.keys(sessionStorage)), [], 'no token before the code')
    await shot(page, 'mfa-login-code')
    await codeInput.fill(otherThan(codeAt(secret, clock.now)))
    await page.getByRole('button', { name: 'Log in' }).click()
    await formError(t, page, 'login-code', /Invalid or expired code/, 'a wrong code is refused')
    t.equal(await page.locator('#login-code-error').getAttribute('role'), 'alert')
    await heading(t, page, 'Enter your code', 'the form stays')
    await shot(page, 'mfa-login-wrong-code')
    clock.now += STEP
    await codeInput.fill('')
    await codeInput.focus()
    await page.keyboard.type(codeAt(secret, clock.now))
    await page.keyboard.press('Enter')
    await heading(t, page, 'Your account', 'the right code logs in')

    // ---- a backup code logs in once
    await logOut(t, page)
    await logIn(page, base)
    await heading(t, page, 'Enter your code')
    await codeInput.fill(codes[0].toUpperCase())
    await page.getByRole('button', { name: 'Log in' }).click()
    await heading(t, page, 'Your account', 'a backup code logs in (in any case)')
    await logOut(t, page)
    await logIn(page, base)
    await heading(t, page, 'Enter your code')
    await codeInput.fill(codes[0])
    await page.getByRole('button', { name: 'Log in' }).click()
    await formError(t, page, 'login-code', /Invalid or expired code/, 'a used backup code is refused')

    // ---- the sign-in expires after 5 minutes: back to the password, with a word
    clock.now += 301_000
    await codeInput.fill(codeAt(secret, clock.now))
    await page.getByRole('button', { name: 'Log in' }).click()
    await heading(t, page, 'Log in', 'an expired sign-in goes back to the password')
    await notice(t, page, /sign-in expired.*log in again/)
    await page.goto(`${base}/#/login/code`)
    await page.waitForURL(/#\/login$/)
    await heading(t, page, 'Log in', 'the code step without a password step goes to log in')
    await logIn(page, base)
    await heading(t, page, 'Enter your code')
    clock.now += STEP
    await codeInput.fill(codeAt(secret, clock.now))
    await page.getByRole('button', { name: 'Log in' }).click()
    await heading(t, page, 'Your account')

    // ---- new backup codes, with a code; the old ones stop working
    const regenerate = page.locator('#mfa-regenerate')
    await regenerate.getByLabel('Code').fill('000000')
    await regenerate.getByRole('button', { name: 'Make new backup codes' }).click()
    await fieldError(t, page, 'mfa-regenerate-code', /Code invalid or expired/, 'a wrong code makes no new codes')
    await regenerate.getByLabel('Code').fill(codes[1])
    await regenerate.getByRole('button', { name: 'Make new backup codes' }).click()
    await page.locator('#backup-codes').waitFor()
    t.match(await page.locator('#mfa-notice').textContent(), /the old ones no longer work/)
    const fresh = await page.locator('#backup-codes li').allTextContents()
    t.equal(fresh.length, 10)
    t.notOk(fresh.some((code) => codes.includes(code)), 'all new')
    await page.getByRole('button', { name: 'I have saved them' }).click()

    // ---- turn it off: an old backup code is refused, a code from the app works
    const deactivate = page.locator('#mfa-deactivate')
    await deactivate.getByLabel('Code').fill(codes[2])
    await deactivate.getByRole('button', { name: 'Turn off two-factor sign-in' }).click()
    await fieldError(t, page, 'mfa-deactivate-code', /Code invalid or expired/, 'an old backup code no longer works')
    clock.now += STEP
    await deactivate.getByLabel('Code').fill(codeAt(secret, clock.now))
    await deactivate.getByRole('button', { name: 'Turn off two-factor sign-in' }).click()
    await notice(t, page, /Two-factor sign-in is off/)
    t.match(await page.locator('#mfa-state').textContent(), /^Off\./)
    await logOut(t, page)
    await logIn(page, base)
    await heading(t, page, 'Your account', 'log in asks no code any more')
    t.same(problems, [], 'no console errors, no page errors')
  })

  t.test('back from a social sign-in, a user with two-factor sign-in on gets the code step', async t => {
    const created = await app.inject({ method: 'POST', url: '/auth/users/', payload: { username: 'frank', email: 'frank@example.com', password: PASSWORD } })
    const frank = { id: (JSON.parse(created.body) as { id: number }).id, username: 'frank', email: 'frank@example.com' }
    const mfa = app.accounts.mfa as MfaService
    const secret = secretOf((await mfa.beginPendingActivation(frank)).totpUrl)
    await mfa.confirmPendingActivation(frank, codeAt(secret, clock.now))
    const { page, problems } = await newPage(t, browser, base)
    await page.goto(`${base}/#/login`)
    await heading(t, page, 'Log in')
    // djoser's o/{provider}/ answers trench's first step for this user (test/mfa-social.test.ts); here a real
    // ephemeral token stands in for the provider's round trip, which test/ui-social.test.ts drives.
    const step = { ephemeral_token: await mfa.startLogin(frank), method: 'app' }
    await page.route('**/auth/o/github/', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(step) }))
    await page.evaluate(() => { sessionStorage.setItem('fastify-accounts.social', 'github') })
    await page.goto(`${base}/?code=provider-code&state=provider-state`)
    await heading(t, page, 'Enter your code', 'the code step, not the account page')
    t.equal(new URL(page.url()).search, '', 'the provider\'s answer left the address bar')
    t.same(await page.evaluate(() => Object.keys(sessionStorage)), [], 'no token yet')
    clock.now += STEP
    await page.locator('#login-code-code').fill(codeAt(secret, clock.now))
    await page.getByRole('button', { name: 'Log in' }).click()
    await heading(t, page, 'Your account')
    t.equal(await page.locator('#me-username').textContent(), 'frank')
    t.match(await page.locator('#mfa-state').textContent(), /^On\./)
    t.same(problems, [], 'no console errors, no page errors')
  })
}

/** A 6-digit code that is not `code`. */
function otherThan (code: string): string {
  return code === '000000' ? '111111' : '000000'
}

async function logIn (page: Page, base: string): Promise<void> {
  await page.goto(`${base}/#/login`)
  const form = page.locator('#login')
  await form.getByLabel('Username').fill('erin')
  await form.getByLabel('Password').fill(PASSWORD)
  await form.getByRole('button', { name: 'Log in' }).click()
}

async function logOut (t: Test, page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Log out' }).click()
  await heading(t, page, 'Log in')
}
