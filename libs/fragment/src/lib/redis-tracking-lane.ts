import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { createRedisClient, describeEndpoint, type RedisEndpoint } from './redis-clients';

/** Where Redis publishes invalidations for a client tracking in redirect mode (RESP2). */
const INVALIDATE_CHANNEL = '__redis__:invalidate';
/** How often both connections are PINGed; one unanswered for `LANE_DEAD_MS` takes the lane down. */
export const LANE_PING_MS = 1000;
const LANE_DEAD_MS = 3 * LANE_PING_MS;

/** What a lane tells its owner. */
export interface LaneListener {
  /** An invalidation message: the keys that changed (Buffers), or nothing, for a flush of everything. */
  invalidated(message: unknown): void;
  /** The lane stopped tracking (a connection closed, a PING went unanswered) or started again. */
  changed(lane: TrackingLane): void;
}

/**
 * Server-assisted client-side caching with one server (a Redis, a Sentinel's master, a Cluster
 * master): a connection whose reads Redis tracks (`tracked`), redirecting its invalidations to a
 * subscriber of this process (`CLIENT TRACKING ON REDIRECT`, RESP2). `armed` is true only while
 * both are up, answer PINGs and tracking is confirmed; every change of it is reported, so the owner
 * can forget what it read before.
 */
export class TrackingLane {
  readonly tracked: Redis;
  private readonly invalidations: Redis;
  private readonly subscriberName: string;
  private readonly logger = new Logger(TrackingLane.name);
  private armedNow = false;
  private arming = 0;
  private attempts = Promise.resolve();
  /** The subscriber's client id on its current connection (cleared when that connection closes). */
  private subscriberId?: string;
  /** Counts the subscriber's connections: an id answered on an earlier one is not kept. */
  private subscriberConnection = 0;
  /** When the unanswered PING of each connection was sent (performance.now()). */
  private readonly pingSent = new Map<Redis, number>();
  private pinger?: NodeJS.Timeout;
  private lastFailure?: string;
  private stopped = false;

  constructor(
    private readonly endpoint: RedisEndpoint,
    connectionName: string,
    private readonly listener: LaneListener,
  ) {
    // Unique: client ids repeat across servers, names are how the tracked side recognises its subscriber.
    this.subscriberName = `${connectionName}-invalidations-${randomBytes(6).toString('hex')}`;
    this.tracked = createRedisClient(endpoint, connectionName, 'command') as Redis;
    this.invalidations = createRedisClient(endpoint, this.subscriberName, 'invalidations') as Redis;
  }

  get armed(): boolean {
    return this.armedNow;
  }

  async start(): Promise<void> {
    const { tracked, invalidations } = this;
    tracked.on('close', () => this.disarm());
    invalidations.on('close', () => {
      // A CLIENT ID answered before this close belongs to a connection that is gone.
      this.subscriberConnection++;
      this.subscriberId = undefined;
      this.disarm();
    });
    tracked.on('ready', () => void this.arm());
    invalidations.on('ready', () => void this.arm());
    invalidations.on('messageBuffer', (channel: Buffer, message: unknown) => {
      if (channel.toString() === INVALIDATE_CHANNEL) this.listener.invalidated(message);
    });
    this.pinger = setInterval(() => this.checkAlive(), LANE_PING_MS);
    this.pinger.unref();
    // Not connecting is not fatal: the owner reads from Redis as before until the lane is armed.
    await Promise.all([tracked.connect(), invalidations.connect()]).catch((error: Error) =>
      this.logger.warn(`near cache not tracking ${describeEndpoint(this.endpoint)} yet: ${error.message}`),
    );
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.pinger);
    this.disarm();
    this.tracked.disconnect();
    this.invalidations.disconnect();
  }

  private setArmed(armed: boolean): void {
    if (this.armedNow === armed) return;
    this.armedNow = armed;
    this.listener.changed(this);
  }

  private disarm(): void {
    this.arming++;
    this.pingSent.clear();
    this.setArmed(false);
  }

  /**
   * Turns tracking on once both connections are up: subscribe, check both are on one server,
   * redirect. One attempt at a time (both connections' `ready` call it); a newer one supersedes it.
   */
  private arm(): Promise<void> {
    const attempt = ++this.arming;
    this.setArmed(false);
    this.attempts = this.attempts.then(() => this.armOnce(attempt));
    return this.attempts;
  }

  private async armOnce(attempt: number): Promise<void> {
    const { tracked, invalidations } = this;
    if (attempt !== this.arming || this.stopped) return;
    if (tracked.status !== 'ready' || invalidations.status !== 'ready') return;
    try {
      if (this.subscriberId === undefined) {
        const connection = this.subscriberConnection;
        const id = String(await invalidations.client('ID'));
        await invalidations.subscribe(INVALIDATE_CHANNEL);
        if (connection !== this.subscriberConnection) return;
        this.subscriberId = id;
      }
      const id = this.subscriberId;
      const listed = String(await tracked.call('CLIENT', 'LIST', 'ID', id));
      if (!listed.includes(`name=${this.subscriberName} `)) {
        // Start the subscriber afresh: its id is of another server (a failover) or of a connection gone.
        this.subscriberId = undefined;
        invalidations.disconnect(true);
        throw new Error('the invalidation connection is not on the tracked connection’s server');
      }
      await tracked.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', id);
      if (attempt !== this.arming || this.stopped) return;
      this.setArmed(true);
      if (this.lastFailure) this.logger.log(`near cache tracking ${describeEndpoint(this.endpoint)} again`);
      this.lastFailure = undefined;
    } catch (error) {
      if (this.stopped) return;
      const message = (error as Error).message;
      if (message !== this.lastFailure) {
        this.logger.warn(`near cache not tracking ${describeEndpoint(this.endpoint)}: ${message}`);
      }
      this.lastFailure = message;
      if (attempt === this.arming) setTimeout(() => void this.retry(attempt), LANE_PING_MS).unref();
    }
  }

  private async retry(attempt: number): Promise<void> {
    if (attempt === this.arming && !this.armedNow && !this.stopped) await this.arm();
  }

  /**
   * A connection can die without closing (a half-open socket): then invalidations stop coming, or
   * reads hang, while copies are still served. Each connection gets a PING a second; one unanswered
   * for 3 s takes the lane down and reconnects both. The verdict waits for one turn of the event
   * loop, so an answer already on the socket after a long pause of this process still counts.
   */
  private checkAlive(): void {
    if (!this.armedNow || this.stopped) return;
    const now = performance.now();
    for (const connection of [this.tracked, this.invalidations]) {
      const sent = this.pingSent.get(connection);
      if (sent === undefined) {
        this.pingSent.set(connection, now);
        connection.ping().then(
          () => this.pingSent.get(connection) === now && this.pingSent.delete(connection),
          () => undefined,
        );
      } else if (now - sent > LANE_DEAD_MS) {
        setImmediate(() => {
          if (this.stopped || this.pingSent.get(connection) !== sent) return;
          this.logger.warn(`near cache dropped: ${describeEndpoint(this.endpoint)} did not answer a PING for 3 s`);
          this.disarm();
          this.subscriberId = undefined;
          this.tracked.disconnect(true);
          this.invalidations.disconnect(true);
        });
      }
    }
  }
}
