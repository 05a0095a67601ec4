import t from 'tap'
import { VerifiedTokens } from '../lib/verified-tokens.js'

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
