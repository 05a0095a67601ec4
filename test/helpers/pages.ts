import { mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Browser, ConsoleMessage, Page } from 'playwright-core'
import type { Test } from 'tap'

/** Where the browser tests leave their screenshots (look at them before calling a page done). */
export const SHOTS = resolve('.tap', 'screenshots')

export interface PageOptions {
  /** Where the API answers: Chromium logs every 4xx answer of fetch(), and the API's are expected (the pages show them). */
  api?: string
  /** Playwright's default timeout for this page, ms (PAGE_TIMEOUT_MS unless given). */
  timeout?: number
  /** Answer these URLs with an empty stylesheet (pages that import a web font: there is no internet here). */
  emptyStyles?: string
}

/**
 * How long a page step may wait. It only bounds a step that never succeeds, so it is generous: on a VM in a slow
 * phase a first navigation (the browser process, the page's modules) has taken seconds.
 */
export const PAGE_TIMEOUT_MS = 15_000

/** A fresh browser context (its own sessionStorage) and page, collecting console errors and page errors. */
export async function newPage (t: Test, browser: Browser, base: string, options: PageOptions = {}): Promise<{ page: Page, problems: string[] }> {
  const api = options.api ?? `${base}/auth/`
  const context = await browser.newContext({ viewport: { width: 1000, height: 760 }, baseURL: base })
  t.teardown(() => context.close())
  if (options.emptyStyles !== undefined) {
    await context.route(options.emptyStyles, (route) => route.fulfill({ status: 200, contentType: 'text/css', body: '' }))
  }
  const page = await context.newPage()
  page.setDefaultTimeout(options.timeout ?? PAGE_TIMEOUT_MS)
  const problems: string[] = []
  page.on('console', (message: ConsoleMessage) => {
    if (message.type() !== 'error') return
    const apiAnswer = /^Failed to load resource: the server responded with a status of 4\d\d/.test(message.text()) && message.location().url.startsWith(api)
    if (!apiAnswer) problems.push(`console: ${message.text()} (${message.location().url})`)
  })
  page.on('pageerror', (error) => { problems.push(`page error: ${error.message}`) })
  return { page, problems }
}

/** A full-page screenshot under SHOTS; its path. */
export async function shot (page: Page, name: string): Promise<string> {
  mkdirSync(SHOTS, { recursive: true })
  const file = join(SHOTS, `${name}.png`)
  await page.screenshot({ path: file, fullPage: true })
  return file
}

/** Inputs without a label (their outerHTML). */
export async function unlabelled (page: Page): Promise<string[]> {
  return await page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((el) => (el as HTMLInputElement).type !== 'hidden' && ((el as HTMLInputElement).labels?.length ?? 0) === 0)
    .map((el) => el.outerHTML))
}

/** The page whose heading is `text`, every input of it labelled. */
export async function heading (t: Test, page: Page, text: string, message = `the "${text}" page`): Promise<void> {
  const h1 = page.locator('main h1')
  await h1.filter({ hasText: text }).waitFor()
  t.equal(await h1.textContent(), text, message)
  t.same(await unlabelled(page), [], `${text}: every input has a label`)
}

/** The page's status message (a notice carried over from the previous page). */
export async function notice (t: Test, page: Page, text: RegExp): Promise<void> {
  const status = page.locator('main > p[role="status"]')
  await status.waitFor()
  t.match(await status.textContent(), text)
}

/** The API's message shown under a field, the field marked invalid and described by it. */
export async function fieldError (t: Test, page: Page, inputId: string, text: RegExp, message: string): Promise<void> {
  const slot = page.locator(`#${inputId}-error`)
  await slot.waitFor()
  t.match(await slot.textContent(), text, message)
  t.equal(await page.locator(`#${inputId}`).getAttribute('aria-invalid'), 'true')
  t.equal(await page.locator(`#${inputId}`).getAttribute('aria-describedby'), `${inputId}-error`)
}

/** A message that names no field (`detail`, `non_field_errors`, a link's uid or token) at the top of the form, once the form is no longer busy. */
export async function formError (t: Test, page: Page, formId: string, text: RegExp, message: string): Promise<void> {
  const box = page.locator(`#${formId}-error`)
  await box.waitFor()
  await page.waitForFunction((id) => document.getElementById(id)?.closest('form')?.getAttribute('aria-busy') !== 'true', `${formId}-error`)
  t.match(await box.textContent(), text, message)
}
