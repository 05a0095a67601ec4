import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import { coreOf } from '../core.js'
import { OptionsError } from '../errors.js'
import type { LoginField } from '../options.js'
import { djoserNameOf } from '../social/provider-types.js'
import type { SocialLogin } from '../social/runtime.js'

/**
 * fastify-accounts/ui: the pages a person clicks through (sign up, log in, with a code when two-factor
 * sign-in is on, account, where it is turned on and off, forgot password or username) and the landing pages
 * of every mailed link, as static files (plain HTML, ES modules, CSS; no build step) on the djoser dialect's
 * HTTP API. No server session: the pages keep the JWTs in the tab's
 * sessionStorage. @fastify/static is loaded when this plugin is registered, never by the main entry.
 *
 *   await app.register(accounts, { prefix: '/auth', ...uiLinks('/account/') })
 *   await app.register(accountsUi, { prefix: '/account', apiPrefix: '/auth' })
 */

/** A link in the pages' navigation slot (a dev mailbox, the app's home). */
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
  /** Extra links in the navigation (a dev mailbox, the app's home, its API docs). */
  navLinks?: UiNavLink[]
}

/** A "Continue with <label>" button: `provider` is the djoser route's name (`o/{provider}/`). */
export interface UiSocialProvider {
  provider: string
  label: string
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
  /** One button per provider djoser's `o/{provider}/` serves (X is dj-rest-auth's only); none on links-only pages. */
  socialProviders: UiSocialProvider[]
  /**
   * Whether django-trench's MFA routes are served (the accounts plugin's `mfa` option): the account page then
   * has its "Two-factor sign-in" section. The log-in page asks for a code whenever the API answers the
   * first step, whatever this says.
   */
  mfa: boolean
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

/** The static folder, beside this module: lib/ui/public in the source tree, dist/lib/ui/public once built (`npm run build` copies it). */
export function uiRoot (): string {
  return fileURLToPath(new URL('./public/', import.meta.url))
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

const BRANDS: Record<string, string> = { google: 'Google', apple: 'Apple', github: 'GitHub', facebook: 'Facebook', twitter: 'X' }

/** A provider's name as a person reads it: brands as they spell themselves (`github-enterprise`: "GitHub Enterprise"), the rest title-cased. */
export function providerLabel (name: string): string {
  const words = name.split(/[-_]+/).filter((word) => word !== '')
  return words.map((word) => BRANDS[word.toLowerCase()] ?? word[0].toUpperCase() + word.slice(1)).join(' ')
}

/** The buttons, in the order the providers are configured; X has no djoser route, so no button. */
function socialProviders (social: SocialLogin | null | undefined): UiSocialProvider[] {
  if (social === null || social === undefined) return []
  const buttons: UiSocialProvider[] = []
  for (const [name, provider] of Object.entries(social.options.providers)) {
    const route = djoserNameOf(name, provider)
    if (route === null) continue
    // By the configured name: `google` reads "Google", a second instance (`google-work`) "Google Work".
    buttons.push({ provider: route, label: providerLabel(name) })
  }
  return buttons
}

/** The config the pages fetch, from the options and (when registered before) the accounts plugin's own. */
function uiConfig (app: FastifyInstance, opts: AccountsUiOptions): UiConfig {
  const pages = opts.pages ?? 'all'
  if (pages !== 'all' && pages !== 'links') throw new OptionsError('ui: pages must be "all" or "links"')
  const core = coreOf(app)
  const accounts = core?.options
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
    navLinks: checkNavLinks(opts.navLinks),
    socialProviders: pages === 'all' ? socialProviders(core?.social) : [],
    mfa: pages === 'all' && (core?.mfa ?? null) !== null
  }
}

/**
 * The request log line of the pages' files, as Fastify's own (method, url, version, host, address, port),
 * with the provider's answer taken out of the url: back from a social sign-in the pages are opened with
 * `?code=&state=`, and a code never goes to a log.
 */
function pagesRequestLog (request: FastifyRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: request.url.replace(/([?&](?:code|state)=)[^&#]*/g, '$1[redacted]'),
    version: request.headers?.['accept-version'],
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort
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
  // A scope of its own: @fastify/static is not encapsulated, so it would ignore logSerializers given to it.
  // Fastify types a serializer as returning a string; pino's (and Fastify's own `req`) return objects.
  await app.register(async function accountsUiFiles (files) {
    await files.register(fastifyStatic, {
      root: uiRoot(),
      // One route per file instead of a wildcard, so the pages sit beside the app's other routes at any prefix.
      wildcard: false,
      // The host app may use @fastify/static too: its reply.sendFile stays its own.
      decorateReply: false,
      cacheControl: false,
      index: 'index.html'
    })
  }, { logSerializers: { req: pagesRequestLog as unknown as (value: unknown) => string } })
}
