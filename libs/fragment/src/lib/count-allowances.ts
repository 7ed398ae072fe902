import type { GrantedCount, ReadCount, ReadCounter } from './fragment-store';

/** Hits this process took from a counter's window in Redis and has not used yet. */
interface Allowance {
  left: number;
  /** The counter's hits in Redis when the last of these was granted. */
  top: number;
  /** When the window they belong to ends, at the latest (the caller's monotonic clock). */
  until: number;
  /** Hits to ask for on the next count. */
  next: number;
}

/** No more than this many hits taken ahead per count, and no more than 1/64 of the limit. */
const MAX_AHEAD = 64;
const LIMIT_SHARE = 64;
const DEFAULT_MAX_ENTRIES = 100_000;
/** Held hits are given up this long before their window ends: Redis expires on its own clock. */
const WINDOW_MARGIN_MS = 5;

/** Hits to ask for at most, for a counter of `limit`: 1 (no hits ahead) for a limit under 128. */
export function maxWant(limit: number): number {
  return Math.min(MAX_AHEAD, Math.max(1, Math.floor(limit / LIMIT_SHARE)));
}

/**
 * A per-viewer rate limit counted mostly in this process's memory, still shared by every replica:
 * a count asks Redis for several hits at once (`FragmentStore.count` with `want`), and the
 * requests that follow use them up here without a round trip; a page from the near cache then
 * costs Redis nothing.
 *
 * Nothing passes the limit: Redis counts a hit when it grants it, so a viewer's requests over every
 * replica together never get more hits than the limit (COUNT_FUNCTION_LUA grants at most an eighth
 * of what is left, then one at a time near the limit). What it costs is the other way: hits a
 * replica took and its viewer did not come back for are lost to that viewer's window, at most
 * `maxWant(limit) - 1` per replica (under 1/64 of the limit), and hits taken before a block are
 * still used during it. The `X-RateLimit-Remaining` a held hit answers is what this process last
 * heard from Redis: it does not see the hits other replicas spent since. A counter starts at one
 * hit per count and doubles its ask per count, so a viewer seen once costs one hit, as before. Hits
 * expire with their window, measured from before the count was sent and 5 ms early, so none
 * outlives the window that counted it.
 */
export class CountAllowances {
  private readonly entries = new Map<string, Allowance>();
  /** Counters with a count in flight: another count of theirs meanwhile asks for one hit only. */
  private readonly counting = new Set<string>();

  constructor(private readonly maxEntries = DEFAULT_MAX_ENTRIES) {}

  /** A hit from memory for `counter`, if this process holds one in a window not over at `now`. */
  take(counter: ReadCounter, now: number): ReadCount | undefined {
    const entry = this.entries.get(counter.hitsKey);
    if (!entry || entry.left === 0 || now >= entry.until) return undefined;
    entry.left -= 1;
    return { hits: entry.top - entry.left, windowLeftMs: entry.until - now, blocked: false, blockLeftMs: 0 };
  }

  /**
   * Counts one request through `send` (a count script asking Redis for `want` hits) and keeps the
   * hits granted beyond it; answers the request's own count. `now`: the clock before sending, so a
   * held hit's window never ends later here than in Redis. One count per counter at a time asks for
   * more than one hit, so however many requests of one viewer arrive together, this process holds
   * at most `maxWant(limit) - 1` of their hits.
   */
  async count(counter: ReadCounter, now: number, send: (want: number) => Promise<GrantedCount>): Promise<ReadCount> {
    const key = counter.hitsKey;
    const alone = !this.counting.has(key);
    if (alone) this.counting.add(key);
    try {
      const counted = await send(alone ? this.want(counter) : 1);
      this.keep(counter, counted, now);
      return { ...counted, hits: counted.hits - Math.max(0, counted.granted - 1) };
    } finally {
      if (alone) this.counting.delete(key);
    }
  }

  /** Hits to ask Redis for on the next count of `counter`. */
  want(counter: ReadCounter): number {
    return Math.min(this.entries.get(counter.hitsKey)?.next ?? 1, maxWant(counter.limit));
  }

  /**
   * Keeps what a count granted beyond its own request's hit. `sentAt`: the clock when the count was
   * sent, so the window is taken to end no later than it does in Redis.
   */
  keep(counter: ReadCounter, count: GrantedCount, sentAt: number): void {
    const key = counter.hitsKey;
    const entry = this.entries.get(key);
    if (count.blocked) {
      if (entry) entry.next = 1;
      return;
    }
    const until = sentAt + count.windowLeftMs - WINDOW_MARGIN_MS;
    const next = Math.min(MAX_AHEAD, (entry?.next ?? 1) * 2);
    const kept: Allowance =
      entry && sentAt < entry.until
        ? // Another count of the same window answered first: both grants are this process's to use.
          {
            left: entry.left + count.granted - 1,
            top: Math.max(entry.top, count.hits),
            until: Math.min(entry.until, until),
            next,
          }
        : { left: count.granted - 1, top: count.hits, until, next };
    // Re-inserted, so the counters evicted first are those not counted for longest.
    if (entry) this.entries.delete(key);
    else if (this.entries.size >= this.maxEntries) this.evictOldest();
    this.entries.set(key, kept);
  }

  /** Counters held (for tests). */
  get size(): number {
    return this.entries.size;
  }

  /** Drops the tenth counted longest ago: their unused hits are lost to their viewers, never given twice. */
  private evictOldest(): void {
    let drop = Math.max(1, Math.floor(this.maxEntries / 10));
    for (const key of this.entries.keys()) {
      if (drop-- === 0) break;
      this.entries.delete(key);
    }
  }
}
