/**
 * A 32-bit fingerprint of a random-ended string (a token's signature, a session id, a key's hash) from its
 * last 8 characters, mixed (murmur3's finalizer) so its low bits can pick a slot: cheap to take, no scan of the
 * whole string, no allocation. Never 0 (an empty slot).
 */
export function fingerprint (text: string): number {
  let hash = 0
  for (let i = Math.max(0, text.length - 8); i < text.length; i++) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0
  hash ^= hash >>> 16
  hash = Math.imul(hash, 0x85ebca6b)
  hash ^= hash >>> 13
  hash = Math.imul(hash, 0xc2b2ae35)
  hash ^= hash >>> 16
  return hash === 0 ? 1 : hash
}
