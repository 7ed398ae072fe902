/**
 * Lua scripts of the fragment store. One Redis hash per fragment copy holds everything about it, so
 * a script over several copies only ever needs copies of one hash slot (the store groups keys by
 * their hash tag), and every state change of a copy is atomic on Redis and Redis Cluster alike:
 *
 *   d  data (JSON text)      b  builtAt (ISO)        g  generation of the build that wrote `d`
 *   x  fresh until (ms): 0 once a write landed after the build read the database
 *   h  servable until (ms): end of the stale window
 *   n  last generation issued    i  generation of the last invalidation (write)
 *   q, qu, qn   the queued build: its lease generation, valid until, lane (i interactive, b background)
 *   c, cu, cj, cn   the running build: its claim generation, valid until, Bull job id, lane
 *   fe, fc, fu  failure message, code, failed until     fk  consecutive failed builds
 *   r  last read by a client or an open stream (ms): such copies are rebuilt right after a write
 *   w  write position (16 hex digits of a Postgres LSN) the next build must read at or after
 *
 * Generations are max(n + 1, now in ms): they keep growing even after the hash expires or is evicted
 * and a copy starts from scratch, so a Bull job id that carries one is never re-used.
 *
 * The rules that keep every asked-for copy arriving (see docs/architecture.md, "Generations"):
 * - A build is judged by when it read the database: CLAIM issues its generation. Data is fresh only
 *   if that generation is newer than the last invalidation; a build a write overtook still writes
 *   its (newer than stored) result, as stale, and queues exactly one follow-up build.
 * - At most one queued and one running build per copy: requests and writes never queue a build while
 *   one is queued or running; a queued job whose lease another job took over is superseded.
 * - Time is Redis' clock (`TIME`), so every gateway and worker agrees on it; ARGV[1] may pin it
 *   (the model-based test drives time itself); 0 means "now".
 */

const PRELUDE = `
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function num(v) return tonumber(v) or 0 end
-- Keeps the hash alive at least ms from now (it may already live longer).
local function keep_alive(key, ms)
  local pttl = redis.call('PTTL', key)
  if pttl < ms then redis.call('PEXPIRE', key, ms) end
end
-- The next generation of a copy whose last issued one is n.
local function next_gen(n) return math.max(num(n) + 1, now) end
-- Announces a change of the copy on its own sharded channel (the key: same slot, same shard), in
-- the envelope of Nest's microservice transports. The generation travels as a string: it is larger
-- than cjson's 14 significant digits can promise. A fresh copy may travel with its event (data,
-- builtAt, ms it stays fresh), so a watching gateway need not read it back.
local function announce(key, status, gen, copy)
  local data = { status = status, generation = string.format('%d', gen), key = key }
  if copy then data.dataJson, data.builtAt, data.freshMs = copy[1], copy[2], copy[3] end
  redis.call('SPUBLISH', key, cjson.encode({ pattern = 'fragment.settled', data = data }))
end
`;

/**
 * A fixed-window counter (a per-viewer rate limit) that a read (or a stream's slot) can carry, so
 * the limit costs no round trip of its own: the algorithm of @nest-lab/throttler-storage-redis'
 * script, which counts the same keys for every other route, so both see one count. Each request
 * adds a hit; past `limit` hits in the window the counter is blocked for `block` ms, after which it
 * starts again at one hit.
 * `want` (default 1) asks for that many hits at once, for a gateway that counts the rest of them in
 * its own memory (libs/fragment/src/lib/count-allowances.ts): it gets at most an eighth of what is
 * left below the limit, and never less than the one hit of the request itself, so hits granted never
 * pass the limit and the last hits before it are asked for one at a time.
 * Returns { hits, ms left in the window, 1 blocked | 0, ms left of the block, hits granted }.
 */
export const COUNT_FUNCTION_LUA = `
local function count(hit_key, block_key, window, limit, block, want)
  local grant = 1
  if want and want > 1 and redis.call('EXISTS', block_key) == 0 then
    local before = tonumber(redis.call('GET', hit_key) or '0')
    grant = math.max(1, math.min(want, math.floor((limit - before) / 8)))
  end
  local hits = redis.call('INCRBY', hit_key, grant)
  local left = redis.call('PTTL', hit_key)
  if left <= 0 then
    redis.call('PEXPIRE', hit_key, window)
    left = window
  end
  local blocked = redis.call('GET', block_key)
  local block_left = 0
  if blocked then
    block_left = redis.call('PTTL', block_key)
  elseif hits > limit then
    redis.call('SET', block_key, 1, 'PX', block)
    blocked = '1'
    block_left = block
  end
  if blocked and block_left <= 0 then
    redis.call('DEL', block_key)
    redis.call('SET', hit_key, 1, 'PX', window)
    hits = 1
    left = window
    blocked = false
  end
  return { hits, left, blocked and 1 or 0, block_left, grant }
end
`;

/**
 * COUNT — the counter alone (a page the gateway's near cache serves from memory).
 * KEYS: hits, block. ARGV: window ms, limit, block ms, hits wanted. Returns as COUNT_FUNCTION_LUA.
 */
export const COUNT_SCRIPT = `${COUNT_FUNCTION_LUA}
return count(KEYS[1], KEYS[2], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))
`;

/**
 * RESOLVE — reads copies (of one hash slot) in one call; for a client request, leases the builds
 * they need: the talk's "write the key with no data before you enqueue", made race-free.
 * KEYS: the copies, then (with a counter) the counter's hits and block keys, in the copies' slot.
 * ARGV: now, take ('1': a client request), counter ('1': the last two KEYS are a counter), then each
 * copy's lease ms, then (with a counter) its window ms, limit and block ms.
 * With a counter, the request is counted first; a blocked one reads and leases nothing.
 * A copy needs a build when it is not fresh, no build is queued or running, and it is not failing.
 * A queued background rebuild someone now waits for is promoted to the interactive lane. A request
 * also marks the copy read (`r`, at most every 5 s): a fresh copy read within 5 s is not written.
 * Returns per copy: { status (1 ready, 2 stale, 3 pending, 4 failed), data, builtAt, error,
 * errorCode, ms until the state changes by time alone (ready: the ttl; otherwise the later of the
 * build leases and the failure; 0: nothing under way), leased generation (0 none), 1 when that
 * generation is a promoted background lease, the generation and lane of a build already queued
 * (0, '' none) — the gateway checks that such a job still exists (a failover may have lost it),
 * the generation of the build that wrote the data served (0: none) };
 * with a counter, then the counter's reply (see COUNT_FUNCTION_LUA), alone when it is blocked.
 */
export const RESOLVE_SCRIPT = `${PRELUDE}${COUNT_FUNCTION_LUA}
local take = ARGV[2] == '1'
local n = #KEYS
local counted
if ARGV[3] == '1' then
  n = n - 2
  counted = count(KEYS[n + 1], KEYS[n + 2], tonumber(ARGV[4 + n]), tonumber(ARGV[5 + n]), tonumber(ARGV[6 + n]))
  if counted[3] == 1 then return { counted } end
end
local out = {}
for i = 1, n do
  local key = KEYS[i]
  -- A fresh copy (the warm path) needs six fields; the build and failure fields only otherwise.
  local v = redis.call('HMGET', key, 'd', 'b', 'x', 'h', 'r', 'g')
  local d = v[1]
  local x, h = num(v[3]), num(v[4])
  if d and h <= now then d = false end
  if d and x > now then
    if take and num(v[5]) < now - 5000 then redis.call('HSET', key, 'r', now) end
    out[i] = { 1, d, v[2] or '', '', '', x - now, 0, 0, 0, '', num(v[6]) }
  else
    local w = redis.call('HMGET', key, 'fe', 'fc', 'fu', 'n', 'q', 'qu', 'qn', 'cu')
    local fu, qu, cu = num(w[3]), num(w[6]), num(w[8])
    local queued, running = w[5] and qu > now, cu > now
    local status, gen, promoted = 3, 0, 0
    if d then status = 2 elseif fu > now then status = 4 end
    if queued then
      if take and w[7] == 'b' then
        gen = tonumber(w[5]); promoted = 1
        redis.call('HSET', key, 'qn', 'i')
      end
    elseif take and not running and fu <= now then
      local lease = tonumber(ARGV[3 + i])
      gen = next_gen(w[4])
      redis.call('HSET', key, 'n', gen, 'q', gen, 'qu', now + lease, 'qn', 'i')
      keep_alive(key, lease)
      qu = now + lease
    end
    local wait = math.max(qu, cu, fu, now) - now
    if take and num(v[5]) < now - 5000 and (d or gen > 0 or queued or running or w[3]) then
      redis.call('HSET', key, 'r', now)
    end
    local queued_gen, queued_lane = 0, ''
    if queued and gen == 0 then queued_gen = tonumber(w[5]); queued_lane = w[7] end
    out[i] = { status, d or '', v[2] or '', w[1] or '', w[2] or '', wait, gen, promoted, queued_gen, queued_lane,
      d and num(v[6]) or 0 }
  end
end
if counted then out[n + 1] = counted end
return out
`;

/**
 * CLAIM — job ARGV[2] starts building: it takes over the copy's queued lease (whichever job of the
 * copy claims first builds; a newer lease whose job is still queued is taken over, not raced) and
 * becomes the running build under a new generation, the time it reads the database.
 * KEYS[1]: the copy. ARGV: now, job id, running lease ms, the job's lane.
 * Returns { generation, write position to read at or after ('' none) } or { 0, reason }: 'busy'
 * (another build is running; it queues a follow-up itself if a write overtakes it) or 'taken'
 * (another job took this lease over: nobody waits for this one) or 'fresh' (a build that read
 * later already wrote; its lease is dropped). Its own retries and stalled-job
 * recovery claim again. A copy whose hash is gone (evicted, expired) is built.
 */
export const CLAIM_SCRIPT = `${PRELUDE}
local key, job = KEYS[1], ARGV[2]
local v = redis.call('HMGET', key, 'n', 'q', 'qn', 'cu', 'cj', 'w', 'x')
if num(v[4]) > now and v[5] ~= job then return { 0, 'busy' } end
if v[1] and not v[2] and v[5] ~= job then return { 0, 'taken' } end
if num(v[7]) > now and v[5] ~= job then
  redis.call('HDEL', key, 'q', 'qu', 'qn')
  return { 0, 'fresh' }
end
local gen = next_gen(v[1])
local lease = tonumber(ARGV[3])
redis.call('HSET', key, 'n', gen, 'c', gen, 'cu', now + lease, 'cj', job, 'cn', v[3] or ARGV[4])
redis.call('HDEL', key, 'q', 'qu', 'qn')
keep_alive(key, lease)
return { gen, v[6] or '' }
`;

/**
 * The follow-up build after a build that a write overtook (or whose failure no longer says anything):
 * queued only if nothing else is queued or running, and only if someone waits (interactive lane) or
 * read the copy within the active window. Returns its generation (0: none) and the lease end.
 */
const FOLLOW_UP = `
local function follow_up(key, v_n, queued, running_other, lane, read_at, window, lease)
  if queued or running_other then return 0, 0 end
  if lane ~= 'i' and read_at <= now - window then return 0, 0 end
  local gen = next_gen(v_n)
  redis.call('HSET', key, 'n', gen, 'q', gen, 'qu', now + lease, 'qn', lane)
  return gen, now + lease
end
`;

/**
 * The largest copy (bytes of its data) that travels with its `ready` event: watchers get it without
 * a read. Larger ones are announced bare and read by whoever watches (a big copy is then encoded
 * once per gateway that reads it, not into every message).
 */
export const COPY_IN_EVENT_MAX_BYTES = 16 * 1024;

/**
 * COMPLETE — the copy's running build writes its result, unless a build that read later already
 * wrote (generation guard): as fresh, or as stale when a write landed after this build read (then
 * one follow-up build is queued); frees the running slot, sets the expiry and announces the copy
 * (with its data when fresh and at most COPY_IN_EVENT_MAX_BYTES).
 * KEYS[1]. ARGV: now, generation (from CLAIM), job id, data, builtAt, ttl ms, stale ms,
 * active window ms, follow-up lease ms.
 * Returns { 1 written fresh | 2 written stale | 0 discarded, follow-up generation (0 none), its lane }.
 */
export const COMPLETE_SCRIPT = `${PRELUDE}${FOLLOW_UP}
local key, gen, job = KEYS[1], tonumber(ARGV[2]), ARGV[3]
local v = redis.call('HMGET', key, 'g', 'i', 'c', 'cj', 'cn', 'q', 'qu', 'cu', 'r', 'n')
local ours = v[4] == job and tonumber(v[3]) == gen
local lane = v[5] or 'b'
-- Only the copy's running build writes: one that lost its slot (its lease ran out and another job
-- claimed, or the hash was evicted with the record of what it read against) is discarded; the
-- build that holds the slot now, or the next request, makes the copy.
if not ours then return { 0, 0, '' } end
redis.call('HDEL', key, 'c', 'cu', 'cj', 'cn')
if gen <= num(v[1]) then return { 0, 0, '' } end
local ttl = tonumber(ARGV[6])
local x = 0
if gen > num(v[2]) then x = now + ttl end
local h = now + ttl + tonumber(ARGV[7])
redis.call('HSET', key, 'd', ARGV[4], 'b', ARGV[5], 'g', gen, 'x', x, 'h', h)
redis.call('HDEL', key, 'fe', 'fc', 'fu', 'fk')
local qu = num(v[7])
local follow = 0
if x == 0 then
  local queued = v[6] and qu > now
  local until_ms
  follow, until_ms = follow_up(key, v[10], queued, false, lane, num(v[9]), tonumber(ARGV[8]), tonumber(ARGV[9]))
  if follow > 0 then qu = until_ms end
end
redis.call('PEXPIREAT', key, math.max(h, qu))
-- The copy goes with its event only when a gateway is subscribed on this node (gateways subscribe
-- on masters): a build nobody watches pays nothing for encoding it. Asked last, only for a copy
-- that could go. pcall: a server that refuses PUBSUB (an ACL) gets bare events, never a write left
-- unannounced.
local function watched()
  local subscribers = redis.pcall('PUBSUB', 'SHARDNUMSUB', key)
  return type(subscribers) == 'table' and (tonumber(subscribers[2]) or 0) > 0
end
if x > 0 and #ARGV[4] <= ${COPY_IN_EVENT_MAX_BYTES} and watched() then
  announce(key, 'ready', gen, { ARGV[4], ARGV[5], ttl })
else
  announce(key, 'ready', gen)
end
if x > 0 then return { 1, 0, '' } end
return { 2, follow, lane }
`;

/**
 * FAIL — records a failed attempt of the running build, under the same checks as CLAIM and
 * COMPLETE: ignored unless this job is the copy's running build and nothing newer was written.
 * Not final: the running lease stretches over the backoff (Bull retries the job). Final: the copy is
 * `failed` for a ttl that grows with consecutive failures (ARGV[8] × 2^fk, at most ARGV[9], times
 * the jitter ARGV[10]), so a slow database never meets a retry storm — unless a write landed after
 * the build read, or a newer build is queued: then the failure says nothing about the copy as it is
 * now, and a follow-up build is queued after that same delay instead.
 * KEYS[1]. ARGV: now, generation, job id, message, code, final ('1'), retry lease ms, failed ttl ms,
 * failed ttl cap ms, jitter factor, active window ms, follow-up lease ms.
 * Returns { 1 failed | 2 retrying | 3 superseded by a write | 0 ignored, follow-up generation, its
 * lane, delay ms }.
 */
export const FAIL_SCRIPT = `${PRELUDE}${FOLLOW_UP}
local key, gen, job = KEYS[1], tonumber(ARGV[2]), ARGV[3]
local v = redis.call('HMGET', key, 'g', 'i', 'c', 'cj', 'cn', 'q', 'qu', 'cu', 'r', 'n', 'fk')
if not (v[4] == job and tonumber(v[3]) == gen) then return { 0, 0, '', 0 } end
if gen <= num(v[1]) then
  redis.call('HDEL', key, 'c', 'cu', 'cj', 'cn')
  return { 0, 0, '', 0 }
end
if ARGV[6] ~= '1' then
  local lease = tonumber(ARGV[7])
  redis.call('HSET', key, 'cu', math.max(num(v[8]), now + lease))
  keep_alive(key, lease)
  return { 2, 0, '', 0 }
end
redis.call('HDEL', key, 'c', 'cu', 'cj', 'cn')
local fk = num(v[11])
local ttl = math.floor(math.min(tonumber(ARGV[9]), tonumber(ARGV[8]) * 2 ^ fk) * tonumber(ARGV[10]))
redis.call('HSET', key, 'fk', fk + 1)
local lane = v[5] or 'b'
local queued = v[6] and num(v[7]) > now
if gen < num(v[2]) or queued then
  local lease = ttl + tonumber(ARGV[12])
  local follow = follow_up(key, v[10], queued, false, lane, num(v[9]), tonumber(ARGV[11]), lease)
  if follow > 0 then keep_alive(key, lease) end
  return { 3, follow, lane, ttl }
end
redis.call('HSET', key, 'fe', ARGV[4], 'fc', ARGV[5], 'fu', now + ttl)
keep_alive(key, ttl)
announce(key, 'failed', gen)
return { 1, 0, '', ttl }
`;

/**
 * INVALIDATE — a write changed what these copies (of one slot) show. For each copy that exists: a
 * new generation becomes the invalidation mark (builds that read before it write stale data), the
 * data turns stale at once (still served while it is rebuilt), failures are dropped, the write's
 * position is remembered for the next build, and an `invalidated` event goes out. A queued build
 * stays queued (it will read after the write); a running one queues its own follow-up. Otherwise a
 * copy read within the active window is leased right away for a background rebuild.
 * KEYS: the copies. ARGV: now, active window ms, write position ('' none; 16 hex digits, so string
 * order is LSN order), then each copy's lease ms.
 * Returns per copy: -1 no such copy, 0 marked stale, else the generation leased for a rebuild.
 */
export const INVALIDATE_SCRIPT = `${PRELUDE}
local window, lsn = tonumber(ARGV[2]), ARGV[3]
local out = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  if redis.call('EXISTS', key) == 0 then
    out[i] = -1
  else
    local v = redis.call('HMGET', key, 'n', 'r', 'q', 'qu', 'cu', 'w')
    local gen = next_gen(v[1])
    redis.call('HSET', key, 'i', gen, 'n', gen, 'x', 0)
    redis.call('HDEL', key, 'fe', 'fc', 'fu')
    if lsn ~= '' and (not v[6] or v[6] < lsn) then redis.call('HSET', key, 'w', lsn) end
    out[i] = 0
    local queued, running = v[3] and num(v[4]) > now, num(v[5]) > now
    if not queued and not running and num(v[2]) > now - window then
      local lease = tonumber(ARGV[3 + i])
      redis.call('HSET', key, 'q', gen, 'qu', now + lease, 'qn', 'b')
      keep_alive(key, lease)
      out[i] = gen
    end
    announce(key, 'invalidated', gen)
  end
end
return out
`;

/** RELEASE — gives a queued lease back when its job could not be enqueued. KEYS[1]; ARGV: generation. */
export const RELEASE_SCRIPT = `
local key, gen = KEYS[1], tonumber(ARGV[1])
if tonumber(redis.call('HGET', key, 'q')) == gen then
  redis.call('HDEL', key, 'q', 'qu', 'qn')
  return 1
end
return 0
`;

/**
 * MARK_READ — copies watched by an open stream count as read, so rebuilds after writes keep coming
 * for tabs left open however long. KEYS: copies of one slot; ARGV: now. Copies that do not exist
 * are left alone (nothing to rebuild). Returns how many were marked.
 */
export const MARK_READ_SCRIPT = `${PRELUDE}
local marked = 0
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('HSET', KEYS[i], 'r', now)
    marked = marked + 1
  end
end
return marked
`;
