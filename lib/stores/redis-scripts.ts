import { createHash } from 'node:crypto'

// The Lua scripts of RedisTokenStore: each store operation that touches several keys runs as one script,
// so it is atomic on Redis (one winner when the same refresh token is claimed twice at once).

export class Script {
  readonly source: string
  readonly sha: string
  constructor (source: string) {
    this.source = source
    this.sha = createHash('sha1').update(source).digest('hex')
  }
}

// ---- Lua ------------------------------------------------------------------------------------------------
// Keys (P is the prefix):
//   P rt:<jti>            hash u (user id), f (family), e (expires, ms), ua (used at), ra (revoked at);
//                         expires at e + grace
//   P rt-exp              zset jti -> e, for purgeExpired
//   P rt-user:<id>        zset jti -> e, for revokeUserRefreshTokens
//   P rt-family:<family>  zset jti -> e, for revokeRefreshFamily
//   P at:<sha256>         hash u, c (created, ms); no expiry unless authTokenTtlSeconds
//   P at-user:<id>        zset sha256 -> expiry (+inf when none), for deleteUserAuthTokens
//   P ses:<id>            hash u, k (kind: jwt | token), c (created), l (last used), e (expires, '' for never),
//                         ip, ua ('' for unknown); expires at e. id: a family, or an opaque token's sha256
//   P ses-user:<id>       zset session id -> e (+inf when none), for listSessions and the revocations
// Every index drops members whose record has expired each time it grows, and expires with its newest
// member, so nothing outlives the tokens it describes.

// dropSessions(prefix, user, kind, except): deletes the user's sessions of `kind` but `except` (may be nil).
const DROP_SESSIONS = `
local function dropSessions(prefix, user, kind, except)
  local index = prefix .. 'ses-user:' .. user
  for _, id in ipairs(redis.call('ZRANGE', index, 0, -1)) do
    if id ~= except then
      local key = prefix .. 'ses:' .. id
      local s = redis.call('HMGET', key, 'u', 'k')
      if not s[1] then
        redis.call('ZREM', index, id)
      elseif s[1] == user and s[2] == kind then
        redis.call('DEL', key)
        redis.call('ZREM', index, id)
      end
    end
  end
end
`

// KEYS: record, rt-exp, rt-user, rt-family. ARGV: jti, user, family, expires, now, floor (now - grace), grace.
// put() records any refresh token (index pruning and TTLs from ARGV[6], ARGV[7]); create() records the one
// KEYS and ARGV describe.
const CREATE = `
local function index(key, member, score)
  redis.call('ZADD', key, score, member)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. ARGV[6])
  local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if top[2] then redis.call('PEXPIREAT', key, string.format('%d', tonumber(top[2]) + tonumber(ARGV[7]))) end
end
local function put(key, expKey, userKey, familyKey, jti, user, family, expires, usedAt, revokedAt)
  redis.call('DEL', key)
  redis.call('HSET', key, 'u', user, 'f', family, 'e', expires)
  if usedAt ~= '' then redis.call('HSET', key, 'ua', usedAt) end
  if revokedAt ~= '' then redis.call('HSET', key, 'ra', revokedAt) end
  index(expKey, jti, expires)
  index(userKey, jti, expires)
  index(familyKey, jti, expires)
  redis.call('PEXPIREAT', key, string.format('%d', tonumber(expires) + tonumber(ARGV[7])))
end
local function create(usedAt, revokedAt)
  put(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3], ARGV[4], usedAt, revokedAt)
end
`

// A jti already recorded is left as it is (never un-revoked); returns 0 then.
export const SAVE = new Script(CREATE + `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
create('', '')
return 1
`)

// KEYS and ARGV as CREATE's (the fallback's), then with a successor: KEYS[5] its record;
// ARGV[8] prefix, ARGV[9] its jti, ARGV[10] its expires.
// Returns status, user, family, expires, used at, revoked at ('' for none); or {'exists'}, having changed
// nothing, when the successor's jti is already recorded (as saveRefreshToken refuses it).
// The successor's user and family indexes are the claimed record's: KEYS[3] and KEYS[4] when it has the
// fallback's user and family (always so for a record created here), else keys built from the prefix, as
// PURGE and REVOKE_INDEXED build theirs (so not Redis Cluster-safe in that case, as the rest of this store).
export const CLAIM = new Script(CREATE + `
local r = redis.call('HMGET', KEYS[1], 'u', 'f', 'e', 'ua', 'ra')
if r[1] then
  local usedAt, revokedAt = r[4] or '', r[5] or ''
  if revokedAt ~= '' then return {'revoked', r[1], r[2], r[3], usedAt, revokedAt} end
  if usedAt ~= '' then return {'used', r[1], r[2], r[3], usedAt, revokedAt} end
end
-- Checked before any write: a script's writes are not undone by a later error.
if KEYS[5] and (KEYS[5] == KEYS[1] or redis.call('EXISTS', KEYS[5]) == 1) then return {'exists'} end
local user, family, expires
if r[1] then
  redis.call('HSET', KEYS[1], 'ua', ARGV[5])
  user, family, expires = r[1], r[2], r[3]
else
  create(ARGV[5], '')
  user, family, expires = ARGV[2], ARGV[3], ARGV[4]
end
if KEYS[5] then
  local userKey, familyKey = KEYS[3], KEYS[4]
  if user ~= ARGV[2] then userKey = ARGV[8] .. 'rt-user:' .. user end
  if family ~= ARGV[3] then familyKey = ARGV[8] .. 'rt-family:' .. family end
  put(KEYS[5], KEYS[2], userKey, familyKey, ARGV[9], user, family, ARGV[10], '', '')
end
return {'claimed', user, family, expires, ARGV[5], ''}
`)

export const REVOKE = new Script(CREATE + `
if redis.call('EXISTS', KEYS[1]) == 0 then
  create('', ARGV[5])
  return 1
end
return redis.call('HSETNX', KEYS[1], 'ra', ARGV[5])
`)

// KEYS: an rt-user or rt-family index. ARGV: prefix, now, the record field it indexes ('u' or 'f'), its value,
// and optionally a family whose records stay (the session a password change keeps).
export const REVOKE_INDEXED = new Script(DROP_SESSIONS + `
local n = 0
for _, jti in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local key = ARGV[1] .. 'rt:' .. jti
  local r = redis.call('HMGET', key, ARGV[3], 'f')
  if r[1] == ARGV[4] then
    if r[2] ~= ARGV[5] then n = n + redis.call('HSETNX', key, 'ra', ARGV[2]) end
  else
    redis.call('ZREM', KEYS[1], jti)
  end
end
-- The sessions of the revoked families go in the same step.
if ARGV[3] == 'f' then
  local key = ARGV[1] .. 'ses:' .. ARGV[4]
  local s = redis.call('HMGET', key, 'u', 'k')
  if s[1] and s[2] == 'jwt' then
    redis.call('DEL', key)
    redis.call('ZREM', ARGV[1] .. 'ses-user:' .. s[1], ARGV[4])
  end
else
  dropSessions(ARGV[1], ARGV[4], 'jwt', ARGV[5])
end
return n
`)

// KEYS: rt-exp. ARGV: prefix, now, batch size. Returns how many records it deleted and how many it looked at.
export const PURGE = new Script(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local n = 0
for _, jti in ipairs(ids) do
  local key = ARGV[1] .. 'rt:' .. jti
  local r = redis.call('HMGET', key, 'u', 'f')
  if r[1] then
    n = n + redis.call('DEL', key)
    redis.call('ZREM', ARGV[1] .. 'rt-user:' .. r[1], jti)
    redis.call('ZREM', ARGV[1] .. 'rt-family:' .. r[2], jti)
  end
  redis.call('ZREM', KEYS[1], jti)
end
return {n, #ids}
`)

// A user's index of opaque tokens or sessions (a sorted set scored by expiry, '+inf' for never): adds the
// member, drops the expired ones, and gives the index the expiry of its last member (none while one never
// expires), so an index lives exactly as long as something in it.
const INDEX_MEMBER = `
local function indexMember(key, member, score, now)
  redis.call('ZADD', key, score, member)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. now)
  local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if top[2] == 'inf' then
    redis.call('PERSIST', key)
  elseif top[2] then
    redis.call('PEXPIREAT', key, top[2])
  end
end
`

// KEYS: at:<hash>, at-user:<id>. ARGV: hash, user, created, expires ('' for never), now.
export const SAVE_AUTH = new Script(INDEX_MEMBER + `
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'u', ARGV[2], 'c', ARGV[3])
local score = '+inf'
if ARGV[4] ~= '' then
  redis.call('PEXPIREAT', KEYS[1], ARGV[4])
  score = ARGV[4]
end
indexMember(KEYS[2], ARGV[1], score, ARGV[5])
return 1
`)

// KEYS: at:<hash>. ARGV: prefix, hash. Its session goes with it.
export const DELETE_AUTH = new Script(`
local user = redis.call('HGET', KEYS[1], 'u')
if not user then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', ARGV[1] .. 'at-user:' .. user, ARGV[2])
redis.call('DEL', ARGV[1] .. 'ses:' .. ARGV[2])
redis.call('ZREM', ARGV[1] .. 'ses-user:' .. user, ARGV[2])
return 1
`)

// KEYS: at-user:<id>. ARGV: prefix, user, and optionally the hash of a token that stays (the session a
// password change keeps). An index left empty is removed by Redis itself.
export const DELETE_USER_AUTH = new Script(DROP_SESSIONS + `
local n = 0
for _, hash in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local key = ARGV[1] .. 'at:' .. hash
  local owner = redis.call('HGET', key, 'u')
  if not (hash == ARGV[3] and owner == ARGV[2]) then
    if owner == ARGV[2] then n = n + redis.call('DEL', key) end
    redis.call('ZREM', KEYS[1], hash)
  end
end
dropSessions(ARGV[1], ARGV[2], 'token', ARGV[3])
return n
`)

// KEYS: ses:<id>, ses-user:<user>. ARGV: id, user, kind, created, last used, expires ('' for never), ip, user agent
// ('' for unknown), now, prefix, mode ('save' or 'touch'), stale before (touch: the last use is rewritten only
// when older). Touching a session without a record records it whole. A token session with an end also ends
// its opaque token's key then (authTokenLifetime), unless that key expires sooner.
export const SAVE_SESSION = new Script(INDEX_MEMBER + `
if ARGV[11] == 'touch' and redis.call('EXISTS', KEYS[1]) == 1 then
  local last = tonumber(redis.call('HGET', KEYS[1], 'l'))
  if last == nil or last < tonumber(ARGV[12]) then redis.call('HSET', KEYS[1], 'l', ARGV[5]) end
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'u', ARGV[2], 'k', ARGV[3], 'c', ARGV[4], 'l', ARGV[5], 'e', ARGV[6], 'ip', ARGV[7], 'ua', ARGV[8])
local score = '+inf'
if ARGV[6] ~= '' then
  redis.call('PEXPIREAT', KEYS[1], ARGV[6])
  score = ARGV[6]
  if ARGV[3] == 'token' then
    local token = ARGV[10] .. 'at:' .. ARGV[1]
    local ttl = redis.call('PTTL', token)
    if ttl == -1 or (ttl >= 0 and tonumber(ARGV[9]) + ttl > tonumber(ARGV[6])) then redis.call('PEXPIREAT', token, ARGV[6]) end
  end
end
indexMember(KEYS[2], ARGV[1], score, ARGV[9])
return 1
`)

// KEYS: ses-user:<user>. ARGV: prefix, now, user. Returns, per live session, 7 values: id, kind, created, last
// used, expires, ip, user agent ('' for none). Live: not expired, and a jwt session's family still has a token
// neither used (rotated out) nor revoked nor expired (newest first: usually the first one looked at), a token
// session its opaque token. Index members whose record is gone are dropped.
export const LIST_SESSIONS = new Script(`
local out = {}
local now = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2])
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local r = redis.call('HMGET', ARGV[1] .. 'ses:' .. id, 'u', 'k', 'c', 'l', 'e', 'ip', 'ua')
  if not r[1] or r[1] ~= ARGV[3] then
    redis.call('ZREM', KEYS[1], id)
  elseif r[5] == '' or tonumber(r[5]) > now then
    local live = false
    if r[2] == 'jwt' then
      for _, jti in ipairs(redis.call('ZREVRANGEBYSCORE', ARGV[1] .. 'rt-family:' .. id, '+inf', '(' .. ARGV[2])) do
        local t = redis.call('HMGET', ARGV[1] .. 'rt:' .. jti, 'u', 'ua', 'ra')
        if t[1] and not t[2] and not t[3] then
          live = true
          break
        end
      end
    else
      live = redis.call('EXISTS', ARGV[1] .. 'at:' .. id) == 1
    end
    if live then
      table.insert(out, id)
      for i = 2, 7 do table.insert(out, r[i] or '') end
    end
  end
end
return out
`)
