// What the bench server and the load generator share.
import { createHmac, randomBytes, randomUUID } from 'node:crypto'

export const USERNAME = 'bench'
export const PASSWORD = 'correct-horse-battery-staple-42'
export const SECRET = 'bench-secret-0123456789abcdef0123456789abcdef'

/** How many users (and so distinct access tokens) the many-token cases cycle through: more than the verified-token cache's window (4096 first sights). */
export const MANY = 5000

/** A session id as the plugin writes it in `sid` (a UUIDv7 in hex, its first 48 bits the start in ms). */
function sessionId (startedAt) {
  const bytes = randomBytes(16)
  bytes.writeUIntBE(startedAt, 0, 6)
  bytes[6] = (bytes[6] & 0x0f) | 0x70
  bytes[8] = (bytes[8] & 0x3f) | 0x80
  return bytes.toString('hex')
}

/**
 * One access token per user id (cycled when `count` is larger), signed as the plugin signs them (HS256,
 * simplejwt's claims plus the session id), so the load generator can send a token the server has never seen
 * with every request, from as many users as real traffic has.
 */
export function accessTokens (count, { userIds = [1], lifetimeSeconds = 3600 } = {}) {
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')
  const now = Date.now()
  const iat = Math.floor(now / 1000)
  return Array.from({ length: count }, (_, i) => {
    const payload = { user_id: userIds[i % userIds.length], sid: sessionId(now), token_type: 'access', exp: iat + lifetimeSeconds, iat, jti: randomUUID().replaceAll('-', '') }
    const input = `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`
    return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`
  })
}
