import t from 'tap'
import { decodeUid, encodeUid, OneTimeLinks, type LinkPurpose } from '../lib/one-time-links.js'
import type { User } from '../lib/ports.js'

const SECRET = 'one-time-links-secret-0123456789'
const TIMEOUT = 3600
/** A fixed clock, on a whole second, well after 2001. */
const NOW = Date.UTC(2024, 4, 17, 12, 0, 0)
/** Django's epoch for link timestamps. */
const EPOCH_2001 = Date.UTC(2001, 0, 1)

const b64 = (text: string): string => Buffer.from(text).toString('base64url')

function user (overrides: Partial<User> = {}): User {
  return {
    id: 7,
    username: 'alice',
    email: 'alice@example.com',
    firstName: '',
    lastName: '',
    password: '$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g',
    isActive: true,
    isStaff: false,
    isSuperuser: false,
    lastLogin: new Date(NOW - 86_400_000),
    dateJoined: new Date(NOW - 10 * 86_400_000),
    ...overrides
  }
}

t.test('encodeUid / decodeUid', async t => {
  t.test("djoser's encoding: base64url of the decimal id, unpadded", async t => {
    t.equal(encodeUid(1), 'MQ')
    t.equal(encodeUid(12), 'MTI')
    t.equal(encodeUid(123), 'MTIz')
    t.equal(encodeUid(1000), 'MTAwMA')
    t.equal(decodeUid('MQ'), 1)
    t.equal(decodeUid('MTIz'), 123)
  })

  t.test('round trip', async t => {
    for (const id of [1, 2, 9, 10, 42, 99, 100, 255, 65_535, 1_000_000, 2 ** 31 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
      const uid = encodeUid(id)
      t.match(uid, /^[A-Za-z0-9_-]+$/, `${id} encodes to url-safe characters`)
      t.equal(decodeUid(uid), id, String(id))
    }
  })

  t.test('rejects garbage', async t => {
    for (const uid of ['', '!', '!!!', 'M Q', 'MQ.', 'MQ/', 'MQ+', 'MQ\n', 'Zm9v', 'é', '🙂', 'x'.repeat(25), 'M'.repeat(200)]) {
      t.equal(decodeUid(uid), null, JSON.stringify(uid))
    }
  })

  t.test('rejects padding', async t => {
    t.equal(decodeUid('MQ=='), null)
    t.equal(decodeUid('MTI='), null)
    t.equal(decodeUid('MQ='), null)
  })

  t.test('rejects negative, zero and non-digit ids', async t => {
    for (const text of ['-1', '-0', '0', '00', '1a', 'a1', '1.5', '1e3', ' 1', '1 ', '+1', '0x1', 'Infinity', 'NaN', '١']) {
      t.equal(decodeUid(b64(text)), null, JSON.stringify(text))
    }
  })

  t.test('rejects huge numbers', async t => {
    for (const text of ['9007199254740992', '9007199254740993', '99999999999999999', '1'.repeat(17), '9'.repeat(30)]) {
      t.equal(decodeUid(b64(text)), null, text)
    }
  })

  t.test('rejects non-strings without throwing', async t => {
    for (const value of [undefined, null, 1, {}, [], ['MQ']]) {
      t.equal(decodeUid(value as unknown as string), null, String(value))
    }
  })
})

t.test('OneTimeLinks', async t => {
  const links = new OneTimeLinks(SECRET, TIMEOUT)
  const alice = user()

  t.test('make: a base36 timestamp (seconds since 2001) and a 40-hex MAC', async t => {
    const token = links.make('password-reset', alice, NOW)
    t.match(token, /^[0-9a-z]+-[0-9a-f]{40}$/)
    t.equal(parseInt(token.split('-')[0], 36), (NOW - EPOCH_2001) / 1000)
    t.equal(links.make('password-reset', alice, NOW), token, 'deterministic for the same state and time')
    t.not(links.make('password-reset', alice, NOW + 1000), token, 'the time is part of it')
  })

  t.test('a fresh link checks', async t => {
    for (const purpose of ['activation', 'password-reset', 'username-reset'] as LinkPurpose[]) {
      t.equal(links.check(purpose, alice, links.make(purpose, alice, NOW), NOW), true, purpose)
    }
    t.equal(links.check('password-reset', alice, links.make('password-reset', alice, NOW), NOW + 60_000), true, 'a minute later')
    t.equal(links.check('password-reset', alice, links.make('password-reset', alice)), true, 'with the real clock')
  })

  t.test('a link for one purpose fails every other', async t => {
    const purposes: LinkPurpose[] = ['activation', 'password-reset', 'username-reset']
    for (const made of purposes) {
      const token = links.make(made, alice, NOW)
      for (const checked of purposes.filter((p) => p !== made)) {
        t.equal(links.check(checked, alice, token, NOW), false, `${made} as ${checked}`)
      }
    }
  })

  t.test('a link made with another secret fails', async t => {
    const other = new OneTimeLinks('another-secret-of-enough-length', TIMEOUT)
    t.equal(links.check('password-reset', alice, other.make('password-reset', alice, NOW), NOW), false)
    t.equal(other.check('password-reset', alice, links.make('password-reset', alice, NOW), NOW), false)
  })

  t.test('a change to any state field invalidates the link', async t => {
    const token = links.make('password-reset', alice, NOW)
    const changes: Array<[string, Partial<User>]> = [
      ['password', { password: `${alice.password}x` }],
      ['password made unusable', { password: '' }],
      ['lastLogin', { lastLogin: new Date(NOW - 1000) }],
      ['lastLogin by one millisecond', { lastLogin: new Date((alice.lastLogin as Date).getTime() + 1) }],
      ['lastLogin cleared', { lastLogin: null }],
      ['isActive', { isActive: false }],
      ['username', { username: 'alice2' }],
      ['username case', { username: 'Alice' }],
      ['email', { email: 'alice@example.org' }],
      ['id', { id: 8 }]
    ]
    for (const [name, change] of changes) {
      t.equal(links.check('password-reset', user(change), token, NOW), false, name)
    }
    t.equal(links.check('password-reset', user(), token, NOW), true, 'the unchanged user still checks')
  })

  t.test('the first login invalidates a link made before any login', async t => {
    const fresh = user({ lastLogin: null })
    const token = links.make('password-reset', fresh, NOW)
    t.equal(links.check('password-reset', fresh, token, NOW), true)
    t.equal(links.check('password-reset', user({ lastLogin: new Date(NOW) }), token, NOW), false)
  })

  t.test('fields outside the state do not matter', async t => {
    const token = links.make('password-reset', alice, NOW)
    t.equal(links.check('password-reset', user({ isStaff: true, isSuperuser: true, dateJoined: new Date(0) }), token, NOW), true)
  })

  t.test('expires after the timeout', async t => {
    const token = links.make('password-reset', alice, NOW)
    t.equal(links.check('password-reset', alice, token, NOW + TIMEOUT * 1000), true, 'at exactly the timeout')
    t.equal(links.check('password-reset', alice, token, NOW + (TIMEOUT + 1) * 1000 + 1), false, 'past it')
    t.equal(links.check('password-reset', alice, token, NOW + 365 * 86_400_000), false, 'a year later')
    const short = new OneTimeLinks(SECRET, 1)
    const quick = short.make('password-reset', alice, NOW)
    t.equal(short.check('password-reset', alice, quick, NOW + 500), true)
    t.equal(short.check('password-reset', alice, quick, NOW + 2100), false)
  })

  t.test('a link lives its full timeout whatever the fraction of a second it was made at', async t => {
    // Django compares whole seconds: a link made at 12:00:00.900 with a 3600 s timeout is still good at 12:59:59.900.
    for (const offset of [0, 1, 250, 500, 900, 999]) {
      const madeAt = NOW + offset
      const token = links.make('password-reset', alice, madeAt)
      t.equal(links.check('password-reset', alice, token, madeAt + (TIMEOUT - 1) * 1000), true, `made at +${offset} ms, checked 1 s before the timeout`)
      t.equal(links.check('password-reset', alice, token, madeAt + TIMEOUT * 1000 - 1), true, `made at +${offset} ms, checked 1 ms before the timeout`)
    }
  })

  t.test('a timestamp in the future is rejected', async t => {
    t.equal(links.check('password-reset', alice, links.make('password-reset', alice, NOW + 5000), NOW), false, '5 s ahead')
    t.equal(links.check('password-reset', alice, links.make('password-reset', alice, NOW + 86_400_000), NOW), false, 'a day ahead')
  })

  t.test('a forged timestamp with the original MAC fails', async t => {
    const token = links.make('password-reset', alice, NOW - (TIMEOUT + 10) * 1000)
    const [ts, mac] = token.split('-')
    t.equal(links.check('password-reset', alice, token, NOW), false, 'expired as made')
    const later = (parseInt(ts, 36) + TIMEOUT).toString(36)
    t.equal(links.check('password-reset', alice, `${later}-${mac}`, NOW), false, 'moving the timestamp forward breaks the MAC')
  })

  t.test('malformed tokens are rejected without throwing', async t => {
    const token = links.make('password-reset', alice, NOW)
    const [ts, mac] = token.split('-')
    const malformed: unknown[] = [
      '', '-', `${ts}-`, `-${mac}`, ts, mac, `${ts}${mac}`, `${ts}--${mac}`, `${ts}-${mac}-`, `${ts}-${mac}0`,
      `${ts}-${mac.slice(1)}`, `${ts}-${mac.toUpperCase()}`, `${ts.toUpperCase()}-${mac}`, `${ts}_${mac}`,
      ` ${token}`, `${token} `, `${token}\n`, `${ts}-${'g'.repeat(40)}`, `${'z'.repeat(14)}-${mac}`,
      `${'z'.repeat(13)}-${mac}`, `${'0'.repeat(13)}-${mac}`, '9'.repeat(1000), `${token}${'a'.repeat(100)}`,
      `${ts}-${mac.slice(0, 20)}é${mac.slice(21)}`, `${ts}-${'0'.repeat(40)}`,
      undefined, null, 42, {}, [token], { toString: () => token }
    ]
    for (const bad of malformed) {
      t.doesNotThrow(() => links.check('password-reset', alice, bad as string, NOW), JSON.stringify(String(bad)))
      t.equal(links.check('password-reset', alice, bad as string, NOW), false, JSON.stringify(String(bad)))
    }
    t.equal(links.check('password-reset', alice, token, NOW), true, 'the real token still checks')
  })

  t.test('the MAC reads the email case-insensitively (emails match in any case)', async t => {
    const token = links.make('password-reset', alice, NOW)
    t.equal(links.check('password-reset', user({ email: 'ALICE@example.com' }), token, NOW), true)
  })
})
