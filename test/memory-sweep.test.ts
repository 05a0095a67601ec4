import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { MemoryTokenStore } from '../lib/stores/memory.js'
import type { NewRefreshToken } from '../lib/ports.js'

const SECOND = 1000
const HOUR = 3600 * SECOND

function record (jti: string, expiresInMs: number): NewRefreshToken {
  return { jti, userId: 1, family: jti, expiresAt: new Date(Date.now() + expiresInMs) }
}

t.test('a write drops refresh records expired longer than the grace, once the sweep is due', async t => {
  const tokens = new MemoryTokenStore({ sweepIntervalSeconds: 1, refreshGraceSeconds: 0 })
  await tokens.saveRefreshToken(record('expired', -SECOND))
  await tokens.revokeRefreshToken('revoked-expired', record('revoked-expired', -SECOND))
  await tokens.saveRefreshToken(record('live', 60 * SECOND))
  await tokens.saveAuthToken({ hash: 'a'.repeat(64), userId: 1, createdAt: new Date(0) })
  t.same(tokens.size, { refresh: 3, auth: 1 }, 'nothing swept before the interval')
  await sleep(1050)
  await tokens.saveRefreshToken(record('new', 60 * SECOND))
  t.same(tokens.size, { refresh: 2, auth: 1 }, 'swept on the next write')
  t.equal(await tokens.findRefreshToken('expired'), null)
  t.equal(await tokens.findRefreshToken('revoked-expired'), null)
  t.not(await tokens.findRefreshToken('live'), null)
  t.not(await tokens.findAuthToken('a'.repeat(64)), null, 'opaque tokens live until deleted')
})

t.test('claims and revocations sweep too', async t => {
  const tokens = new MemoryTokenStore({ sweepIntervalSeconds: 0.05, refreshGraceSeconds: 0 })
  await tokens.saveRefreshToken(record('expired', -SECOND))
  await sleep(60)
  await tokens.claimRefreshToken('live', record('live', 60 * SECOND))
  t.equal(tokens.size.refresh, 1)
  await tokens.saveRefreshToken(record('expired-2', -SECOND))
  await sleep(60)
  await tokens.revokeRefreshToken('live', record('live', 60 * SECOND))
  t.equal(tokens.size.refresh, 1)
})

t.test('records within the grace are kept (a blacklisted token stays blacklisted through the leeway)', async t => {
  const tokens = new MemoryTokenStore({ sweepIntervalSeconds: 0.05, refreshGraceSeconds: 5 })
  await tokens.revokeRefreshToken('just-expired', record('just-expired', -SECOND))
  await tokens.saveRefreshToken(record('long-expired', -10 * SECOND))
  await sleep(60)
  await tokens.saveRefreshToken(record('new', 60 * SECOND))
  t.not((await tokens.findRefreshToken('just-expired'))?.revokedAt, null)
  t.equal(await tokens.findRefreshToken('long-expired'), null)
})

t.test('defaults: a sweep at most every 60 s, 300 s of grace; 0 turns the sweep off', async t => {
  const fresh = new MemoryTokenStore()
  await fresh.saveRefreshToken(record('expired', -HOUR))
  await fresh.saveRefreshToken(record('new', SECOND))
  t.equal(fresh.size.refresh, 2, 'not due yet')

  const off = new MemoryTokenStore({ sweepIntervalSeconds: 0, refreshGraceSeconds: 0 })
  await off.saveRefreshToken(record('expired', -SECOND))
  await sleep(10)
  await off.saveRefreshToken(record('new', SECOND))
  t.equal(off.size.refresh, 2, 'never swept')
  t.equal(await off.purgeExpired(new Date()), 1, 'purgeExpired still works')
})

t.test('bad options are refused', async t => {
  t.throws(() => new MemoryTokenStore({ sweepIntervalSeconds: -1 }), /sweepIntervalSeconds/)
  t.throws(() => new MemoryTokenStore({ refreshGraceSeconds: Number.NaN }), /refreshGraceSeconds/)
})
