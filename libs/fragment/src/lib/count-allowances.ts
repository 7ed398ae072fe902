import type { ReadCount, ReadCounter } from './fragment-store';

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
 * still used during it. A counter starts at one hit per count and doubles its ask per count, so a
 * viewer seen once costs one hit, as before. Hits expire with their window, measured from before the
 * count was sent, so none outlives the window that counted it.
 */
export class CountAllowances {
  private readonly entries = new Map<string, Allowance>();

  constructor(private readonly maxEntries = DEFAULT_MAX_ENTRIES) {}

  /** A hit from memory for `counter`, if this process holds one in a window not over at `now`. */
  take(counter: ReadCounter, now: number): ReadCount | undefined {
    const entry = this.entries.get(counter.hitsKey);
    if (!entry || entry.left === 0 || now >= entry.until) return undefined;
    entry.left -= 1;
    return { hits: entry.top - entry.left, windowLeftMs: entry.until - now, blocked: false, blockLeftMs: 0 };
  }

  /** Hits to ask Redis for on the next count of `counter`. */
  want(counter: ReadCounter): number {
    return Math.min(this.entries.get(counter.hitsKey)?.next ?? 1, maxWant(counter.limit));
  }

  /**
   * Keeps what a count granted beyond its own request's hit. `sentAt`: the clock when the count was
   * sent, so the window is taken to end no later than it does in Redis.
   */
  keep(counter: ReadCounter, count: ReadCount & { readonly granted: number }, sentAt: number): void {
    const key = counter.hitsKey;
    const entry = this.entries.get(key);
    if (count.blocked) {
      if (entry) entry.next = 1;
      return;
    }
    const until = sentAt + count.windowLeftMs;
    const next = Math.min(MAX_AHEAD, (entry?.next ?? 1) * 2);
    if (entry && sentAt < entry.until) {
      // Another count of the same window answered first: both grants are this process's to use.
      entry.left += count.granted - 1;
      entry.top = Math.max(entry.top, count.hits);
      entry.until = Math.min(entry.until, until);
      entry.next = next;
      return;
    }
    if (!entry && this.entries.size >= this.maxEntries) this.evictOldest();
    this.entries.set(key, { left: count.granted - 1, top: count.hits, until, next });
  }

  /** Counters held (a gauge for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  /** Drops the oldest tenth: their unused hits are lost to their viewers, never given twice. */
  private evictOldest(): void {
    let drop = Math.max(1, Math.floor(this.maxEntries / 10));
    for (const key of this.entries.keys()) {
      if (drop-- === 0) break;
      this.entries.delete(key);
    }
  }
}
