// What the bench server and the load generator share.
import { createHmac, randomUUID } from 'node:crypto'

export const USERNAME = 'bench'
export const PASSWORD = 'correct-horse-battery-staple-42'
export const SECRET = 'bench-secret-0123456789abcdef0123456789abcdef'

/**
 * `count` distinct access tokens for user 1, signed as the plugin signs them (HS256, simplejwt's claims), so
 * the load generator can send a token the server has never seen with every request.
 */
export function accessTokens (count, lifetimeSeconds = 3600) {
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')
  const iat = Math.floor(Date.now() / 1000)
  return Array.from({ length: count }, () => {
    const payload = { user_id: 1, token_type: 'access', exp: iat + lifetimeSeconds, iat, jti: randomUUID().replaceAll('-', '') }
    const input = `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`
    return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`
  })
}
