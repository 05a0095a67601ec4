import t from 'tap'
import { VerifiedTokens } from '../lib/verified-tokens.js'

const exp = (): number => Math.floor(Date.now() / 1000) + 60

t.test('oldest out first when full; a token it let go is a miss, the others still hit', async (t) => {
  const cache = new VerifiedTokens(0, 3)
  for (const token of ['a', 'b', 'c']) cache.remember(token, { exp: exp(), token })
  cache.remember('d', { exp: exp(), token: 'd' })
  t.equal(cache.get('a'), undefined, 'the oldest went')
  t.same(['b', 'c', 'd'].map((token) => cache.get(token)?.token), ['b', 'c', 'd'])
  cache.remember('a', { exp: exp(), token: 'a' })
  t.equal(cache.get('b'), undefined, 'then the next oldest')
  t.same(cache.get('a')?.token, 'a', 'the one remembered again hits')
})

t.test('each hit is a copy of its own: a caller that changes one changes nothing kept', async (t) => {
  const cache = new VerifiedTokens(0)
  const payload = { exp: exp(), user_id: 1, roles: { admin: false } }
  cache.remember('flat', { exp: payload.exp, user_id: 1 })
  cache.remember('nested', payload)
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
  cache.remember('leeway', { exp: now - 1 })
  t.ok(cache.get('leeway'), 'expired a second ago, within 2 s of leeway')
  cache.remember('gone', { exp: now - 3 })
  t.equal(cache.get('gone'), undefined, 'past the leeway')
  cache.remember('no-exp', { user_id: 1 })
  cache.remember('string-exp', { exp: String(now + 60) })
  t.equal(cache.get('no-exp'), undefined)
  t.equal(cache.get('string-exp'), undefined)
})
