import t from 'tap'
import { RecentWrites } from '../lib/recent-writes.js'

const MINUTE = 60_000
const T0 = Date.parse('2026-12-07T10:00:00Z')

t.test('a session is due once per interval: the first use writes, the uses within the interval do not, the first after it does', async (t) => {
  const recent = new RecentWrites(MINUTE)
  t.equal(recent.due('sid-a', T0), true, 'never written: due')
  t.equal(recent.due('sid-a', T0 + 1), false, 'a millisecond later: skipped')
  t.equal(recent.due('sid-a', T0 + MINUTE - 1), false, 'the last millisecond of the interval: skipped')
  t.equal(recent.due('sid-a', T0 + MINUTE), true, 'a full interval later: due')
  t.equal(recent.due('sid-a', T0 + MINUTE + 1), false, 'counted from that write')
  t.equal(recent.due('sid-b', T0 + 1), true, 'another session is its own')
})

t.test('a failed write is forgotten, so the next use writes again', async (t) => {
  const recent = new RecentWrites(MINUTE)
  t.equal(recent.due('sid-a', T0), true)
  recent.forget('sid-a')
  t.equal(recent.due('sid-a', T0 + 1), true, 'due again at once')
  t.equal(recent.due('sid-a', T0 + 2), false, 'and noted')
  recent.forget('never-seen')
  t.equal(recent.due('sid-a', T0 + 3), false, 'forgetting another id changes nothing')
  new RecentWrites(MINUTE).forget('sid-a')
  t.pass('forgetting in an unused table is a no-op')
})

t.test('a clock set back is no reason to skip', async (t) => {
  const recent = new RecentWrites(MINUTE)
  t.equal(recent.due('sid-a', T0), true)
  t.equal(recent.due('sid-a', T0 - 3_600_000), true, 'an hour earlier: due (not skipped for an hour)')
  t.equal(recent.due('sid-a', T0 - 3_600_000 + 10), false, 'and counted from then')
})

t.test('two sessions share a set; a third takes the slot of the older write', async (t) => {
  // One set: every id lands in it, so the replacement order is visible.
  const recent = new RecentWrites(MINUTE, 1)
  t.equal(recent.due('sid-a', T0), true)
  t.equal(recent.due('sid-b', T0 + 10), true)
  t.equal(recent.due('sid-a', T0 + 20), false, 'both remembered')
  t.equal(recent.due('sid-b', T0 + 20), false)
  t.equal(recent.due('sid-c', T0 + 30), true, 'a third session is due and takes the older slot (sid-a)')
  t.equal(recent.due('sid-b', T0 + 40), false, 'sid-b is still remembered')
  t.equal(recent.due('sid-a', T0 + 50), true, 'sid-a was let go: one extra write, which the store turns down')
})

t.test('many sessions: each is written once per interval, whatever the traffic (no collector-visible state grows)', async (t) => {
  const recent = new RecentWrites(MINUTE)
  const ids = Array.from({ length: 5000 }, (_, i) => `0193a8b27c3e7d4f8a1b${i.toString(16).padStart(12, '0')}`)
  let writes = 0
  for (let round = 0; round < 3; round++) {
    for (const id of ids) if (recent.due(id, T0 + round)) writes++
  }
  // 16,384 sets of two for 5,000 sessions: the few sets that get three (about 1.5%) write each of them every time
  // in a cycle like this one.
  t.ok(writes >= 5000 && writes < 5000 * 1.06, `5,000 sessions used 3 times in a minute: ${writes} writes`)
})
