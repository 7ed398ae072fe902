/**
 * Lua scripts of the fragment store. One Redis hash per fragment copy holds everything, so each
 * script touches one key per fragment and every state change is atomic:
 *
 *   d  data (JSON text)        b  builtAt (ISO)          g  generation the data was built for
 *   x  fresh until (ms)        h  servable until (ms): x + stale window
 *   n  last generation issued  l  generation holding the lease   lu  lease valid until (ms)
 *   ln  the lease's lane: i (someone is waiting) or b (a background rebuild after a write)
 *   lc  the job building the leased generation
 *   fe/fc  failure message/code   fu  failed until (ms)   i  generation of the last invalidation
 *   r  last read by a client (ms): a copy read recently is rebuilt right after a write
 *
 * Generations are max(n + 1, now in ms), so they keep growing even after the hash expires and a
 * new copy starts from scratch: a job id that carries one is never re-used.
 * Times come from the Redis server's clock, so every gateway and worker agrees on them.
 */

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * Announces a settled build on the events channel in the envelope of Nest's Redis transport
 * ({"pattern", "data"}), so the gateway receives it with an ordinary `@EventPattern` handler. The
 * generation travels as a string: it is larger than cjson's 14 significant digits can promise.
 */
const ANNOUNCE = `
local function announce(channel, status, gen, key)
  redis.call('PUBLISH', channel, cjson.encode({ pattern = channel, data = { status = status, generation = gen, key = key } }))
end
`;

/** Keep the hash alive at least `ms` from now (it may already live longer). */
const KEEP_ALIVE = `
local function keep_alive(key, ms)
  local pttl = redis.call('PTTL', key)
  if pttl < ms then redis.call('PEXPIRE', key, ms) end
end
`;

/**
 * Reads every fragment of a page in one call and, when ARGV[1] is '1' (a client request), takes the
 * lease of each one that is missing or stale and not already being built: the talk's "write the key
 * with no data before you enqueue", made race-free. A request also notes when the copy was last read
 * (`r`, at most every 5 s), which is what makes a copy worth rebuilding right after a write, and
 * promotes a background rebuild that someone is now waiting for to the interactive lane.
 * ARGV[i + 1] is fragment i's lease length.
 * Returns per fragment: { status (1 ready, 2 stale, 3 pending, 4 failed), data, builtAt,
 * error, errorCode, wait ms (lease or failure remaining), generation to enqueue (0: none),
 * 1 when that generation is a promotion of a background lease }.
 */
export const RESOLVE_SCRIPT = `${NOW}${KEEP_ALIVE}
local take = ARGV[1] == '1'
local out = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  local v = redis.call('HMGET', key, 'd', 'b', 'x', 'h', 'lu', 'fe', 'fc', 'fu', 'n', 'l', 'ln', 'r')
  local d = v[1]
  local x, h, lu, fu = tonumber(v[3]) or 0, tonumber(v[4]) or 0, tonumber(v[5]) or 0, tonumber(v[8]) or 0
  if d and h <= now then d = false end
  local status, wait, gen, promoted = 3, 0, 0, 0
  if d and x > now then
    status = 1
  else
    if d then status = 2 elseif fu > now then status = 4; wait = fu - now end
    if lu > now then
      if status == 3 then wait = lu - now end
      if take and v[11] == 'b' then
        gen = tonumber(v[10])
        promoted = 1
        redis.call('HSET', key, 'ln', 'i')
      end
    elseif fu <= now and take then
      local lease = tonumber(ARGV[i + 1])
      gen = math.max((tonumber(v[9]) or 0) + 1, now)
      redis.call('HSET', key, 'n', gen, 'l', gen, 'lu', now + lease, 'ln', 'i')
      redis.call('HDEL', key, 'lc')
      keep_alive(key, lease)
      if status == 3 then wait = lease end
    end
  end
  if take and (tonumber(v[12]) or 0) < now - 5000 and (status ~= 3 or gen > 0 or lu > now) then
    redis.call('HSET', key, 'r', now)
  end
  out[i] = { status, d or '', v[2] or '', v[6] or '', v[7] or '', wait, gen, promoted }
end
return out
`;

/**
 * A worker starts building generation ARGV[1] as job ARGV[3]. Returns 0 when the build is pointless:
 * newer data is stored, a newer lease was issued, the copy was invalidated after this job was
 * queued, or another job (the same generation, enqueued on both lanes) is building it right now.
 * Else renews the lease for ARGV[2] ms so nobody enqueues a duplicate while it builds, notes the
 * job as the builder (its own retries and stalled-job recovery may claim again) and returns 1.
 */
export const CLAIM_SCRIPT = `${NOW}${KEEP_ALIVE}
local key, gen, lease, job = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local v = redis.call('HMGET', key, 'g', 'l', 'lu', 'n', 'i', 'lc')
local g, l, lu, n, inv = tonumber(v[1]) or 0, tonumber(v[2]), tonumber(v[3]) or 0, tonumber(v[4]) or 0, tonumber(v[5]) or 0
if gen <= g or gen < inv or (l and l > gen) then return 0 end
if l == gen and lu > now and v[6] and v[6] ~= job then return 0 end
redis.call('HSET', key, 'l', gen, 'lu', math.max(lu, now + lease), 'n', math.max(n, gen), 'lc', job)
keep_alive(key, lease)
return 1
`;

/**
 * Writes a finished build unless something newer already landed (generation guard), clears the
 * build's own lease, sets the expiry to the end of the stale window and announces the copy.
 * ARGV: generation, data, builtAt, ttl ms, stale ms, events channel. Returns 1 written, 0 discarded.
 */
export const COMPLETE_SCRIPT = `${NOW}${ANNOUNCE}
local key, gen = KEYS[1], tonumber(ARGV[1])
local v = redis.call('HMGET', key, 'g', 'i', 'l', 'lu')
local g, inv, l, lu = tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]), tonumber(v[4]) or 0
local ours = l == gen
if ours then redis.call('HDEL', key, 'l', 'lu', 'ln', 'lc'); lu = 0 end
if gen <= g or gen < inv then return 0 end
local x = now + tonumber(ARGV[4])
local h = x + tonumber(ARGV[5])
redis.call('HSET', key, 'd', ARGV[2], 'b', ARGV[3], 'g', gen, 'x', x, 'h', h)
redis.call('HDEL', key, 'fe', 'fc', 'fu')
redis.call('PEXPIREAT', key, math.max(h, lu))
announce(ARGV[6], 'ready', ARGV[1], key)
return 1
`;

/**
 * Records a failed attempt. Final (ARGV[4] = '1'): keep any servable data, remember the failure for
 * ARGV[5] ms (requests see `failed` and do not enqueue meanwhile), release the lease, announce it.
 * Not final: the job will be retried, so stretch the lease over the backoff (ARGV[6] ms).
 * ARGV: generation, message, code, final, failed ttl ms, retry lease ms, events channel.
 * Returns 1 recorded as failed, 2 lease kept for a retry, 0 ignored (newer data exists).
 */
export const FAIL_SCRIPT = `${NOW}${KEEP_ALIVE}${ANNOUNCE}
local key, gen = KEYS[1], tonumber(ARGV[1])
local v = redis.call('HMGET', key, 'g', 'l', 'lu')
local g, l, lu = tonumber(v[1]) or 0, tonumber(v[2]), tonumber(v[3]) or 0
local ours = l == gen
if gen <= g then
  if ours then redis.call('HDEL', key, 'l', 'lu', 'ln', 'lc') end
  return 0
end
if ARGV[4] == '1' then
  local ttl = tonumber(ARGV[5])
  redis.call('HSET', key, 'fe', ARGV[2], 'fc', ARGV[3], 'fu', now + ttl)
  if ours then redis.call('HDEL', key, 'l', 'lu', 'ln', 'lc') end
  keep_alive(key, ttl)
  announce(ARGV[7], 'failed', ARGV[1], key)
  return 1
end
if ours or not l then
  local lease = tonumber(ARGV[6])
  redis.call('HSET', key, 'l', gen, 'lu', math.max(lu, now + lease))
  keep_alive(key, lease)
end
return 2
`;

/**
 * A write changed what these copies show. For each copy that exists: a new generation becomes the
 * invalidation mark (builds queued before it are discarded, see CLAIM and COMPLETE), the data turns
 * stale at once (still served while it is rebuilt), old leases and failures are dropped, and an
 * `invalidated` event goes out. A copy read within ARGV[2] ms is rebuilt right away: its lease is
 * taken for the background lane and the generation returned for the caller to enqueue; the rest
 * rebuild on their next request. ARGV[2 + i] is copy i's lease length.
 * Returns per key: -1 no such copy, 0 marked stale, else the generation leased for a rebuild.
 */
export const INVALIDATE_SCRIPT = `${NOW}${KEEP_ALIVE}${ANNOUNCE}
local window = tonumber(ARGV[2])
local out = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  if redis.call('EXISTS', key) == 0 then
    out[i] = -1
  else
    local v = redis.call('HMGET', key, 'n', 'r')
    local gen = math.max((tonumber(v[1]) or 0) + 1, now)
    redis.call('HSET', key, 'i', gen, 'n', gen, 'x', 0)
    redis.call('HDEL', key, 'l', 'lu', 'ln', 'lc', 'fe', 'fc', 'fu')
    out[i] = 0
    if (tonumber(v[2]) or 0) > now - window then
      local lease = tonumber(ARGV[2 + i])
      redis.call('HSET', key, 'l', gen, 'lu', now + lease, 'ln', 'b')
      keep_alive(key, lease)
      out[i] = gen
    end
    announce(ARGV[1], 'invalidated', tostring(gen), key)
  end
end
return out
`;

/** Gives a lease back when its job could not be enqueued, so the next request may try again. */
export const RELEASE_SCRIPT = `
local key, gen = KEYS[1], tonumber(ARGV[1])
if tonumber(redis.call('HGET', key, 'l')) == gen then
  redis.call('HDEL', key, 'l', 'lu', 'ln', 'lc')
  return 1
end
return 0
`;
