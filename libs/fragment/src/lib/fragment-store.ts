import { Inject, Injectable, Optional } from '@nestjs/common';
import type { FragmentStatus } from './fragment-state';
import { hashTagOf } from './fragment-key';
import {
  CLAIM_SCRIPT,
  COMPLETE_SCRIPT,
  COUNT_SCRIPT,
  FAIL_SCRIPT,
  INVALIDATE_SCRIPT,
  MARK_READ_SCRIPT,
  RELEASE_SCRIPT,
  RESOLVE_SCRIPT,
} from './fragment-store.scripts';
import type { BuildLane } from './fragment-job';
import { lsnFromSortable, sortableLsn } from './lsn';
import type { RedisClient } from './redis-clients';
import { FRAGMENT_CLOCK, FRAGMENT_REDIS } from './fragment.tokens';

/** One fragment as read from Redis. */
export interface StoredFragment {
  readonly status: FragmentStatus;
  readonly dataJson?: string;
  readonly builtAt?: string;
  /** The generation of the build that wrote `dataJson` (what its `ready` event carried). */
  readonly dataGeneration?: number;
  readonly error?: string;
  readonly errorCode?: string;
  /**
   * Until the state changes by time alone: ready, its ttl; otherwise the later of the build leases
   * (queued, running) and the failure (failed: when a retry is allowed); 0 when nothing is under way.
   */
  readonly waitMs: number;
  /** The generation this call leased or promoted (0: none): the caller must enqueue it. */
  readonly takenGeneration: number;
  /** The lease was a background rebuild's; the caller enqueues the same generation as interactive. */
  readonly promoted: boolean;
  /** A build someone else queued and nobody claimed yet: its job should be in the queue. */
  readonly queued?: { readonly generation: number; readonly lane: BuildLane };
}

/** What an invalidation did to one copy. */
export type InvalidateResult =
  { readonly outcome: 'absent' | 'stale' } | { readonly outcome: 'rebuild'; readonly generation: number };

export interface StoreReadRequest {
  readonly key: string;
  readonly leaseMs: number;
}

/**
 * A fixed-window counter a read carries (a per-viewer rate limit), counted in the same script call
 * as the copies of its hash slot: the limit costs no round trip of its own. Both keys share a tag.
 */
export interface ReadCounter {
  readonly hitsKey: string;
  readonly blockedKey: string;
  readonly windowMs: number;
  readonly limit: number;
  /** How long a counter past its limit stays blocked. */
  readonly blockMs: number;
}

/** The counter after this request's hit. */
export interface ReadCount {
  readonly hits: number;
  readonly windowLeftMs: number;
  readonly blocked: boolean;
  readonly blockLeftMs: number;
}

/** A count that took hits ahead: `granted` of them, the request's own first. */
export type GrantedCount = ReadCount & { readonly granted: number };

/** A counted read: the copies, unless the counter was blocked (then nothing was read or leased). */
export type CountedRead =
  | { readonly count: ReadCount; readonly blocked: false; readonly fragments: StoredFragment[] }
  | { readonly count: ReadCount; readonly blocked: true };

/** A build to queue because of what a script found (a write overtook a build): same copy, new generation. */
export interface FollowUpBuild {
  readonly generation: number;
  readonly lane: BuildLane;
  /** Enqueue with this delay (a failed build's backoff); 0 for at once. */
  readonly delayMs: number;
}

export type ClaimResult =
  | { readonly outcome: 'claimed'; readonly generation: number; readonly minLsn?: string }
  | { readonly outcome: 'superseded'; readonly reason: 'busy' | 'taken' | 'fresh' };

export interface CompleteResult {
  /** `stale`: written, but a write landed after the build read; `followUp` rebuilds it. */
  readonly outcome: 'written' | 'stale' | 'discarded';
  readonly followUp?: FollowUpBuild;
}

export interface FailResult {
  /** `overtaken`: a write landed after the build read, so the failure is not recorded; see `followUp`. */
  readonly outcome: 'failed' | 'retrying' | 'overtaken' | 'ignored';
  readonly followUp?: FollowUpBuild;
  /** How long the failure is remembered (final failures). */
  readonly failedTtlMs?: number;
}

export interface FailureTiming {
  readonly final: boolean;
  /** Final: the failed ttl before growth (doubles per consecutive failure) ... */
  readonly failedTtlMs: number;
  /** ... up to this. */
  readonly failedTtlCapMs: number;
  /** Not final: how long the lease must cover the backoff and the next attempt. */
  readonly retryLeaseMs: number;
  /** Follow-up builds' lease. */
  readonly leaseMs: number;
  readonly activeWindowMs: number;
}

/** Build completion parameters beyond the data itself. */
export interface CompletionTiming {
  readonly ttlMs: number;
  readonly staleMs: number;
  readonly activeWindowMs: number;
  readonly leaseMs: number;
}

type ResolveRow = [number, string, string, string, string, number, number, number, number, string, number];
type CountRow = [number, number, number, number, number];
type ResolveReply = Array<ResolveRow | CountRow>;

interface FragmentCommands {
  fragmentResolve(numKeys: number, ...args: Array<string | number>): Promise<ResolveReply>;
  fragmentClaim(key: string, ...args: Array<string | number>): Promise<[number, string]>;
  fragmentInvalidate(numKeys: number, ...args: Array<string | number>): Promise<number[]>;
  fragmentComplete(key: string, ...args: Array<string | number>): Promise<[number, number, string]>;
  fragmentFail(key: string, ...args: Array<string | number>): Promise<[number, number, string, number]>;
  fragmentRelease(key: string, generation: number): Promise<number>;
  fragmentMarkRead(numKeys: number, ...args: Array<string | number>): Promise<number>;
  fragmentCount(
    hitsKey: string,
    blockedKey: string,
    windowMs: number,
    limit: number,
    blockMs: number,
    want: number,
  ): Promise<CountRow>;
}

/** Pins the scripts' clock (ms); returns 0 for Redis' own clock. Only the model-based test pins it. */
export type FragmentClock = () => number;

const NOT_COUNTED: ReadCount = { hits: 0, windowLeftMs: 0, blocked: false, blockLeftMs: 0 };
const STATUS: Record<number, FragmentStatus> = { 1: 'ready', 2: 'stale', 3: 'pending', 4: 'failed' };
const LANE: Record<string, BuildLane> = { i: 'interactive', b: 'background' };
const LANE_CODE: Record<BuildLane, string> = { interactive: 'i', background: 'b' };

/**
 * The Redis side of the engine. Every method is one script call per hash slot (EVALSHA, loaded on
 * first use by ioredis); calls over several slots go out together, as one network wave. So every
 * state change of a copy is atomic across gateways and workers, on one Redis or a Redis Cluster.
 */
@Injectable()
export class FragmentStore {
  private readonly commands: FragmentCommands;
  private readonly now: FragmentClock;

  constructor(
    @Inject(FRAGMENT_REDIS) private readonly redis: RedisClient,
    @Optional() @Inject(FRAGMENT_CLOCK) clock?: FragmentClock,
  ) {
    this.commands = commandsOf(redis);
    this.now = clock ?? (() => 0);
  }

  /** Whether the connection is up; while it is not, every call fails at once (no offline queue). */
  connected(): boolean {
    return this.redis.status === 'ready';
  }

  /** Reads many fragments (one call per slot, in one wave); with `takeLeases`, leases every one that needs a build. */
  async read(requests: readonly StoreReadRequest[], takeLeases: boolean): Promise<StoredFragment[]> {
    const out = new Array<StoredFragment>(requests.length);
    await forEachSlot(requests, async (group) => {
      await this.readGroup(group, takeLeases, out);
    });
    return out;
  }

  /**
   * A client's read that counts `counter` first, in the script call of the copies that share its
   * slot (a viewer's page and rate limit: one call, one round trip). Blocked: nothing is read or
   * leased. Copies in other slots are read only once the counter has let the request through.
   */
  async readCounted(
    requests: readonly StoreReadRequest[],
    counter: ReadCounter,
    via?: RedisClient,
  ): Promise<CountedRead> {
    const out = new Array<StoredFragment>(requests.length);
    const tag = hashTagOf(counter.hitsKey) ?? `\0${counter.hitsKey}`;
    const groups = slotGroups(requests);
    const own = groups.get(tag) ?? [];
    groups.delete(tag);
    const commands = via ? commandsOf(via) : this.commands;
    const count = await this.readGroup(own, true, out, counter, commands);
    if (count.blocked) return { count, blocked: true };
    await Promise.all([...groups.values()].map((group) => this.readGroup(group, true, out, undefined, commands)));
    return { count, blocked: false, fragments: out };
  }

  /**
   * Counts `counter` alone: a request whose copies are served from the gateway's memory. With
   * `want` > 1 it asks for that many hits at once (COUNT_FUNCTION_LUA says how many it gets):
   * `granted` of them, the request's own included.
   */
  async count(counter: ReadCounter, want = 1): Promise<GrantedCount> {
    const [hits, windowLeftMs, blocked, blockLeftMs, granted] = await this.commands.fragmentCount(
      counter.hitsKey,
      counter.blockedKey,
      counter.windowMs,
      counter.limit,
      counter.blockMs,
      want,
    );
    return { hits, windowLeftMs, blocked: blocked === 1, blockLeftMs, granted };
  }

  private async readGroup(
    group: ReadonlyArray<{ item: StoreReadRequest; index: number }>,
    takeLeases: boolean,
    out: StoredFragment[],
    counter?: ReadCounter,
    commands = this.commands,
  ): Promise<ReadCount> {
    const args: Array<string | number> = group.map(({ item }) => item.key);
    if (counter) args.push(counter.hitsKey, counter.blockedKey);
    args.push(this.now(), takeLeases ? '1' : '0', counter ? '1' : '0');
    for (const { item } of group) args.push(item.leaseMs);
    if (counter) args.push(counter.windowMs, counter.limit, counter.blockMs);
    const reply = await commands.fragmentResolve(group.length + (counter ? 2 : 0), ...args);
    let count = NOT_COUNTED;
    if (counter) {
      const [hits, windowLeftMs, blocked, blockLeftMs] = reply.pop() as CountRow;
      count = { hits, windowLeftMs, blocked: blocked === 1, blockLeftMs };
      if (count.blocked) return count;
    }
    (reply as ResolveRow[]).forEach(
      ([status, data, builtAt, error, errorCode, waitMs, generation, promoted, queued, lane, dataGeneration], j) => {
        out[group[j].index] = {
          status: STATUS[status] ?? 'pending',
          dataJson: data === '' ? undefined : data,
          builtAt: builtAt === '' ? undefined : builtAt,
          dataGeneration: dataGeneration > 0 ? dataGeneration : undefined,
          error: error === '' ? undefined : error,
          errorCode: errorCode === '' ? undefined : errorCode,
          waitMs,
          takenGeneration: generation,
          promoted: promoted === 1,
          queued: queued > 0 ? { generation: queued, lane: LANE[lane] ?? 'interactive' } : undefined,
        };
      },
    );
    return count;
  }

  /** Job `jobId` (leased at some generation, on `lane`) starts building: it becomes the copy's running build, or is superseded. */
  async claim(key: string, jobId: string, leaseMs: number, lane: BuildLane): Promise<ClaimResult> {
    const [generation, detail] = await this.commands.fragmentClaim(key, this.now(), jobId, leaseMs, LANE_CODE[lane]);
    if (generation === 0) return { outcome: 'superseded', reason: detail as 'busy' | 'taken' | 'fresh' };
    return { outcome: 'claimed', generation, minLsn: detail === '' ? undefined : lsnFromSortable(detail) };
  }

  /**
   * Marks copies stale after a write (one call per slot); copies read within the active window come
   * back leased for a background rebuild the caller must enqueue. `lsn` is the write's position.
   */
  async invalidate(
    requests: readonly StoreReadRequest[],
    activeWindowMs: number,
    lsn?: string,
  ): Promise<InvalidateResult[]> {
    const out = new Array<InvalidateResult>(requests.length);
    const position = lsn === undefined ? '' : sortableLsn(lsn);
    await forEachSlot(requests, async (group) => {
      const args: Array<string | number> = group.map(({ item }) => item.key);
      args.push(this.now(), activeWindowMs, position);
      for (const { item } of group) args.push(item.leaseMs);
      const reply = await this.commands.fragmentInvalidate(group.length, ...args);
      reply.forEach((value, j) => {
        out[group[j].index] =
          value < 0
            ? { outcome: 'absent' }
            : value === 0
              ? { outcome: 'stale' }
              : { outcome: 'rebuild', generation: value };
      });
    });
    return out;
  }

  /** Writes a build's result (claimed at `generation`) unless a build that read later already wrote. */
  async complete(
    key: string,
    generation: number,
    jobId: string,
    dataJson: string,
    builtAt: string,
    timing: CompletionTiming,
  ): Promise<CompleteResult> {
    const [written, follow, lane] = await this.commands.fragmentComplete(
      key,
      this.now(),
      generation,
      jobId,
      dataJson,
      builtAt,
      timing.ttlMs,
      timing.staleMs,
      timing.activeWindowMs,
      timing.leaseMs,
    );
    const outcome = written === 1 ? 'written' : written === 2 ? 'stale' : 'discarded';
    return {
      outcome,
      followUp: follow > 0 ? { generation: follow, lane: LANE[lane] ?? 'background', delayMs: 0 } : undefined,
    };
  }

  /** Records a failed attempt of the running build claimed at `generation`. */
  async fail(
    key: string,
    generation: number,
    jobId: string,
    failure: { readonly message: string; readonly code: string },
    timing: FailureTiming,
    jitter = 0.75 + Math.random() * 0.5,
  ): Promise<FailResult> {
    const [result, follow, lane, delayMs] = await this.commands.fragmentFail(
      key,
      this.now(),
      generation,
      jobId,
      failure.message,
      failure.code,
      timing.final ? '1' : '0',
      timing.retryLeaseMs,
      timing.failedTtlMs,
      timing.failedTtlCapMs,
      jitter.toFixed(4),
      timing.activeWindowMs,
      timing.leaseMs,
    );
    const outcome = ({ 1: 'failed', 2: 'retrying', 3: 'overtaken' } as const)[result as 1 | 2 | 3] ?? 'ignored';
    return {
      outcome,
      followUp: follow > 0 ? { generation: follow, lane: LANE[lane] ?? 'background', delayMs } : undefined,
      failedTtlMs: outcome === 'failed' ? delayMs : undefined,
    };
  }

  /** The copy's running build, if any: the job building it and the generation it claimed. */
  async runningBuild(key: string): Promise<{ jobId: string; generation: number } | undefined> {
    const [generation, jobId] = await this.redis.hmget(key, 'c', 'cj');
    return generation && jobId ? { jobId, generation: Number(generation) } : undefined;
  }

  /** Gives back a queued lease whose job never made it into the queue. */
  async release(key: string, generation: number): Promise<boolean> {
    return (await this.commands.fragmentRelease(key, generation)) === 1;
  }

  /** Marks copies as read now (open streams watch them), so writes rebuild them at once. */
  async markRead(keys: readonly string[]): Promise<number> {
    const counts: number[] = [];
    await forEachSlot(
      keys.map((key) => ({ key })),
      async (group) => {
        counts.push(
          await this.commands.fragmentMarkRead(group.length, ...group.map(({ item }) => item.key), this.now()),
        );
      },
    );
    return counts.reduce((sum, count) => sum + count, 0);
  }
}

/**
 * Runs `call` once per group of items whose keys share a hash tag (so a group always fits one
 * Cluster slot), all groups at once: one network wave, however many slots a page spans.
 */
async function forEachSlot<T extends { readonly key: string }>(
  items: readonly T[],
  call: (group: Array<{ item: T; index: number }>) => Promise<void>,
): Promise<void> {
  if (items.length === 0) return;
  await Promise.all([...slotGroups(items).values()].map(call));
}

/** Items by hash tag, each with its index; an untagged key has a slot of its own, named by itself. */
function slotGroups<T extends { readonly key: string }>(
  items: readonly T[],
): Map<string, Array<{ item: T; index: number }>> {
  const groups = new Map<string, Array<{ item: T; index: number }>>();
  items.forEach((item, index) => {
    const tag = hashTagOf(item.key) ?? `\0${item.key}`;
    const group = groups.get(tag);
    if (group) group.push({ item, index });
    else groups.set(tag, [{ item, index }]);
  });
  return groups;
}

/** The client with the store's scripts defined on it (once per client: a client may serve several stores). */
function commandsOf(redis: RedisClient): FragmentCommands {
  const target = redis as unknown as Partial<FragmentCommands>;
  if (!target.fragmentResolve) defineCommands(redis);
  return redis as unknown as FragmentCommands;
}

function defineCommands(redis: RedisClient): void {
  redis.defineCommand('fragmentResolve', { lua: RESOLVE_SCRIPT });
  redis.defineCommand('fragmentClaim', { lua: CLAIM_SCRIPT, numberOfKeys: 1 });
  redis.defineCommand('fragmentComplete', { lua: COMPLETE_SCRIPT, numberOfKeys: 1 });
  redis.defineCommand('fragmentFail', { lua: FAIL_SCRIPT, numberOfKeys: 1 });
  redis.defineCommand('fragmentRelease', { lua: RELEASE_SCRIPT, numberOfKeys: 1 });
  redis.defineCommand('fragmentInvalidate', { lua: INVALIDATE_SCRIPT });
  redis.defineCommand('fragmentMarkRead', { lua: MARK_READ_SCRIPT });
  redis.defineCommand('fragmentCount', { lua: COUNT_SCRIPT, numberOfKeys: 2 });
}
