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

/** The first of the two slots of `print`'s set in `prints` (a power-of-two length): tables of sets of two fingerprints. */
export function setStart (prints: Int32Array, print: number): number {
  return (print & (prints.length - 1)) & ~1
}

/** Where `print` sits in its set of two in `prints`, or -1. */
export function slotOf (prints: Int32Array, print: number): number {
  const first = setStart(prints, print)
  return prints[first] === print ? first : prints[first + 1] === print ? first + 1 : -1
}
