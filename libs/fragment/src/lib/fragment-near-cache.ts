import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { FragmentModuleOptions } from './fragment-options';
import { FRAGMENT_OPTIONS } from './fragment.tokens';
import { createRedisClient, describeEndpoint, type RedisEndpoint } from './redis-clients';
import { withTimeout } from './with-timeout';

/** Where Redis publishes invalidations for a client tracking in redirect mode (RESP2). */
const INVALIDATE_CHANNEL = '__redis__:invalidate';
/**
 * A copy served from memory goes back to Redis this often, so the resolve script marks it read as
 * it does for every read (at most every 5 s: the script's own interval).
 */
export const NEAR_CACHE_MARK_MS = 5000;
/** How often the invalidation connection must answer a PING, or the cache is dropped. */
const PING_EVERY_MS = 1000;

/** A fresh copy kept in the gateway's memory. Times are this process's clock. */
export interface NearCopy {
  readonly dataJson: string;
  readonly builtAt?: string;
  readonly dataGeneration?: number;
  /** The copy's ttl counted from before the read that found it was sent: never later than Redis' own. */
  readonly freshUntil: number;
  /** From here the next request reads it from Redis again (which marks it read). */
  readonly markDue: number;
}

/** One read of copies sent on the tracked connection: what `keep` needs to tell whether a reply may be kept. */
export interface NearCacheTicket {
  readonly keys: readonly string[];
  readonly reader: Redis;
  readonly epoch: number;
  readonly seq: number;
  readonly sentAt: number;
}

/**
 * The gateway's near cache: fresh copies in memory, dropped the moment Redis says they changed
 * (server-assisted client-side caching, `CLIENT TRACKING ... REDIRECT`). A warm page then costs
 * Redis only its viewer's rate-limit count, not the read of every copy through the resolve script.
 *
 * What keeps it honest:
 * - Copies are only kept from reads sent on the tracked connection, while tracking is confirmed on
 *   it and redirected to the invalidation connection of this process on the same server (checked by
 *   the subscriber's unique connection name, since client ids repeat across servers).
 * - Either connection dropping, a PING on the invalidation connection going unanswered, or a flush
 *   clears everything and starts a new epoch: a reply of an earlier epoch is never kept.
 * - An invalidation can overtake the reply of a read sent before it (they travel on two
 *   connections): a key invalidated while a read of it is in flight is not kept from that read.
 * - A copy stays only while fresh by its own ttl (counted from before its read was sent) and at
 *   most `NEAR_CACHE_MARK_MS` without going back to Redis, where the read marks it.
 * On a Redis Cluster it stays off: tracking is per node, and per-node pairs are not built.
 */
@Injectable()
export class FragmentNearCache implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(FragmentNearCache.name);
  private readonly copies = new Map<string, NearCopy>();
  /** Reads in flight per key, and the sequence number of an invalidation that came meanwhile. */
  private readonly loading = new Map<string, number>();
  private readonly invalidatedAt = new Map<string, number>();
  private readonly maxEntries: number;
  private readonly endpoint: RedisEndpoint;
  private readonly subscriberName: string;
  private readonly connectionName: string;
  private seq = 0;
  private epoch = 0;
  private armed = false;
  private arming = 0;
  private tracked?: Redis;
  private invalidations?: Redis;
  private subscriberId?: string;
  private pinger?: NodeJS.Timeout;
  private lastFailure?: string;

  constructor(@Inject(FRAGMENT_OPTIONS) options: FragmentModuleOptions) {
    this.maxEntries = options.nearCacheEntries ?? 0;
    this.endpoint = options.redis.cache;
    this.connectionName = `${options.connectionName ?? 'fragment'}:near-cache`;
    this.subscriberName = `${this.connectionName}-invalidations-${randomBytes(6).toString('hex')}`;
  }

  /** Whether copies are being kept and served now. */
  get active(): boolean {
    return this.armed;
  }

  get size(): number {
    return this.copies.size;
  }

  async onModuleInit(): Promise<void> {
    if (this.maxEntries <= 0) return;
    if (this.endpoint.kind === 'cluster') {
      this.logger.log('near cache off: Redis Cluster tracks per node, and per-node tracking is not built');
      return;
    }
    const tracked = createRedisClient(this.endpoint, this.connectionName, 'command') as Redis;
    const invalidations = createRedisClient(this.endpoint, this.subscriberName, 'invalidations') as Redis;
    this.tracked = tracked;
    this.invalidations = invalidations;
    tracked.on('close', () => this.disarm());
    invalidations.on('close', () => {
      this.subscriberId = undefined;
      this.disarm();
    });
    tracked.on('ready', () => void this.arm());
    invalidations.on('ready', () => void this.arm());
    invalidations.on('messageBuffer', (channel: Buffer, message: unknown) => {
      if (channel.toString() === INVALIDATE_CHANNEL) this.invalidate(message);
    });
    this.pinger = setInterval(() => void this.ping(), PING_EVERY_MS);
    this.pinger.unref();
    // Not connecting is not fatal: pages are read from Redis until both connections are up.
    await Promise.all([tracked.connect(), invalidations.connect()]).catch((error: Error) =>
      this.logger.warn(`near cache not started yet (${describeEndpoint(this.endpoint)}): ${error.message}`),
    );
  }

  onApplicationShutdown(): void {
    clearInterval(this.pinger);
    this.disarm();
    this.tracked?.disconnect();
    this.invalidations?.disconnect();
  }

  /** The copies of `keys`, if every one is kept, fresh and not due for a read mark at `now`; else undefined. */
  lookup(keys: readonly string[], now: number): NearCopy[] | undefined {
    if (!this.armed) return undefined;
    const found = new Array<NearCopy>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const copy = this.copies.get(keys[i]);
      if (!copy || copy.freshUntil <= now || copy.markDue <= now) return undefined;
      found[i] = copy;
    }
    return found;
  }

  /** Starts a read of `keys` whose fresh copies may be kept: send it on `ticket.reader`. Undefined while off. */
  begin(keys: readonly string[], now: number): NearCacheTicket | undefined {
    if (!this.armed || !this.tracked) return undefined;
    for (const key of keys) this.loading.set(key, (this.loading.get(key) ?? 0) + 1);
    return { keys, reader: this.tracked, epoch: this.epoch, seq: this.seq, sentAt: now };
  }

  /** Keeps a fresh copy the ticket's read found, unless anything since says it may be out of date. */
  keep(
    ticket: NearCacheTicket,
    key: string,
    copy: { dataJson: string; builtAt?: string; dataGeneration?: number; freshMs: number },
  ): void {
    if (!this.armed || ticket.epoch !== this.epoch) return;
    if ((this.invalidatedAt.get(key) ?? 0) > ticket.seq) return;
    if (this.copies.size >= this.maxEntries && !this.copies.has(key)) {
      // Oldest first: Map keeps insertion order.
      const oldest = this.copies.keys().next();
      if (!oldest.done) this.copies.delete(oldest.value);
    }
    this.copies.delete(key);
    this.copies.set(key, {
      dataJson: copy.dataJson,
      builtAt: copy.builtAt,
      dataGeneration: copy.dataGeneration,
      freshUntil: ticket.sentAt + copy.freshMs,
      markDue: ticket.sentAt + NEAR_CACHE_MARK_MS,
    });
  }

  /** The ticket's read has ended (answered or failed). */
  end(ticket: NearCacheTicket): void {
    for (const key of ticket.keys) {
      const left = (this.loading.get(key) ?? 1) - 1;
      if (left > 0) {
        this.loading.set(key, left);
      } else {
        this.loading.delete(key);
        this.invalidatedAt.delete(key);
      }
    }
  }

  /** An invalidation message: the keys that changed (Buffers), or nothing, for a flush of everything. */
  invalidate(message: unknown): void {
    if (!Array.isArray(message)) {
      this.clear();
      return;
    }
    for (const raw of message) {
      const key = String(raw);
      this.copies.delete(key);
      if (this.loading.has(key)) this.invalidatedAt.set(key, ++this.seq);
    }
  }

  /** Forgets every copy; a read in flight now is not kept either. */
  private clear(): void {
    this.copies.clear();
    this.epoch++;
  }

  private disarm(): void {
    this.arming++;
    this.armed = false;
    this.clear();
  }

  /** Turns tracking on once both connections are up: subscribe, check both are on one server, redirect. */
  private async arm(): Promise<void> {
    const attempt = ++this.arming;
    this.armed = false;
    this.clear();
    const { tracked, invalidations } = this;
    if (tracked?.status !== 'ready' || invalidations?.status !== 'ready') return;
    try {
      if (this.subscriberId === undefined) {
        const id = String(await invalidations.client('ID'));
        await invalidations.subscribe(INVALIDATE_CHANNEL);
        this.subscriberId = id;
      }
      const id = this.subscriberId;
      const listed = String(await tracked.call('CLIENT', 'LIST', 'ID', id));
      if (!listed.includes(`name=${this.subscriberName} `)) {
        throw new Error('the invalidation connection is on another server (a failover in progress?)');
      }
      await tracked.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', id);
      if (attempt !== this.arming) return;
      this.clear();
      this.armed = true;
      if (this.lastFailure) this.logger.log('near cache on again');
      this.lastFailure = undefined;
    } catch (error) {
      const message = (error as Error).message;
      if (message !== this.lastFailure) this.logger.warn(`near cache off: ${message}`);
      this.lastFailure = message;
      if (attempt === this.arming) setTimeout(() => void this.retry(attempt), PING_EVERY_MS).unref();
    }
  }

  private async retry(attempt: number): Promise<void> {
    if (attempt === this.arming && !this.armed) await this.arm();
  }

  /**
   * A connection can die without closing (a half-open socket): then invalidations stop coming while
   * copies are still served. An unanswered PING drops the cache and the connection, which reconnects.
   */
  private async ping(): Promise<void> {
    const invalidations = this.invalidations;
    if (!this.armed || !invalidations) return;
    try {
      await withTimeout(invalidations.ping(), PING_EVERY_MS, 'no answer to PING');
    } catch (error) {
      this.logger.warn(`near cache dropped: invalidation connection ${(error as Error).message}`);
      this.subscriberId = undefined;
      this.disarm();
      invalidations.disconnect(true);
    }
  }
}
