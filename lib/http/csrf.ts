import { PermissionDeniedError } from '../errors.js'
import type { AnyRequest } from './any-request.js'

/** Methods that change nothing, so a forged one does no harm (RFC 9110 safe methods, as Django's CSRF check). */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])

export interface OriginPolicyOptions {
  /** The site's own scheme and host, as the plugin's `protocol` and `domain` say. */
  protocol: 'http' | 'https'
  domain: string
  /** Other origins allowed to send credentialed requests (Django's CSRF_TRUSTED_ORIGINS), e.g. `https://app.example.com`. */
  trustedOrigins: readonly string[]
}

/** `scheme://host[:port]` in lower case, the default port dropped, as browsers serialize an origin; null when not a URL. */
export function normalizeOrigin (value: string): string | null {
  try {
    const url = new URL(value)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null
    return url.origin.toLowerCase()
  } catch {
    return null
  }
}

/**
 * Django's CSRF defence for credentials that ride in a cookie (ASVS 13.2.3): a request that may change
 * something must come from the site itself (the configured `protocol://domain`, or the host the request was
 * sent to) or from a trusted origin. `Origin` decides when the browser
 * sends it (every cross-origin POST carries one); without it, `Sec-Fetch-Site` does (`same-origin` and
 * `none`, a navigation the person made, pass); with neither, the client is not a browser acting for someone
 * else and the request passes. Requests whose credentials come from a header are never checked: a browser
 * cannot be made to send one. Returns the check; it throws a 403 in Django's words.
 */
export function createOriginCheck (options: OriginPolicyOptions, onRefused: (request: AnyRequest) => void = () => {}): (request: AnyRequest) => void {
  const own = normalizeOrigin(`${options.protocol}://${options.domain}`)
  const allowed = new Set<string>(own === null ? [] : [own])
  for (const origin of options.trustedOrigins) {
    const normalized = normalizeOrigin(origin)
    if (normalized !== null) allowed.add(normalized)
  }
  return function checkOrigin (request) {
    if (SAFE_METHODS.has(request.method)) return
    const origin = request.headers.origin
    if (typeof origin === 'string' && origin !== '') {
      const normalized = normalizeOrigin(origin)
      // Also the origin the request itself was sent to, as Django compares with request.get_host().
      if (normalized !== null && (allowed.has(normalized) || normalized === normalizeOrigin(`${request.protocol}://${request.host}`))) return
      onRefused(request)
      throw new PermissionDeniedError(`CSRF Failed: Origin checking failed - ${origin} does not match any trusted origins.`)
    }
    const site = request.headers['sec-fetch-site']
    if (site === undefined || site === 'same-origin' || site === 'none') return
    onRefused(request)
    throw new PermissionDeniedError(`CSRF Failed: the request came from another site (Sec-Fetch-Site: ${String(site)}).`)
  }
}
