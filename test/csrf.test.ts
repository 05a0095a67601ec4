import t from 'tap'
import type { AnyRequest } from '../lib/http/any-request.js'
import { createOriginCheck, normalizeOrigin } from '../lib/http/csrf.js'

function request (method: string, headers: Record<string, string>, host = 'api.example.com', protocol = 'https'): AnyRequest {
  return { method, headers, host, protocol } as unknown as AnyRequest
}

const check = createOriginCheck({ protocol: 'https', domain: 'app.example.com', trustedOrigins: ['https://admin.example.com:8443', 'not a url'] })
const refused = { statusCode: 403, code: 'ACCOUNTS_PERMISSION_DENIED' }

t.test('normalizeOrigin', async t => {
  t.equal(normalizeOrigin('HTTPS://App.Example.com:443'), 'https://app.example.com', 'case and default port')
  t.equal(normalizeOrigin('http://localhost:3000/path?x'), 'http://localhost:3000', 'path dropped')
  t.equal(normalizeOrigin('null'), null)
  t.equal(normalizeOrigin('file:///etc/passwd'), null)
  t.equal(normalizeOrigin('javascript:alert(1)'), null)
})

t.test('safe methods are never checked', async t => {
  for (const method of ['GET', 'HEAD', 'OPTIONS']) t.doesNotThrow(() => { check(request(method, { origin: 'https://evil.example' })) }, method)
})

t.test('the site, the host the request went to, and trusted origins pass', async t => {
  t.doesNotThrow(() => { check(request('POST', { origin: 'https://app.example.com' })) }, 'protocol://domain')
  t.doesNotThrow(() => { check(request('PATCH', { origin: 'https://api.example.com' })) }, "the request's own host")
  t.doesNotThrow(() => { check(request('DELETE', { origin: 'https://ADMIN.example.com:8443' })) }, 'a trusted origin, any case')
})

t.test('another origin, a sibling subdomain, another scheme or port, and null are refused with 403', async t => {
  for (const origin of ['https://evil.example', 'https://evil.example.com', 'http://app.example.com', 'https://app.example.com:8443', 'null', 'https://admin.example.com']) {
    t.throws(() => { check(request('POST', { origin })) }, { ...refused, message: `CSRF Failed: Origin checking failed - ${origin} does not match any trusted origins.` }, origin)
  }
})

t.test('without Origin, Sec-Fetch-Site decides; without either, not a browser: it passes', async t => {
  t.doesNotThrow(() => { check(request('POST', { 'sec-fetch-site': 'same-origin' })) })
  t.doesNotThrow(() => { check(request('POST', { 'sec-fetch-site': 'none' })) }, 'typed in the address bar')
  t.throws(() => { check(request('POST', { 'sec-fetch-site': 'same-site' })) }, refused, 'a sibling subdomain is same-site, not same-origin')
  t.throws(() => { check(request('POST', { 'sec-fetch-site': 'cross-site' })) }, refused)
  t.doesNotThrow(() => { check(request('POST', {})) }, 'curl, a server, a mobile app')
})
