import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { coreOf } from '../core.js'
import { OptionsError } from '../errors.js'
import type { LoginField } from '../options.js'

/**
 * fastify-accounts/ui: the pages a person clicks through (sign up, log in, account, forgot password or
 * username) and the landing pages of every mailed link, as static files (plain HTML, ES modules, CSS; no
 * build step) on the djoser dialect's HTTP API. No server session: the pages keep the JWTs in the tab's
 * sessionStorage. @fastify/static is loaded when this plugin is registered, never by the main entry.
 *
 *   await app.register(accounts, { prefix: '/auth', ...uiLinks('/account/') })
 *   await app.register(accountsUi, { prefix: '/account', apiPrefix: '/auth' })
 */

/** A link in the pages' navigation slot (a dev mailbox, a social login button, the app's home). */
export interface UiNavLink {
  href: string
  label: string
}

export interface AccountsUiOptions {
  /** Where the pages mount (Fastify's own register option); default '' (the site root). */
  prefix?: string
  /** Where the accounts plugin's routes are, on the same origin (its `prefix`); default '/auth'. */
  apiPrefix?: string
  /**
   * 'all' (default): every page. 'links': only the landing pages of the mailed links (activation, password
   * and username reset), for an app whose own frontend does the rest.
   */
  pages?: 'all' | 'links'
  /** Shown in the title and the header; default the accounts plugin's `siteName`. */
  siteName?: string
  /** Extra links in the navigation (the slot social login and MFA use when they land). */
  navLinks?: UiNavLink[]
}

/** What the pages read from `config.json` (the part of the accounts options they need to draw their forms). */
export interface UiConfig {
  api: string
  pages: 'all' | 'links'
  siteName: string
  loginField: LoginField
  sendActivationEmail: boolean
  retype: {
    userCreatePassword: boolean
    setPassword: boolean
    passwordResetConfirm: boolean
    setUsername: boolean
    usernameResetConfirm: boolean
  }
  navLinks: UiNavLink[]
}

/**
 * The pages' Content-Security-Policy: their own files only, no inline script or style, no framing, no
 * form posting elsewhere. The API must be on the same origin (`connect-src 'self'`).
 */
export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'"
].join('; ')

/**
 * The accounts options whose links land on these pages mounted at `mount` (default the site root):
 * spread them into the accounts plugin's options. Hash routes, as djoser's defaults: the uid and token
 * stay in the fragment, so they never reach a server log or a Referer header.
 */
export function uiLinks (mount = '/'): { activationUrl: string, passwordResetConfirmUrl: string, usernameResetConfirmUrl: string } {
  const path = mount.replace(/^\/+|\/+$/g, '')
  const base = path === '' ? '' : `${path}/`
  return {
    activationUrl: `${base}#/activate/{uid}/{token}`,
    passwordResetConfirmUrl: `${base}#/password/reset/confirm/{uid}/{token}`,
    usernameResetConfirmUrl: `${base}#/username/reset/confirm/{uid}/{token}`
  }
}

/**
 * The static folder: beside this module in the source tree (lib/ui/public), and at the same place under
 * the package root when running from dist/lib/ui (tsc does not copy it; package.json "files" packs it).
 */
export function uiRoot (): string {
  const beside = fileURLToPath(new URL('./public/', import.meta.url))
  if (existsSync(beside)) return beside
  return fileURLToPath(new URL('../../../lib/ui/public/', import.meta.url))
}

function checkPath (name: string, value: unknown): string {
  if (typeof value !== 'string' || !/^(\/[^\s?#]*)?$/.test(value)) throw new OptionsError(`ui: ${name} must be a path starting with /, or ""`)
  return value.replace(/\/+$/, '')
}

function checkNavLinks (value: unknown): UiNavLink[] {
  if (value === undefined) return []
  const valid = Array.isArray(value) && value.every((link: Partial<UiNavLink> | null) =>
    typeof link?.href === 'string' && /^(\/|https?:\/\/)/.test(link.href) && typeof link.label === 'string' && link.label !== '')
  if (!valid) throw new OptionsError('ui: navLinks must be a list of { href, label }, each href a path or an http(s) URL')
  return (value as UiNavLink[]).map(({ href, label }) => ({ href, label }))
}

/** The config the pages fetch, from the options and (when registered before) the accounts plugin's own. */
function uiConfig (app: FastifyInstance, opts: AccountsUiOptions): UiConfig {
  const pages = opts.pages ?? 'all'
  if (pages !== 'all' && pages !== 'links') throw new OptionsError('ui: pages must be "all" or "links"')
  const accounts = coreOf(app)?.options
  if (accounts !== undefined && accounts.dialect !== 'djoser') {
    throw new OptionsError(`ui: the pages speak the djoser dialect; the accounts plugin is registered with dialect "${accounts.dialect}"`)
  }
  return {
    api: checkPath('apiPrefix', opts.apiPrefix ?? '/auth'),
    pages,
    siteName: opts.siteName ?? accounts?.siteName ?? 'fastify-accounts',
    loginField: accounts?.loginField ?? 'username',
    sendActivationEmail: accounts?.sendActivationEmail ?? true,
    retype: {
      userCreatePassword: accounts?.userCreatePasswordRetype ?? false,
      setPassword: accounts?.setPasswordRetype ?? false,
      passwordResetConfirm: accounts?.passwordResetConfirmRetype ?? false,
      setUsername: accounts?.setUsernameRetype ?? false,
      usernameResetConfirm: accounts?.usernameResetConfirmRetype ?? false
    },
    navLinks: checkNavLinks(opts.navLinks)
  }
}

/**
 * The pages as an encapsulated plugin: its CSP and caching headers apply to its own routes only. Register
 * it after the accounts plugin so it reads the login field, retype flags and site name from it.
 */
export const accountsUi: FastifyPluginAsync<AccountsUiOptions> = async (app, opts) => {
  const config = uiConfig(app, opts)
  const { default: fastifyStatic } = await import('@fastify/static')

  app.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', UI_CONTENT_SECURITY_POLICY)
    reply.header('x-content-type-options', 'nosniff')
    reply.header('referrer-policy', 'no-referrer')
    // Small files that change with each release of the package: always revalidated, never stale.
    reply.header('cache-control', 'no-cache')
  })
  if (app.prefix !== '') {
    // The pages load their files by relative URLs, which resolve against /account/, not /account.
    app.addHook('onRequest', async (request, reply) => {
      const query = request.url.indexOf('?')
      if ((query < 0 ? request.url : request.url.slice(0, query)) === app.prefix) {
        return reply.redirect(`${app.prefix}/${query < 0 ? '' : request.url.slice(query)}`, 301)
      }
    })
  }
  app.get('/config.json', { schema: { hide: true } }, async () => config)
  await app.register(fastifyStatic, {
    root: uiRoot(),
    // One route per file instead of a wildcard, so the pages sit beside the app's other routes at any prefix.
    wildcard: false,
    // The host app may use @fastify/static too: its reply.sendFile stays its own.
    decorateReply: false,
    cacheControl: false,
    index: 'index.html'
  })
}
