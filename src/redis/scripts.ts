// The Lua scripts behind the Redis entry format's conditional writes, tombstones, expire and tag-stamp pruning.
// Text only, runtime-neutral: the ioredis driver (rustocache/redis) and the HTTP one (rustocache/edge-drivers)
// run the same scripts on the same keys, so Node and edge instances share one L2.

// Drops the fields of a tag-stamp hash older than ARGV[1], 1,000 at a time (unpack's limit). KEYS[1] the hash.
export const PRUNE_SCRIPT = `
local h = redis.call('HGETALL', KEYS[1])
local old = {}
for i = 1, #h, 2 do
  if tonumber(h[i + 1]) < tonumber(ARGV[1]) then old[#old + 1] = h[i] end
end
for i = 1, #old, 1000 do
  redis.call('HDEL', KEYS[1], unpack(old, i, math.min(i + 999, #old)))
end
return #old
`

// expire(): rewrite the logical expiry in the entry's text header, keeping its TTL. KEYS[1] key, ARGV[1] now.
export const EXPIRE_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local a = string.find(v, '|', 1, true)
if not a then return 0 end
local b = string.find(v, '|', a + 1, true)
if not b then return 0 end
local current = string.sub(v, a + 1, b - 1)
if current ~= 'inf' and tonumber(current) <= tonumber(ARGV[1]) then return 1 end
redis.call('SET', KEYS[1], string.sub(v, 1, a) .. ARGV[1] .. string.sub(v, b), 'KEEPTTL')
return 1
`

// Conditional writes (lateWrites 'refused'): an entry's text starts r1|<expiresAt>|<createdAt>|, a delete leaves a
// tombstone d1|<stamp> for TOMBSTONE_MS. A write is refused when the key holds an entry or tombstone made later
// than it by at least ARGV[#ARGV] ms (REMOTE_TIE_MS: within it, two instances' stamps do not order their calls,
// and the last writer wins as before). KEYS: the keys; ARGV: payload, ttl ms ('' for none) per key, then the tie.
// Returns, per key, 1 written or 0 refused.
export const SET_SCRIPT = `
local tie = tonumber(ARGV[#ARGV])
local out = {}
for i = 1, #KEYS do
  local payload = ARGV[2 * i - 1]
  local ttl = ARGV[2 * i]
  local ok = 1
  local made = tonumber(string.match(payload, '^r1|[^|]*|([^|]*)|'))
  if made then
    local cur = redis.call('GET', KEYS[i])
    if cur then
      local newer = tonumber(string.match(cur, '^r1|[^|]*|([^|]*)|')) or tonumber(string.match(cur, '^d1|(.*)$'))
      if newer and newer >= made + tie then ok = 0 end
    end
  end
  if ok == 1 then
    if ttl == '' then redis.call('SET', KEYS[i], payload) else redis.call('SET', KEYS[i], payload, 'PX', ttl) end
  end
  out[i] = ok
end
return out
`

// Deletes as tombstones: KEYS the keys; ARGV[1] the delete's stamp, ARGV[2] how long the tombstone stays (ms),
// ARGV[3] the tie. An entry made later than the delete (by the tie or more) stays. Returns how many live
// entries went.
export const DELETE_SCRIPT = `
local stamp = tonumber(ARGV[1])
local tie = tonumber(ARGV[3])
local live = 0
for i = 1, #KEYS do
  local cur = redis.call('GET', KEYS[i])
  local made = cur and tonumber(string.match(cur, '^r1|[^|]*|([^|]*)|'))
  if not (made and made >= stamp + tie) then
    if cur and string.sub(cur, 1, 3) == 'r1|' then live = live + 1 end
    redis.call('SET', KEYS[i], 'd1|' .. ARGV[1], 'PX', ARGV[2])
  end
end
return live
`

/** How long a delete's tombstone refuses writes made before it: far longer than any command's wait. */
export const TOMBSTONE_MS = 60_000

// Releases a lock only for its owner: KEYS[1] lock key, ARGV[1] owner token.
export const RELEASE_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`

/** Error replies that mean "not now" rather than "never": the server is loading, busy, failing over or full. */
export const TRANSIENT_REPLY = /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|NOREPLICAS|OOM|MOVED|ASK)\b/
