import { Injectable, Logger, Optional } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import type { FragmentDefinition, FragmentRequestContext, RawFragmentParams } from './fragment-definition';
import { FragmentStoreUnavailableError } from './fragment-errors';
import { CountAllowances } from './count-allowances';
import { FragmentEnqueuer, type LeasedBuild } from './fragment-enqueuer';
import { type EventCopy, FragmentEvents } from './fragment-events';
import { FragmentLostJobs } from './fragment-lost-jobs';
import { FragmentRequestMetrics } from './fragment-metrics';
import { FragmentNearCache, type NearCacheTicket, type NearCopy, NearState } from './fragment-near-cache';
import { FragmentRetryAdvisor } from './fragment-retry-advisor';
import type { FragmentState } from './fragment-state';
import {
  type CountedRead,
  FragmentStore,
  type ReadCount,
  type ReadCounter,
  type StoredFragment,
} from './fragment-store';
import type { FragmentTarget } from './fragment-target';
import { FragmentTargets } from './fragment-targets';
import { isRedisUnavailableError } from './redis-clients';

export interface ResolveOptions {
  /** Wait up to this long for pending fragments before answering (0: answer at once). */
  readonly waitMs?: number;
  readonly requestId?: string;
}

/** A counted resolve: the states, unless the counter was blocked (then nothing was read or leased). */
export type CountedResolve =
  | { readonly count: ReadCount; readonly blocked: false; readonly states: FragmentState[] }
  | { readonly count: ReadCount; readonly blocked: true };

/** Reads of one copy for listeners: the one in flight, and at most one queued behind it. */
interface SettledReads {
  inFlight: Promise<FragmentState>;
  next?: Promise<FragmentState>;
}

/**
 * The gateway's read path: one Redis round trip (one script call per hash slot, sent together)
 * reads every fragment of a page and leases the missing ones, then one `add` (or `addBulk`) per
 * queue enqueues exactly those leases. No SQL, no builder.
 */
@Injectable()
export class FragmentResolver {
  private readonly logger = new Logger(FragmentResolver.name);
  private readonly settledReads = new Map<string, SettledReads>();
  /** Rate-limit hits taken ahead for pages served from the near cache. */
  private readonly allowances = new CountAllowances();

  constructor(
    private readonly store: FragmentStore,
    private readonly enqueuer: FragmentEnqueuer,
    private readonly events: FragmentEvents,
    private readonly metrics: FragmentRequestMetrics,
    private readonly advisor: FragmentRetryAdvisor,
    private readonly targets: FragmentTargets,
    private readonly lostJobs: FragmentLostJobs,
    @Optional() private readonly nearCache?: FragmentNearCache,
  ) {}

  /** Validates raw params for one fragment (throws `FragmentParamsError`) and derives its key. */
  target<P extends Record<string, unknown>>(
    definition: FragmentDefinition<P>,
    raw: RawFragmentParams,
    ctx: FragmentRequestContext,
  ): FragmentTarget<P> {
    return this.targets.of(definition, raw, ctx);
  }

  /**
   * Resolves fragments, enqueueing builds for the ones it leased. Redis not serving (down, failing
   * over, full) surfaces as `FragmentStoreUnavailableError`, so the HTTP layer answers 503, not 500.
   */
  async resolve(targets: readonly FragmentTarget[], options: ResolveOptions = {}): Promise<FragmentState[]> {
    try {
      return await this.resolveOrThrow(targets, options);
    } catch (error) {
      throw unavailableOr(error, this.store);
    }
  }

  /**
   * `resolve`, counting `counter` (a per-viewer rate limit) in the same script call as the copies
   * of its slot: a page and its viewer's limit in one round trip. Over the limit, nothing is read,
   * leased or enqueued.
   */
  async resolveCounted(
    targets: readonly FragmentTarget[],
    counter: ReadCounter,
    options: ResolveOptions = {},
  ): Promise<CountedResolve> {
    const keys = targets.map((t) => t.key);
    // The near cache's clock: monotonic, so a step of the wall clock cannot stretch a copy's ttl.
    const now = performance.now();
    // The engine's own connection down means Redis is away for this process: no page from memory either.
    const nearCache = this.store.connected() ? this.nearCache : undefined;
    const near = nearCache?.lookup(keys, now);
    if (near) return this.countNear(targets, near, counter, now);
    const ticket = nearCache?.begin(keys, now, [counter.hitsKey, counter.blockedKey]);
    try {
      const read = await this.readCountedVia(targets, counter, ticket);
      if (read.blocked) return read;
      if (ticket) this.keepFresh(ticket, read.fragments);
      return { count: read.count, blocked: false, states: await this.settle(targets, read.fragments, options) };
    } catch (error) {
      throw unavailableOr(error, this.store);
    } finally {
      if (ticket) this.nearCache?.end(ticket);
    }
  }

  /**
   * A counted read on the near cache's tracked connection (else the engine's own). On a Cluster
   * that connection is one master's: a slot that moved since the last slot map answers MOVED
   * before the script runs (nothing counted, nothing leased), and the read goes the usual way.
   */
  private async readCountedVia(
    targets: readonly FragmentTarget[],
    counter: ReadCounter,
    ticket: NearCacheTicket | undefined,
  ): Promise<CountedRead> {
    const requests = this.readRequests(targets);
    if (!ticket) return this.store.readCounted(requests, counter);
    try {
      return await this.store.readCounted(requests, counter, ticket.reader);
    } catch (error) {
      if (!/^(MOVED|ASK) /.test((error as Error).message)) throw error;
      return this.store.readCounted(requests, counter);
    }
  }

  /**
   * Every copy of the page is in the near cache: the request is counted from the hits this process
   * holds for its viewer (`CountAllowances`), else by Redis, which grants a few more ahead.
   */
  private async countNear(
    targets: readonly FragmentTarget[],
    near: NearCopy[],
    counter: ReadCounter,
    now: number,
  ): Promise<CountedResolve> {
    let count = this.allowances.take(counter, now);
    if (count) this.metrics.nearCacheCounts.inc({ where: 'memory' });
    else {
      try {
        count = await this.allowances.count(counter, now, (want) => this.store.count(counter, want));
      } catch (error) {
        throw unavailableOr(error, this.store);
      }
      this.metrics.nearCacheCounts.inc({ where: 'redis' });
    }
    if (count.blocked) return { count, blocked: true };
    const states = near.map((copy, i): FragmentState => {
      this.metrics.requests.inc({ fragment: targets[i].definition.name, status: 'ready' });
      return new NearState(copy, Math.max(1, copy.freshUntil - now));
    });
    this.metrics.nearCache.inc({ outcome: 'hit' });
    return { count, blocked: false, states };
  }

  /** Keeps the fresh copies a tracked read found (nothing leased: a leased copy was not fresh). */
  private keepFresh(ticket: NearCacheTicket, stored: readonly StoredFragment[]): void {
    this.metrics.nearCache.inc({ outcome: 'miss' });
    stored.forEach((s, i) => {
      if (s.status !== 'ready' || s.dataJson === undefined || s.takenGeneration > 0) return;
      this.nearCache?.keep(ticket, ticket.keys[i], {
        dataJson: s.dataJson,
        builtAt: s.builtAt,
        dataGeneration: s.dataGeneration,
        freshMs: s.waitMs,
      });
    });
  }

  private readRequests(targets: readonly FragmentTarget[]): Array<{ key: string; leaseMs: number }> {
    return targets.map((t) => ({ key: t.key, leaseMs: t.definition.leaseMs }));
  }

  private async resolveOrThrow(targets: readonly FragmentTarget[], options: ResolveOptions): Promise<FragmentState[]> {
    return this.settle(targets, await this.store.read(this.readRequests(targets), true), options);
  }

  /** Enqueues what the read leased, waits for pending copies if asked, and presents the states. */
  private async settle(
    targets: readonly FragmentTarget[],
    stored: StoredFragment[],
    options: ResolveOptions,
  ): Promise<FragmentState[]> {
    const leased: LeasedBuild[] = [];
    stored.forEach((s, i) => {
      if (s.takenGeneration > 0) leased.push({ target: targets[i], generation: s.takenGeneration });
      else if (s.status === 'pending' || s.status === 'stale') {
        this.metrics.suppressed.inc({ fragment: targets[i].definition.name });
        this.lostJobs.check(targets[i], s, options.requestId);
      }
    });
    if (leased.length > 0) await this.enqueue(leased, options.requestId);

    const waitMs = options.waitMs ?? 0;
    const final =
      waitMs > 0 && stored.some((s) => s.status === 'pending')
        ? await this.waitForPending(targets, stored, waitMs)
        : stored;

    return final.map((s, i) => {
      const name = targets[i].definition.name;
      this.metrics.requests.inc({ fragment: name, status: s.status });
      return this.present(targets[i].definition, s);
    });
  }

  /**
   * Reads one fragment without taking a lease, for listeners woken by its events. Reads of one key
   * share Redis calls: an event wakes every stream watching that key at once, and a thousand viewers
   * of one profile should cost one read, not a thousand. But a read already sent may predate the
   * event, so an event that arrives while one is in flight gets a read of its own after it (one
   * queued read serves every event that arrives meanwhile): no event is absorbed by an older read.
   */
  readSettled(target: FragmentTarget): Promise<FragmentState> {
    const reads = this.settledReads.get(target.key);
    if (!reads) return this.track(target.key, this.readOnce(target));
    reads.next ??= reads.inFlight.then(ignore, ignore).then(() => this.readOnce(target));
    return reads.next;
  }

  private track(key: string, read: Promise<FragmentState>): Promise<FragmentState> {
    const reads: SettledReads = { inFlight: read };
    this.settledReads.set(key, reads);
    const settled = (): void => {
      if (this.settledReads.get(key) !== reads) return;
      // The queued read starts now: it is the one in flight for events arriving from here on.
      if (reads.next) void this.track(key, reads.next);
      else this.settledReads.delete(key);
    };
    read.then(settled, settled);
    return read;
  }

  private async readOnce(target: FragmentTarget): Promise<FragmentState> {
    try {
      const [s] = await this.store.read([{ key: target.key, leaseMs: target.definition.leaseMs }], false);
      return this.present(
        target.definition,
        s ?? { status: 'pending', waitMs: 0, takenGeneration: 0, promoted: false },
      );
    } catch (error) {
      throw unavailableOr(error, this.store);
    }
  }

  private present(definition: FragmentDefinition, s: StoredFragment): FragmentState {
    switch (s.status) {
      case 'ready':
      case 'stale':
        return {
          status: s.status,
          dataJson: s.dataJson,
          builtAt: s.builtAt,
          generation: s.dataGeneration,
          recheckInMs: s.waitMs,
        };
      case 'pending':
        return { status: 'pending', retryAfterMs: this.advisor.retryAfterMs(definition), recheckInMs: s.waitMs };
      case 'failed':
        return {
          status: 'failed',
          retryAfterMs: s.waitMs,
          error: s.error,
          errorCode: s.errorCode,
          recheckInMs: s.waitMs,
        };
    }
  }

  private async enqueue(leased: LeasedBuild[], requestId: string | undefined): Promise<void> {
    try {
      await this.enqueuer.enqueue(leased, requestId);
      for (const { target } of leased) this.metrics.enqueues.inc({ fragment: target.definition.name });
    } catch (error) {
      // Give the leases back, or these fragments would look pending until the leases expire.
      await Promise.all(leased.map((b) => this.store.release(b.target.key, b.generation).catch(() => false)));
      this.logger.error(`enqueue failed, leases released: ${(error as Error).message}`);
      throw error;
    }
  }

  /**
   * Waits on readiness events (no polling) for the pending fragments, up to `waitMs`. Subscribes
   * first (and waits until Redis confirmed it), then reads again, so a build that finished in
   * between is never missed.
   */
  private async waitForPending(
    targets: readonly FragmentTarget[],
    stored: StoredFragment[],
    waitMs: number,
  ): Promise<StoredFragment[]> {
    const result = [...stored];
    const pending = new Map<string, number>();
    stored.forEach((s, i) => {
      if (s.status === 'pending') pending.set(targets[i].key, i);
    });
    const outstanding = new Set(pending.keys());
    const heard = new Set<string>();
    const settledOnRecheck = new Set<string>();
    /** The copy the last event of a key brought, if it brought one, and when: no read needed for it. */
    const copies = new Map<string, { copy: EventCopy; receivedAt: number }>();
    let wake: () => void = () => undefined;
    const woken = new Promise<void>((resolve) => {
      wake = resolve;
    });
    const subscriptions = [...pending.keys()].map((key) =>
      this.events.on(key, (event) => {
        // A write marking the copy stale settles nothing: keep waiting for its build.
        if (event.status === 'invalidated') return void copies.delete(key);
        if (event.copy) copies.set(key, { copy: event.copy, receivedAt: Date.now() });
        else copies.delete(key);
        heard.add(key);
        outstanding.delete(key);
        if (outstanding.size === 0) wake();
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.all(subscriptions.map((s) => s.ready));
      await this.reread(targets, pending, result);
      for (const [key, i] of pending) {
        if (result[i].status === 'pending') continue;
        outstanding.delete(key);
        settledOnRecheck.add(key);
      }
      if ([...pending.values()].some((i) => result[i].status === 'pending')) {
        // An event may already have come while that read was on its way (it read before the build
        // wrote): then there is nothing to wait for, only a read to make again.
        if (outstanding.size > 0) {
          await Promise.race([woken, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
        }
        // What is still pending is read again, unless its event brought the copy (newer than the
        // read that found it pending).
        const unread = new Map<string, number>();
        for (const [key, i] of pending) {
          if (result[i].status !== 'pending') continue;
          const brought = copies.get(key);
          // Still fresh now (the wait may have outlasted a short ttl): else a read says what it is.
          const left = brought ? brought.copy.freshMs - (Date.now() - brought.receivedAt) : 0;
          if (brought && left > 0) result[i] = storedFromCopy(brought.copy, left);
          else unread.set(key, i);
        }
        if (unread.size > 0) await this.reread(targets, unread, result);
      }
    } finally {
      clearTimeout(timer);
      for (const s of subscriptions) s.off();
    }
    for (const [key, i] of pending) {
      this.metrics.waits.inc({
        fragment: targets[i].definition.name,
        outcome: waitOutcome(key, result[i], heard, settledOnRecheck),
      });
    }
    return result;
  }

  private async reread(
    targets: readonly FragmentTarget[],
    indexes: Map<string, number>,
    into: StoredFragment[],
  ): Promise<void> {
    const order = [...indexes.values()];
    const fresh = await this.store.read(
      order.map((i) => ({ key: targets[i].key, leaseMs: targets[i].definition.leaseMs })),
      false,
    );
    fresh.forEach((s, j) => {
      into[order[j]] = s;
    });
  }
}

const ignore = (): void => undefined;

function storedFromCopy(copy: EventCopy, freshForMs: number): StoredFragment {
  return {
    status: 'ready',
    dataJson: copy.dataJson,
    builtAt: copy.builtAt,
    waitMs: freshForMs,
    takenGeneration: 0,
    promoted: false,
  };
}

/** Only Redis not serving means "unavailable"; anything else is a bug and stays a 500. */
function unavailableOr(error: unknown, store: FragmentStore): unknown {
  if (error instanceof FragmentStoreUnavailableError) return error;
  if (store.connected() && !isRedisUnavailableError(error)) return error;
  return new FragmentStoreUnavailableError(error);
}

/**
 * `event`: woken by the readiness event; `recheck`: settled between the first read and the
 * subscription; `timeout`: still pending at the deadline; `missed`: settled, but no event arrived
 * (a lost event: the final read still caught it).
 */
function waitOutcome(key: string, s: StoredFragment, heard: Set<string>, recheck: Set<string>): string {
  if (s.status === 'pending') return 'timeout';
  if (recheck.has(key)) return 'recheck';
  return heard.has(key) ? 'event' : 'missed';
}
