import t from 'tap'
import { VerifiedTokens } from '../lib/verified-tokens.js'
import { fingerprint } from '../lib/fingerprint.js'

const exp = (): number => Math.floor(Date.now() / 1000) + 60

/** A token verified twice, as a client sending it again makes it: the second verification keeps it. */
function keep (cache: VerifiedTokens, token: string, payload: Record<string, unknown>): void {
  cache.remember(token, payload)
  cache.remember(token, payload)
}

t.test('oldest out first when full; a token it let go is a miss, the others still hit', async (t) => {
  const cache = new VerifiedTokens(0, 3)
  for (const token of ['a', 'b', 'c']) keep(cache, token, { exp: exp(), token })
  keep(cache, 'd', { exp: exp(), token: 'd' })
  t.equal(cache.get('a'), undefined, 'the oldest went')
  t.same(['b', 'c', 'd'].map((token) => cache.get(token)?.token), ['b', 'c', 'd'])
  keep(cache, 'a', { exp: exp(), token: 'a' })
  t.equal(cache.get('b'), undefined, 'then the next oldest')
  t.same(cache.get('a')?.token, 'a', 'the one remembered again hits')
})

t.test('each hit is a copy of its own: a caller that changes one changes nothing kept', async (t) => {
  const cache = new VerifiedTokens(0)
  const payload = { exp: exp(), user_id: 1, roles: { admin: false } }
  keep(cache, 'flat', { exp: payload.exp, user_id: 1 })
  keep(cache, 'nested', payload)
  payload.roles.admin = true
  const first = cache.get('flat') as Record<string, unknown>
  first.user_id = 999
  t.same(cache.get('flat'), { exp: payload.exp, user_id: 1 })
  t.same(cache.get('nested'), { exp: payload.exp, user_id: 1, roles: { admin: false } }, 'a nested value the verifier\'s payload shares is not')
  const nested = cache.get('nested') as { roles: { admin: boolean } }
  nested.roles.admin = true
  t.same((cache.get('nested') as { roles: unknown }).roles, { admin: false }, 'nor one a hit hands out')
})

t.test('until exp + leeway, then a miss; a payload without a numeric exp is not kept', async (t) => {
  const cache = new VerifiedTokens(2)
  const now = Math.floor(Date.now() / 1000)
  keep(cache, 'leeway', { exp: now - 1 })
  t.ok(cache.get('leeway'), 'expired a second ago, within 2 s of leeway')
  keep(cache, 'gone', { exp: now - 3 })
  t.equal(cache.get('gone'), undefined, 'past the leeway')
  keep(cache, 'no-exp', { user_id: 1 })
  keep(cache, 'string-exp', { exp: String(now + 60) })
  t.equal(cache.get('no-exp'), undefined)
  t.equal(cache.get('string-exp'), undefined)
})

t.test('a token is kept from its second verification on: one verified once costs the cache nothing', async (t) => {
  const cache = new VerifiedTokens(0, 8)
  cache.remember('once', { exp: exp(), token: 'once' })
  t.equal(cache.get('once'), undefined, 'first verification: not kept')
  cache.remember('once', { exp: exp(), token: 'once' })
  t.equal(cache.get('once')?.token, 'once', 'second: kept')
})

t.test('first sights are forgotten after `size` others: a token back later than the cache could have kept it is new again', async (t) => {
  const cache = new VerifiedTokens(0, 4)
  cache.remember('early', { exp: exp() })
  for (let i = 0; i < 4; i++) cache.remember(`other-${i}`, { exp: exp() })
  cache.remember('early', { exp: exp() })
  t.equal(cache.get('early'), undefined, 'its first sight went with the window: this one counts as a first again')
  cache.remember('early', { exp: exp() })
  t.ok(cache.get('early'), 'and the next one keeps it')
})

t.test('a burst of tokens seen once does not push out the tokens clients keep sending', async (t) => {
  const cache = new VerifiedTokens(0, 16)
  const hot = Array.from({ length: 16 }, (_, i) => `hot-token-${i}`)
  for (const token of hot) keep(cache, token, { exp: exp(), token })
  for (let i = 0; i < 10_000; i++) cache.remember(`one-off-${i}.signature-${i.toString(36)}`, { exp: exp() })
  t.same(hot.map((token) => cache.get(token)?.token), hot, 'every hot token still answers from the cache')
})

t.test('tokens cycled: a cycle shorter than its size answers from the cache from the third round; a longer one is never kept', async (t) => {
  const lookups = (cycle: number, size: number): number[] => {
    const cache = new VerifiedTokens(0, size)
    const tokens = Array.from({ length: cycle }, (_, i) => `token-${i}-${(i * 7919).toString(36)}`)
    const hitsByRound: number[] = []
    for (let round = 0; round < 4; round++) {
      let hits = 0
      for (const token of tokens) {
        if (cache.get(token) !== undefined) hits++
        else cache.remember(token, { exp: exp(), token })
      }
      hitsByRound.push(hits)
    }
    return hitsByRound
  }
  const short = lookups(48, 64)
  t.equal(short[0] + short[1], 0, '48 tokens, room for 64: none kept on its first verification, so no hit in the first two rounds')
  t.ok(short[2] >= 40 && short[3] === short[2], `then nearly every lookup hits (${short[2]} of 48; a token whose fingerprint shares a slot waits)`)
  // Oldest-out-first would keep inserting them all and evict each before it came back: no hit either, at the
  // cost of an entry per request. Here nothing is kept.
  t.same(lookups(80, 64), [0, 0, 0, 0], '80 tokens, room for 64: each back after more first sights than the window holds')
})

t.test('the kept tokens\' fingerprints: a token that shares one with a kept token is still a miss; one left out of its set is verified again, never answered wrongly', async (t) => {
  // The fingerprint reads a token's last 8 characters: two tokens ending alike share it.
  const cache = new VerifiedTokens(0, 4)
  keep(cache, 'first-token.SIGNATURE', { exp: exp(), token: 'first' })
  t.equal(cache.get('other-token.SIGNATURE'), undefined, 'same fingerprint, another token: a miss')
  t.equal(cache.get('first-token.SIGNATURE')?.token, 'first', 'the kept one still hits')

  // Three tokens whose fingerprints fall in one set of two (4 entries: 32 slots, 16 sets).
  const setOf = (token: string): number => (fingerprint(token) & 31) & ~1
  const target = setOf('probe-0')
  const crowd: string[] = []
  for (let i = 0; crowd.length < 3; i++) if (setOf(`probe-${i}`) === target) crowd.push(`probe-${i}`)
  const fresh = new VerifiedTokens(0, 4)
  for (const token of crowd) keep(fresh, token, { exp: exp(), token })
  t.equal(fresh.get(crowd[0]), undefined, 'the set\'s oldest fingerprint was pushed out: a miss (its entry is still there)')
  t.same([fresh.get(crowd[1])?.token, fresh.get(crowd[2])?.token], [crowd[1], crowd[2]], 'the other two hit, each with its own claims')
  // (The three share the doorkeeper's slots too, so it takes two verifications to be let in again.)
  keep(fresh, crowd[0], { exp: exp(), token: 'a second payload is not kept: the entry stays as verified first' })
  t.equal(fresh.get(crowd[0])?.token, crowd[0], 'verified again: back in, with its own claims')
  t.equal(fresh.get(crowd[1]), undefined, 'and the set\'s oldest is out now')
  t.equal(fresh.get(crowd[2])?.token, crowd[2])
})

t.test('an expired entry goes with its fingerprint; a token evicted from the ring is a miss', async (t) => {
  const cache = new VerifiedTokens(0, 2)
  keep(cache, 'short-lived', { exp: Math.floor(Date.now() / 1000) - 1 })
  t.equal(cache.get('short-lived'), undefined, 'past exp: a miss')
  keep(cache, 'short-lived', { exp: exp(), again: true })
  t.same(cache.get('short-lived')?.again, true, 'a fresh token of the same text is kept anew')
  keep(cache, 'b', { exp: exp() })
  keep(cache, 'c', { exp: exp() })
  t.equal(cache.get('short-lived'), undefined, 'two newer tokens in a ring of two: evicted')
  t.same([cache.get('b') !== undefined, cache.get('c') !== undefined], [true, true])
})
