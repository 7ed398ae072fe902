import { Logger } from '@nestjs/common';
import { Pool } from 'pg';
import type { DbSession } from '../bounded-transaction';
import { parseWalLsn } from '../wal-lsn';
import { DbReadMetrics } from './db-read.metrics';
import { probe, sessionFromPool } from './db-session';

/** A replica stopped answering while reads were running on it: they move elsewhere. */
export class ReplicaUnavailableError extends Error {
  constructor(replica: string, reason: string) {
    super(`${replica} unavailable: ${reason}`);
    this.name = 'ReplicaUnavailableError';
  }
}

export interface ReplicaMonitorOptions {
  readonly replicaUrls: readonly string[];
  /** Connections per replica. */
  readonly poolSize: number;
  readonly applicationName: string;
  readonly connectTimeoutMs: number;
  /** A replica further behind than this serves no reads. */
  readonly maxLagMs: number;
  /** How often every replica, and the primary's WAL position, is checked. */
  readonly checkIntervalMs: number;
  /** A check unanswered for this long marks the replica down. */
  readonly checkTimeoutMs: number;
  /** While reads wait for a replica to replay their write, replicas are polled this often. */
  readonly fencePollMs: number;
}

/** The primary's WAL position as of now (flushed, so a replica can have received it). */
export type PrimaryWalPosition = () => Promise<bigint>;

/** One streaming replica: its pool, and what the last check and polls saw. */
export class ReplicaNode {
  readonly pool: Pool;
  /** Serves reads: answered its last check, is a standby, lags within the bound. */
  up = false;
  /** The highest replay position seen (replay only moves forward on one server). */
  replayed?: bigint;
  lagMs = Number.POSITIVE_INFINITY;
  checking = false;
  private readonly running = new Set<(error: Error) => void>();

  constructor(
    readonly name: string,
    url: string,
    options: ReplicaMonitorOptions,
    logger: Logger,
  ) {
    this.pool = new Pool({
      connectionString: url,
      max: options.poolSize,
      connectionTimeoutMillis: options.connectTimeoutMs,
      application_name: options.applicationName,
    });
    // An idle connection dropping (the replica restarted) must not crash the process.
    this.pool.on('error', (error) => logger.warn(`${name}: idle connection lost: ${error.message}`));
  }

  connect(): Promise<DbSession> {
    return sessionFromPool(this.pool);
  }

  observeReplay(position: bigint): void {
    if (this.replayed === undefined || position > this.replayed) this.replayed = position;
  }

  /** Registers a read running here; `abort` is called if the replica goes down meanwhile. */
  track(abort: (error: Error) => void): () => void {
    this.running.add(abort);
    return () => this.running.delete(abort);
  }

  abortReads(error: Error): void {
    for (const abort of [...this.running]) abort(error);
  }
}

interface FenceWaiter {
  readonly minLsn: bigint;
  readonly exclude: ReadonlySet<ReplicaNode>;
  settle(replica: ReplicaNode | undefined): void;
}

interface WalSample {
  readonly at: number;
  readonly position: bigint;
}

/**
 * Health and lag of the replicas builders read from. Every `checkIntervalMs` it samples the
 * primary's WAL position (kept as a short history) and asks each replica whether it is a standby
 * and how far it has replayed. A replica's lag is how long the primary has had WAL the replica has
 * not replayed: now minus the time of the first sample beyond its replay position (0 when it has
 * replayed the newest). Measured this way an idle primary never makes a replica look behind, and a
 * replica cut off from its primary (receiving nothing) does.
 *
 * Reads that must see a write (a WAL position) wait here for a replica to replay it: while any
 * wait, the replicas are polled every `fencePollMs`, and a wait ends with the first replica seen at
 * or past the position, or with nothing at its deadline.
 */
export class ReplicaMonitor {
  private readonly logger = new Logger(ReplicaMonitor.name);
  readonly replicas: readonly ReplicaNode[];
  private readonly history: WalSample[] = [];
  private readonly waiters = new Set<FenceWaiter>();
  private timer?: NodeJS.Timeout;
  private pollTimer?: NodeJS.Timeout;
  private polling = false;
  private cycle?: Promise<void>;
  private next = 0;
  private stopped = false;

  constructor(
    private readonly options: ReplicaMonitorOptions,
    private readonly primaryPosition: PrimaryWalPosition,
    private readonly metrics: DbReadMetrics,
  ) {
    this.replicas = options.replicaUrls.map((url, i) => new ReplicaNode(`replica-${i + 1}`, url, options, this.logger));
    for (const replica of this.replicas) {
      metrics.replicaUp.set({ replica: replica.name }, 0);
    }
  }

  /** Starts checking (idempotent); the first check runs at once. */
  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => void this.check(), this.options.checkIntervalMs);
    this.timer.unref();
    void this.check();
  }

  /** Resolves once a full check has run (tests, and reads that start before the first one). */
  async checked(): Promise<void> {
    this.start();
    await (this.cycle ?? this.check());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.pollTimer);
    for (const waiter of [...this.waiters]) waiter.settle(undefined);
    await this.cycle?.catch(() => undefined);
    await Promise.all(this.replicas.map((replica) => replica.pool.end().catch(() => undefined)));
  }

  /** A replica serving reads, not in `exclude`, that has replayed `minLsn` if given; round robin. */
  pick(exclude: ReadonlySet<ReplicaNode>, minLsn?: bigint): ReplicaNode | undefined {
    const candidates = this.replicas.filter(
      (r) => r.up && !exclude.has(r) && (minLsn === undefined || (r.replayed !== undefined && r.replayed >= minLsn)),
    );
    if (candidates.length === 0) return undefined;
    this.next = (this.next + 1) % 1_000_000;
    return candidates[this.next % candidates.length];
  }

  anyUp(exclude: ReadonlySet<ReplicaNode>): boolean {
    return this.replicas.some((r) => r.up && !exclude.has(r));
  }

  /**
   * The first replica (serving reads, not excluded) seen to have replayed `minLsn` within `ms`, or
   * undefined: then the caller reads the primary.
   */
  waitForReplay(
    minLsn: bigint,
    ms: number,
    signal: AbortSignal,
    exclude: ReadonlySet<ReplicaNode>,
  ): Promise<ReplicaNode | undefined> {
    const ready = this.pick(exclude, minLsn);
    if (ready || ms <= 0 || signal.aborted || !this.anyUp(exclude)) return Promise.resolve(ready);
    return new Promise((resolve) => {
      const onAbort = () => waiter.settle(undefined);
      const timer = setTimeout(() => waiter.settle(undefined), ms);
      const waiter: FenceWaiter = {
        minLsn,
        exclude,
        settle: (replica) => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          this.waiters.delete(waiter);
          resolve(replica);
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
      this.pollReplay();
    });
  }

  /** A read on `replica` failed in a way that says the replica is gone: take it out until it answers again. */
  reportFailure(replica: ReplicaNode, error: Error): void {
    this.markDown(replica, error.message);
  }

  private check(): Promise<void> {
    if (this.cycle || this.stopped) return this.cycle ?? Promise.resolve();
    this.cycle = this.runCheck().finally(() => {
      this.cycle = undefined;
    });
    return this.cycle;
  }

  private async runCheck(): Promise<void> {
    try {
      this.record(await this.primaryPosition());
    } catch (error) {
      // Without new samples lag is measured against the last ones: replicas may serve while the primary is away.
      this.logger.debug(`primary WAL position unavailable: ${(error as Error).message}`);
    }
    await Promise.all(this.replicas.map((replica) => this.checkReplica(replica)));
    this.settleWaiters();
  }

  private record(position: bigint): void {
    const now = Date.now();
    this.history.push({ at: now, position });
    // Enough history to tell a lag just over the bound; the newest sample always stays.
    const keepFrom = now - this.options.maxLagMs - 2 * this.options.checkIntervalMs;
    while (this.history.length > 1 && (this.history[0]?.at ?? now) < keepFrom) this.history.shift();
  }

  /** Now minus the time the primary first had WAL beyond `replayed`; 0 when the replica has the newest sample. */
  private lagOf(replayed: bigint): number {
    const first = this.history.find((sample) => sample.position > replayed);
    return first ? Date.now() - first.at : 0;
  }

  private async checkReplica(replica: ReplicaNode): Promise<void> {
    // A check still hanging (a pooler holding the query for a dead server) has already marked it down.
    if (replica.checking) return;
    replica.checking = true;
    try {
      const [row] = await probe<{ standby: boolean; replayed: string | null }>(
        () => replica.connect(),
        'SELECT pg_is_in_recovery() AS standby, pg_last_wal_replay_lsn()::text AS replayed',
        [],
        this.options.checkTimeoutMs,
      );
      if (!row?.standby || !row.replayed) {
        this.markDown(
          replica,
          'not a standby (promoted, or not a replica at all): it cannot be told apart from a stale copy',
        );
        return;
      }
      const replayed = parseWalLsn(row.replayed);
      replica.observeReplay(replayed);
      if (this.history.length === 0) {
        this.markDown(replica, "the primary's WAL position is unknown, so its lag is too");
        return;
      }
      replica.lagMs = this.lagOf(replica.replayed ?? replayed);
      this.metrics.replicaLagSeconds.set({ replica: replica.name }, replica.lagMs / 1000);
      if (replica.lagMs > this.options.maxLagMs) {
        this.markDown(replica, `replay lag ${replica.lagMs} ms is over the ${this.options.maxLagMs} ms bound`, false);
      } else {
        this.markUp(replica);
      }
    } catch (error) {
      this.markDown(replica, `health check failed: ${(error as Error).message}`);
    } finally {
      replica.checking = false;
    }
  }

  private markUp(replica: ReplicaNode): void {
    if (!replica.up) this.logger.log(`${replica.name} serves reads (replay lag ${replica.lagMs} ms)`);
    replica.up = true;
    this.metrics.replicaUp.set({ replica: replica.name }, 1);
  }

  /** `unreachable`: reads running there are moved; a replica that merely lags keeps its snapshots. */
  private markDown(replica: ReplicaNode, reason: string, unreachable = true): void {
    if (replica.up) this.logger.warn(`${replica.name} serves no reads: ${reason}`);
    replica.up = false;
    this.metrics.replicaUp.set({ replica: replica.name }, 0);
    if (unreachable) replica.abortReads(new ReplicaUnavailableError(replica.name, reason));
    this.settleWaiters();
  }

  /** Polls every replica serving reads for its replay position, while any read waits for one. */
  private pollReplay(): void {
    if (this.polling || this.stopped) return;
    this.polling = true;
    clearTimeout(this.pollTimer);
    const candidates = this.replicas.filter((r) => r.up);
    void Promise.all(
      candidates.map(async (replica) => {
        try {
          const [row] = await probe<{ replayed: string | null }>(
            () => replica.connect(),
            'SELECT pg_last_wal_replay_lsn()::text AS replayed',
            [],
            this.options.checkTimeoutMs,
          );
          if (row?.replayed) replica.observeReplay(parseWalLsn(row.replayed));
        } catch {
          // The health check decides whether the replica is down.
        }
      }),
    ).finally(() => {
      this.polling = false;
      this.settleWaiters();
      if (this.waiters.size > 0 && !this.stopped) {
        this.pollTimer = setTimeout(() => this.pollReplay(), this.options.fencePollMs);
        this.pollTimer.unref();
      }
    });
  }

  private settleWaiters(): void {
    for (const waiter of [...this.waiters]) {
      const replica = this.pick(waiter.exclude, waiter.minLsn);
      if (replica) waiter.settle(replica);
      else if (!this.anyUp(waiter.exclude)) waiter.settle(undefined);
    }
  }
}
