// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- cluster-key-slot ships no types: declared here for every project that compiles this file
/// <reference path="../cluster-key-slot.d.ts" />
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import calculateSlot = require('cluster-key-slot');
import { Cluster, type Redis } from 'ioredis';
import type { FragmentModuleOptions } from './fragment-options';
import { type FragmentState, ownBuffer, renderFragmentJson } from './fragment-state';
import { FRAGMENT_OPTIONS, FRAGMENT_REDIS } from './fragment.tokens';
import { clusterNodeEndpoint, type RedisAuth, type RedisClient, type RedisEndpoint } from './redis-clients';
import { TrackingLane } from './redis-tracking-lane';

/**
 * A copy served from memory goes back to Redis this often, so the resolve script marks it read as
 * it does for every read (at most every 5 s: the script's own interval).
 */
export const NEAR_CACHE_MARK_MS = 5000;

/** What a kept copy costs beyond its bytes (the entry, its Map slot, the Buffer's own object), roughly. */
const ENTRY_OVERHEAD_BYTES = 256;

/** A fresh copy kept in the gateway's memory. Times are this process's monotonic clock (performance.now()). */
export interface NearCopy {
  /** The copy as a client gets it: its ready `F` object, encoded once; the only copy of its data held. */
  readonly json: Buffer;
  /** The data, decoded from `json` when asked for (a page sends `json`, never this). */
  readonly dataJson: string;
  readonly builtAt?: string;
  readonly dataGeneration?: number;
  /** The copy's ttl counted from before the read that found it was sent: never later than Redis' own. */
  readonly freshUntil: number;
  /** From here the next request reads it from Redis again (which marks it read). */
  readonly markDue: number;
  readonly bytes: number;
}

/** Where a ready `F` object's data starts: `renderFragmentJson` writes the status, then the data. */
const READY_DATA_START = Buffer.byteLength('{"status":"ready","data":');

class KeptCopy implements NearCopy {
  constructor(
    readonly json: Buffer,
    private readonly dataEnd: number,
    readonly builtAt: string | undefined,
    readonly dataGeneration: number | undefined,
    readonly freshUntil: number,
    readonly markDue: number,
    readonly bytes: number,
  ) {}

  get dataJson(): string {
    return this.json.toString('utf8', READY_DATA_START, this.dataEnd);
  }
}

/** A kept copy as a request sees it: ready, sent from its `json`, its data decoded only if asked for. */
export class NearState implements FragmentState {
  readonly status = 'ready';
  readonly json: Buffer;
  readonly builtAt?: string;
  readonly generation?: number;

  constructor(
    private readonly copy: NearCopy,
    readonly recheckInMs: number,
  ) {
    this.json = copy.json;
    this.builtAt = copy.builtAt;
    this.generation = copy.dataGeneration;
  }

  get dataJson(): string {
    return this.copy.dataJson;
  }
}

/** A page body kept for the exact copies it was assembled from: their bytes, in the page's order. */
interface KeptBody {
  readonly parts: readonly Buffer[];
  readonly body: Buffer;
}

/** Where page bodies are kept: the near cache (`bodyOf`, `keepBody`). */
export type PageBodies = Pick<FragmentNearCache, 'bodyOf' | 'keepBody'>;

/** One read of copies sent on a tracked connection: what `keep` needs to tell whether a reply may be kept. */
export interface NearCacheTicket {
  readonly keys: readonly string[];
  /** Send the read on this connection (its reads are tracked). */
  readonly reader: Redis;
  readonly lane: TrackingLane;
  readonly epoch: number;
  readonly seq: number;
  readonly sentAt: number;
}

/**
 * The gateway's near cache: fresh copies in memory, dropped the moment Redis says they changed
 * (server-assisted client-side caching through a `TrackingLane` per server: one for a Redis or a
 * Sentinel's master, one per master of a Cluster). A warm page then costs Redis only its viewer's
 * rate-limit count, not the read of every copy through the resolve script.
 *
 * What keeps it honest:
 * - Copies are only kept from reads sent on a lane's tracked connection while that lane is armed.
 * - Any lane going down or coming up (a connection closing, an unanswered PING, a failover, a
 *   Cluster's slot map changing) or a flush clears everything and starts a new epoch: a reply of an
 *   earlier epoch is never kept.
 * - An invalidation can overtake the reply of a read sent before it (they travel on two
 *   connections): a key invalidated while a read of it is in flight is not kept from that read.
 * - A copy stays only while fresh by its own ttl (counted from before its read was sent) and at
 *   most `NEAR_CACHE_MARK_MS` without going back to Redis, where the read marks it.
 */
@Injectable()
export class FragmentNearCache implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(FragmentNearCache.name);
  private readonly copies = new Map<string, NearCopy>();
  /** Reads in flight per key, and the sequence number of an invalidation that came meanwhile. */
  private readonly loading = new Map<string, number>();
  private readonly invalidatedAt = new Map<string, number>();
  /** Lanes by server: `host:port` of each Cluster master, or one lane named '' for one server. */
  private readonly lanes = new Map<string, TrackingLane>();
  private readonly maxBytes: number;
  private bytes = 0;
  /** Page bodies by their first copy's bytes, with a budget of their own as large as the copies'. */
  private readonly bodies = new Map<Buffer, KeptBody>();
  private bodyBytes = 0;
  private readonly endpoint: RedisEndpoint;
  private readonly connectionName: string;
  private readonly listener = {
    invalidated: (message: unknown) => this.invalidate(message),
    changed: (lane: TrackingLane) => {
      this.clear();
      if (!lane.armed) this.refreshSlotsSoon();
    },
  };
  private refreshTimer?: NodeJS.Timeout;
  private seq = 0;
  private epoch = 0;
  private stopped = false;

  constructor(
    @Inject(FRAGMENT_OPTIONS) options: FragmentModuleOptions,
    @Inject(FRAGMENT_REDIS) private readonly redis: RedisClient,
  ) {
    this.maxBytes = options.nearCacheBytes ?? 0;
    this.endpoint = options.redis.cache;
    this.connectionName = `${options.connectionName ?? 'fragment'}:near-cache`;
  }

  /** Whether copies are being kept now: every lane is armed (a Cluster: one per master). */
  get active(): boolean {
    if (this.lanes.size === 0) return false;
    for (const lane of this.lanes.values()) if (!lane.armed) return false;
    return true;
  }

  get size(): number {
    return this.copies.size;
  }

  /** Roughly what the kept copies take in memory. */
  get sizeBytes(): number {
    return this.bytes;
  }

  async onModuleInit(): Promise<void> {
    if (this.maxBytes <= 0) return;
    const redis = this.redis;
    if (this.endpoint.kind === 'cluster' && redis instanceof Cluster) {
      const auth = this.endpoint.auth;
      // A new slot map may move slots between masters, or add and remove masters.
      redis.on('refresh', () => void this.followCluster(redis, auth));
      await this.followCluster(redis, auth);
      return;
    }
    const lane = new TrackingLane(this.endpoint, this.connectionName, this.listener);
    this.lanes.set('', lane);
    await lane.start();
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearTimeout(this.refreshTimer);
    for (const lane of this.lanes.values()) lane.stop();
    this.lanes.clear();
    this.clear();
  }

  /** The copies of `keys`, if every one is kept, fresh and not due for a read mark at `now`; else undefined. */
  lookup(keys: readonly string[], now: number): NearCopy[] | undefined {
    if (this.copies.size === 0) return undefined;
    const found = new Array<NearCopy>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const copy = this.copies.get(keys[i]);
      if (!copy || copy.freshUntil <= now || copy.markDue <= now) return undefined;
      found[i] = copy;
    }
    return found;
  }

  /**
   * Starts a read of `keys` (and of `alsoKeys`, e.g. a counter, which must be on the same server)
   * whose fresh copies may be kept: send it on `ticket.reader`. Undefined while their lane is not
   * armed, or when they span servers.
   */
  begin(keys: readonly string[], now: number, alsoKeys: readonly string[] = []): NearCacheTicket | undefined {
    const lane = this.laneOf([...keys, ...alsoKeys]);
    if (!lane?.armed) return undefined;
    for (const key of keys) this.loading.set(key, (this.loading.get(key) ?? 0) + 1);
    return { keys, reader: lane.tracked, lane, epoch: this.epoch, seq: this.seq, sentAt: now };
  }

  /** Keeps a fresh copy the ticket's read found, unless anything since says it may be out of date. */
  keep(
    ticket: NearCacheTicket,
    key: string,
    copy: { dataJson: string; builtAt?: string; dataGeneration?: number; freshMs: number },
  ): void {
    if (!ticket.lane.armed || ticket.epoch !== this.epoch) return;
    if ((this.invalidatedAt.get(key) ?? 0) > ticket.seq) return;
    const json = ownBuffer(renderFragmentJson({ status: 'ready', dataJson: copy.dataJson, builtAt: copy.builtAt }));
    const bytes = json.length + ENTRY_OVERHEAD_BYTES;
    this.drop(key);
    if (bytes > this.maxBytes) return;
    // Oldest first (Map keeps insertion order) until it fits.
    for (const oldest of this.copies.keys()) {
      if (this.bytes + bytes <= this.maxBytes) break;
      this.drop(oldest);
    }
    const dataEnd = READY_DATA_START + Buffer.byteLength(copy.dataJson);
    this.copies.set(
      key,
      new KeptCopy(
        json,
        dataEnd,
        copy.builtAt,
        copy.dataGeneration,
        ticket.sentAt + copy.freshMs,
        ticket.sentAt + NEAR_CACHE_MARK_MS,
        bytes,
      ),
    );
    this.bytes += bytes;
  }

  private drop(key: string): void {
    const copy = this.copies.get(key);
    if (!copy) return;
    this.copies.delete(key);
    this.bytes -= copy.bytes;
    this.dropBody(copy.json);
  }

  /**
   * The body of a page assembled wholly from kept copies, if one is kept for exactly `parts` (the
   * copies' `json`, in the page's order): the same copies again are answered with it as it is.
   */
  bodyOf(parts: readonly Buffer[]): Buffer | undefined {
    const kept = parts.length > 0 ? this.bodies.get(parts[0]) : undefined;
    if (!kept || kept.parts.length !== parts.length) return undefined;
    for (let i = 1; i < parts.length; i++) if (kept.parts[i] !== parts[i]) return undefined;
    return kept.body;
  }

  /**
   * Keeps a page's body for `parts`, by its first copy (replacing the body kept for that copy
   * before). Bodies have a budget of their own, as large as the copies' (`NEAR_CACHE_MAX_MB` again),
   * oldest dropped first; a body goes with its first copy, and all of them with a clear.
   */
  keepBody(parts: readonly Buffer[], body: Buffer): void {
    if (parts.length === 0) return;
    this.dropBody(parts[0]);
    if (body.length > this.maxBytes) return;
    for (const oldest of this.bodies.keys()) {
      if (this.bodyBytes + body.length <= this.maxBytes) break;
      this.dropBody(oldest);
    }
    this.bodies.set(parts[0], { parts: [...parts], body });
    this.bodyBytes += body.length;
  }

  /** Roughly what the kept page bodies take in memory. */
  get bodySizeBytes(): number {
    return this.bodyBytes;
  }

  private dropBody(first: Buffer): void {
    const kept = this.bodies.get(first);
    if (!kept) return;
    this.bodies.delete(first);
    this.bodyBytes -= kept.body.length;
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
      this.drop(key);
      if (this.loading.has(key)) this.invalidatedAt.set(key, ++this.seq);
    }
  }

  /** Forgets every copy; a read in flight now is not kept either. */
  private clear(): void {
    this.copies.clear();
    this.bytes = 0;
    this.bodies.clear();
    this.bodyBytes = 0;
    this.epoch++;
  }

  /** The lane of the server that holds every one of `keys`: the only one, or the Cluster master of their slot. */
  private laneOf(keys: readonly string[]): TrackingLane | undefined {
    const only = this.lanes.get('');
    if (only || !(this.redis instanceof Cluster) || keys.length === 0) return only;
    const slot = calculateSlot(keys[0]);
    for (let i = 1; i < keys.length; i++) if (calculateSlot(keys[i]) !== slot) return undefined;
    const master = this.redis.slots[slot]?.[0];
    return master === undefined ? undefined : this.lanes.get(master);
  }

  /**
   * A Cluster lane went down: its master may have failed over. The engine's connection refreshes
   * its slot map when one of its own commands fails, which may not happen soon; ask for it every
   * second until every lane is armed again.
   */
  private refreshSlotsSoon(): void {
    const cluster = this.redis;
    if (!(cluster instanceof Cluster) || this.refreshTimer || this.stopped) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      if (this.stopped || this.active) return;
      cluster.refreshSlotsCache(() => undefined);
      this.refreshSlotsSoon();
    }, 1000);
    this.refreshTimer.unref();
  }

  /** One lane per master of the Cluster's current slot map; lanes of servers no longer masters stop. */
  private async followCluster(cluster: Cluster, auth: RedisAuth): Promise<void> {
    if (this.stopped) return;
    const masters = new Set<string>();
    for (const owners of cluster.slots) if (owners?.[0]) masters.add(owners[0]);
    const started: Array<Promise<void>> = [];
    for (const [key, lane] of this.lanes) {
      if (masters.has(key)) continue;
      lane.stop();
      this.lanes.delete(key);
      this.clear();
    }
    for (const key of masters) {
      if (this.lanes.has(key)) continue;
      const at = key.lastIndexOf(':');
      const node = { host: key.slice(0, at), port: Number(key.slice(at + 1)) };
      const lane = new TrackingLane(clusterNodeEndpoint(auth, node), this.connectionName, this.listener);
      this.lanes.set(key, lane);
      started.push(lane.start());
    }
    if (started.length > 0) this.logger.log(`near cache tracking ${this.lanes.size} Cluster masters`);
    await Promise.all(started);
  }
}
