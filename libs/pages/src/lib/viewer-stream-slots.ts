import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import {
  COUNT_FUNCTION_LUA,
  FRAGMENT_CLOCK,
  type FragmentClock,
  FRAGMENT_OPTIONS,
  FRAGMENT_REDIS,
  type FragmentModuleOptions,
  FragmentStoreUnavailableError,
  type ReadCount,
  type ReadCounter,
  type RedisClient,
} from '@worker-pattern/fragment';

/** Open streams per viewer across every gateway replica; one more is refused with 429. */
export const MAX_STREAMS_PER_VIEWER = 5;
/** How often an open stream sends a heartbeat, which also renews its slot. */
export const STREAM_HEARTBEAT_MS = 15_000;
/**
 * How long a slot stays counted without a renewal: three heartbeats, so one slow renewal never drops
 * a live stream, while the slots of a gateway that crashed (no close, no renewals) free themselves.
 */
export const STREAM_SLOT_TTL_MS = 3 * STREAM_HEARTBEAT_MS;

// The set expires with its latest slot (replicas' clocks may differ by a little).
const EXPIRE_WITH_LATEST_SLOT = `
local function expire_with_latest_slot(key)
  local latest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', key, latest[2])
end
`;

// One sorted set per viewer: member = stream id, score = the ms until which the slot counts. The
// whole check-and-add is one script on one key, so two replicas admitting at once cannot both take
// the last slot, and a Redis Cluster runs it on the viewer's node. Returns 1 when admitted, else
// when the first slot lapses unless renewed (the earliest a refused client may find one free).
const ACQUIRE_FUNCTION = `${EXPIRE_WITH_LATEST_SLOT}
local function acquire(key, now, expires_at, id, max)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= max then
    return -tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2])
  end
  redis.call('ZADD', key, expires_at, id)
  expire_with_latest_slot(key)
  return 1
end
`;

// KEYS[1] the viewer's set; ARGV: now, expires at, stream id, max.
const ACQUIRE_SCRIPT = `${ACQUIRE_FUNCTION}
return acquire(KEYS[1], ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]))
`;

// The same with the viewer's rate-limit count first (the stream's only Redis call before it reads):
// KEYS[2], KEYS[3] the counter's hits and block keys (same tag, same slot); ARGV 5–7 its window ms,
// limit and block ms. Returns { the slot's answer (0 when blocked: nothing acquired), then the
// counter's hits, ms left in the window, 1 blocked | 0, ms left of the block }.
const ACQUIRE_COUNTED_SCRIPT = `${ACQUIRE_FUNCTION}${COUNT_FUNCTION_LUA}
local c = count(KEYS[2], KEYS[3], tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]))
if c[3] == 1 then return { 0, c[1], c[2], c[3], c[4] } end
return { acquire(KEYS[1], ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])), c[1], c[2], c[3], c[4] }
`;

// Renews one slot (re-adding it if the set was evicted: it is a cache-role key, and the stream is
// still open, so it still counts). KEYS[1] the viewer's set; ARGV: expires at, stream id.
const RENEW_SCRIPT = `${EXPIRE_WITH_LATEST_SLOT}
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
expire_with_latest_slot(KEYS[1])
return 1
`;

interface StreamSlotCommands {
  streamSlotAcquire(key: string, now: number, expiresAt: number, id: string, max: number): Promise<number>;
  streamSlotAcquireCounted(
    key: string,
    hitsKey: string,
    blockedKey: string,
    ...args: Array<string | number>
  ): Promise<[number, number, number, number, number]>;
  streamSlotRenew(key: string, expiresAt: number, id: string): Promise<number>;
}

/** One admitted stream's slot: renew it on every heartbeat, release it when the stream ends. */
export interface StreamSlot {
  renew(): Promise<void>;
  release(): Promise<void>;
}

/**
 * A slot, or none and how long until the first open slot lapses unless renewed: a stream closing
 * frees one sooner, a live stream keeps its own, so this is when asking again is first worthwhile.
 */
export type StreamSlotAnswer = { readonly slot: StreamSlot } | { readonly slot: null; readonly retryAfterMs: number };

/** A slot asked for with the viewer's rate-limit count: no answer when the count is blocked. */
export interface CountedSlotAnswer {
  readonly count: ReadCount;
  readonly answer?: StreamSlotAnswer;
}

/**
 * Counts a viewer's open streams in Redis (the cache role), so the cap holds across every gateway
 * replica, and a replica that dies without closing its streams stops counting once their slots are
 * not renewed for STREAM_SLOT_TTL_MS.
 */
@Injectable()
export class ViewerStreamSlots {
  private readonly logger = new Logger(ViewerStreamSlots.name);
  private readonly now: FragmentClock;
  private readonly commands: StreamSlotCommands;

  constructor(
    @Inject(FRAGMENT_REDIS) private readonly redis: RedisClient,
    @Inject(FRAGMENT_OPTIONS) private readonly options: FragmentModuleOptions,
    @Optional() @Inject(FRAGMENT_CLOCK) clock?: FragmentClock,
  ) {
    this.now = clock ?? Date.now;
    // A client may be shared by several instances (tests): define the commands once per client.
    if (!(redis as unknown as Partial<StreamSlotCommands>).streamSlotAcquire) {
      redis.defineCommand('streamSlotAcquire', { lua: ACQUIRE_SCRIPT, numberOfKeys: 1 });
      redis.defineCommand('streamSlotAcquireCounted', { lua: ACQUIRE_COUNTED_SCRIPT, numberOfKeys: 3 });
      redis.defineCommand('streamSlotRenew', { lua: RENEW_SCRIPT, numberOfKeys: 1 });
    }
    this.commands = redis as unknown as StreamSlotCommands;
  }

  /** The viewer's set; tagged `{u<id>}` like their rate-limit counters, so it shares their Cluster slot. */
  keyOf(viewerId: number): string {
    return `${this.options.keyPrefix}streams:{u${viewerId}}`;
  }

  /**
   * A slot for one more stream of the viewer, or none when MAX_STREAMS_PER_VIEWER are open.
   * Throws FragmentStoreUnavailableError (503) when Redis does not answer.
   */
  async acquire(viewerId: number): Promise<StreamSlotAnswer> {
    const key = this.keyOf(viewerId);
    // Never the request id: a client chooses that, and one id reused would take one slot many times.
    const id = randomUUID();
    const now = this.now();
    let admitted: number;
    try {
      admitted = await this.commands.streamSlotAcquire(key, now, now + STREAM_SLOT_TTL_MS, id, MAX_STREAMS_PER_VIEWER);
    } catch (error) {
      throw new FragmentStoreUnavailableError(error);
    }
    return this.answer(viewerId, key, id, now, admitted);
  }

  /**
   * `acquire`, counting the viewer's rate limit (`counter`, keys tagged `{u<id>}` like the set) in the
   * same script call: a blocked count acquires nothing. Throws FragmentStoreUnavailableError (503).
   */
  async acquireCounted(viewerId: number, counter: ReadCounter): Promise<CountedSlotAnswer> {
    const key = this.keyOf(viewerId);
    const id = randomUUID();
    const now = this.now();
    let reply: [number, number, number, number, number];
    try {
      reply = await this.commands.streamSlotAcquireCounted(
        key,
        counter.hitsKey,
        counter.blockedKey,
        now,
        now + STREAM_SLOT_TTL_MS,
        id,
        MAX_STREAMS_PER_VIEWER,
        counter.windowMs,
        counter.limit,
        counter.blockMs,
      );
    } catch (error) {
      throw new FragmentStoreUnavailableError(error);
    }
    const [admitted, hits, windowLeftMs, blocked, blockLeftMs] = reply;
    const count: ReadCount = { hits, windowLeftMs, blocked: blocked === 1, blockLeftMs };
    if (count.blocked) return { count };
    return { count, answer: this.answer(viewerId, key, id, now, admitted) };
  }

  private answer(viewerId: number, key: string, id: string, now: number, admitted: number): StreamSlotAnswer {
    if (admitted !== 1) return { slot: null, retryAfterMs: Math.max(0, -admitted - now) };
    const slot: StreamSlot = {
      renew: async () => {
        try {
          await this.commands.streamSlotRenew(key, this.now() + STREAM_SLOT_TTL_MS, id);
        } catch (error) {
          // The next heartbeat tries again; the slot outlives two missed renewals.
          this.logger.warn(`could not renew a stream slot of viewer ${viewerId}: ${(error as Error).message}`);
        }
      },
      release: async () => {
        try {
          await this.redis.zrem(key, id);
        } catch (error) {
          // Unrenewed, the slot frees itself within STREAM_SLOT_TTL_MS.
          this.logger.warn(`could not release a stream slot of viewer ${viewerId}: ${(error as Error).message}`);
        }
      },
    };
    return { slot };
  }
}
