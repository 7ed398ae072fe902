import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { FRAGMENT_SETTLED_PATTERN } from './fragment-key';
import type { FragmentStatus } from './fragment-state';
import {
  CLAIM_SCRIPT,
  COMPLETE_SCRIPT,
  FAIL_SCRIPT,
  INVALIDATE_SCRIPT,
  RELEASE_SCRIPT,
  RESOLVE_SCRIPT,
} from './fragment-store.scripts';
import { FRAGMENT_REDIS } from './fragment.tokens';

/** One fragment as read from Redis. */
export interface StoredFragment {
  readonly status: FragmentStatus;
  readonly dataJson?: string;
  readonly builtAt?: string;
  readonly error?: string;
  readonly errorCode?: string;
  /** Pending: lease time left; failed: time until a retry is allowed. */
  readonly waitMs: number;
  /** The generation this call leased or promoted (0: none): the caller must enqueue it. */
  readonly takenGeneration: number;
  /** The lease was a background rebuild's; the caller enqueues the same generation as interactive. */
  readonly promoted: boolean;
}

/** What an invalidation did to one copy. */
export type InvalidateResult =
  { readonly outcome: 'absent' | 'stale' } | { readonly outcome: 'rebuild'; readonly generation: number };

export interface StoreReadRequest {
  readonly key: string;
  readonly leaseMs: number;
}

export type ClaimResult = 'claimed' | 'superseded';
export type FailResult = 'failed' | 'retrying' | 'ignored';

type ResolveReply = Array<[number, string, string, string, string, number, number, number]>;

interface FragmentCommands {
  fragmentResolve(numKeys: number, ...args: Array<string | number>): Promise<ResolveReply>;
  fragmentClaim(key: string, generation: number, leaseMs: number, jobId: string): Promise<number>;
  fragmentInvalidate(numKeys: number, ...args: Array<string | number>): Promise<number[]>;
  fragmentComplete(key: string, ...args: Array<string | number>): Promise<number>;
  fragmentFail(key: string, ...args: Array<string | number>): Promise<number>;
  fragmentRelease(key: string, generation: number): Promise<number>;
}

const STATUS: Record<number, FragmentStatus> = { 1: 'ready', 2: 'stale', 3: 'pending', 4: 'failed' };

/**
 * The Redis side of the engine. Every method is one script call (EVALSHA, loaded on first use by
 * ioredis), so every state change of a fragment copy is atomic across gateways and workers.
 */
@Injectable()
export class FragmentStore {
  private readonly commands: FragmentCommands;
  private readonly channel = FRAGMENT_SETTLED_PATTERN;

  constructor(@Inject(FRAGMENT_REDIS) private readonly redis: Redis) {
    defineCommands(redis);
    this.commands = redis as unknown as FragmentCommands;
  }

  /** Whether the connection is up; while it is not, every call fails at once (no offline queue). */
  connected(): boolean {
    return this.redis.status === 'ready';
  }

  /** Reads many fragments in one round trip; with `takeLeases`, leases every one that needs a build. */
  async read(requests: readonly StoreReadRequest[], takeLeases: boolean): Promise<StoredFragment[]> {
    if (requests.length === 0) return [];
    const args: Array<string | number> = requests.map((r) => r.key);
    args.push(takeLeases ? '1' : '0');
    for (const r of requests) args.push(r.leaseMs);
    const reply = await this.commands.fragmentResolve(requests.length, ...args);
    return reply.map(([status, data, builtAt, error, errorCode, waitMs, generation, promoted]) => ({
      status: STATUS[status] ?? 'pending',
      dataJson: data === '' ? undefined : data,
      builtAt: builtAt === '' ? undefined : builtAt,
      error: error === '' ? undefined : error,
      errorCode: errorCode === '' ? undefined : errorCode,
      waitMs,
      takenGeneration: generation,
      promoted: promoted === 1,
    }));
  }

  /** Job `jobId` starts a build: renews the lease, or says the build is superseded. */
  async claim(key: string, generation: number, leaseMs: number, jobId: string): Promise<ClaimResult> {
    return (await this.commands.fragmentClaim(key, generation, leaseMs, jobId)) === 1 ? 'claimed' : 'superseded';
  }

  /**
   * Marks copies stale after a write (in one call for the batch); copies read within
   * `activeWindowMs` come back leased for a background rebuild the caller must enqueue.
   */
  async invalidate(requests: readonly StoreReadRequest[], activeWindowMs: number): Promise<InvalidateResult[]> {
    if (requests.length === 0) return [];
    const args: Array<string | number> = requests.map((r) => r.key);
    args.push(this.channel, activeWindowMs);
    for (const r of requests) args.push(r.leaseMs);
    const reply = await this.commands.fragmentInvalidate(requests.length, ...args);
    return reply.map((value) =>
      value < 0
        ? { outcome: 'absent' }
        : value === 0
          ? { outcome: 'stale' }
          : { outcome: 'rebuild', generation: value },
    );
  }

  /** Writes a build's result if nothing newer landed meanwhile; returns whether it was written. */
  async complete(
    key: string,
    generation: number,
    dataJson: string,
    builtAt: string,
    ttlMs: number,
    staleMs: number,
  ): Promise<boolean> {
    const written = await this.commands.fragmentComplete(
      key,
      generation,
      dataJson,
      builtAt,
      ttlMs,
      staleMs,
      this.channel,
    );
    return written === 1;
  }

  /** Records a failed attempt: final ones become `failed` for `failedTtlMs`; others keep the lease. */
  async fail(
    key: string,
    generation: number,
    failure: { readonly message: string; readonly code: string },
    final: boolean,
    failedTtlMs: number,
    retryLeaseMs: number,
  ): Promise<FailResult> {
    const result = await this.commands.fragmentFail(
      key,
      generation,
      failure.message,
      failure.code,
      final ? '1' : '0',
      failedTtlMs,
      retryLeaseMs,
      this.channel,
    );
    return result === 1 ? 'failed' : result === 2 ? 'retrying' : 'ignored';
  }

  /** Gives back a lease whose job never made it into the queue. */
  async release(key: string, generation: number): Promise<boolean> {
    return (await this.commands.fragmentRelease(key, generation)) === 1;
  }
}

function defineCommands(redis: Redis): void {
  // A Redis client may be shared by several stores (tests); define the commands once per client.
  const target = redis as unknown as Partial<FragmentCommands>;
  if (target.fragmentResolve) return;
  redis.defineCommand('fragmentResolve', { lua: RESOLVE_SCRIPT });
  redis.defineCommand('fragmentClaim', { lua: CLAIM_SCRIPT, numberOfKeys: 1 });
  redis.defineCommand('fragmentComplete', { lua: COMPLETE_SCRIPT, numberOfKeys: 1 });
  redis.defineCommand('fragmentFail', { lua: FAIL_SCRIPT, numberOfKeys: 1 });
  redis.defineCommand('fragmentRelease', { lua: RELEASE_SCRIPT, numberOfKeys: 1 });
  redis.defineCommand('fragmentInvalidate', { lua: INVALIDATE_SCRIPT });
}
