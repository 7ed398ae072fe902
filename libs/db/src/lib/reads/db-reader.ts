import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { type DbSession, runBoundedTransaction, type SqlQuery } from '../bounded-transaction';
import { CONNECT_TIMEOUT_MS, type ResolvedDbConnectionOptions } from '../data-source-options';
import { isDatabaseConnectionError } from '../lazy-data-source';
import { parseWalLsn } from '../wal-lsn';
import { DbReadMetrics } from './db-read.metrics';
import { connectUnlessAborted, probe, sessionFromDataSource } from './db-session';
import { type ReplicaMonitorOptions, ReplicaMonitor, ReplicaNode, ReplicaUnavailableError } from './replica-monitor';

/** What a read needs to know; a builder passes its `FragmentBuildContext` and its build timeout. */
export interface ReadContext {
  /** Aborted when the build times out or is handed back: the read stops, on the server too. */
  readonly signal: AbortSignal;
  /**
   * The WAL position (`X/Y`) of the newest write the data must include: a replica answers only once
   * it has replayed it. Unset: any replica that serves reads may answer.
   */
  readonly minLsn?: string;
  /** The whole read's budget (ms): no statement outlives what is left of it, on the server. */
  readonly timeoutMs: number;
}

/** Tuning the reader's replica checks; defaults fit production, tests shorten them. */
export type ReplicaCheckTuning = Partial<
  Pick<ReplicaMonitorOptions, 'checkIntervalMs' | 'checkTimeoutMs' | 'fencePollMs'>
>;

export const DEFAULT_REPLICA_CHECK_INTERVAL_MS = 1000;
export const DEFAULT_FENCE_POLL_MS = 10;

type FallbackReason = 'no_healthy_replica' | 'fence_timeout' | 'replica_failed';

/**
 * How builders read Postgres: one read-only snapshot transaction per build, on a streaming replica
 * when one can serve it, else on the primary. Writes, the outbox and migrations never come here.
 *
 * - Spread: reads go round robin over the replicas that answer their health checks and lag within
 *   `replicaMaxLagMs`; with none, to the primary.
 * - Freshness fence: a read with `minLsn` goes to a replica only once that replica has replayed
 *   the position, waiting up to `replicaWaitMs` for one; otherwise the primary answers. Replay only
 *   moves forward, and the snapshot is taken by the transaction's first statement, after the
 *   replica was seen at or past `minLsn`: the data always includes that write.
 * - Fall-back: a replica that fails mid-read (connection lost, recovery conflict, or declared down
 *   by its health check while the read hangs) is left out and the read runs again elsewhere.
 * - Pooler-safe: no session state, limits by `SET LOCAL` (see `runBoundedTransaction`).
 */
export class DbReader implements OnApplicationShutdown {
  private readonly logger = new Logger(DbReader.name);
  private readonly metrics = new DbReadMetrics();
  /** Undefined without replicas: every read goes to the primary. */
  readonly monitor?: ReplicaMonitor;

  constructor(
    private readonly primary: DataSource,
    private readonly options: Pick<
      ResolvedDbConnectionOptions,
      'replicaUrls' | 'poolSize' | 'applicationName' | 'replicaMaxLagMs' | 'replicaWaitMs' | 'statementTimeoutMs'
    >,
    tuning: ReplicaCheckTuning = {},
  ) {
    if (options.replicaUrls.length > 0) {
      const checkIntervalMs = tuning.checkIntervalMs ?? DEFAULT_REPLICA_CHECK_INTERVAL_MS;
      this.monitor = new ReplicaMonitor(
        {
          replicaUrls: options.replicaUrls,
          poolSize: options.poolSize,
          applicationName: options.applicationName,
          connectTimeoutMs: CONNECT_TIMEOUT_MS,
          maxLagMs: options.replicaMaxLagMs,
          checkIntervalMs,
          checkTimeoutMs: tuning.checkTimeoutMs ?? Math.max(checkIntervalMs, 1000),
          fencePollMs: tuning.fencePollMs ?? DEFAULT_FENCE_POLL_MS,
        },
        () => this.primaryWalPosition(),
        this.metrics,
      );
    }
  }

  /** A reader of the primary alone (no replicas), e.g. for a process wired by hand or a test. */
  static forPrimary(primary: DataSource, statementTimeoutMs = 0): DbReader {
    return new DbReader(primary, {
      replicaUrls: [],
      poolSize: 1,
      applicationName: 'worker-pattern',
      replicaMaxLagMs: 1,
      replicaWaitMs: 0,
      statementTimeoutMs,
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.monitor?.stop();
  }

  /**
   * Runs `work` (its statements through `query`) in one read-only transaction on a server that has
   * every write up to `ctx.minLsn`. `work` may run more than once (on another server after a
   * replica failed), so it must only read.
   */
  async read<T>(ctx: ReadContext, work: (query: SqlQuery) => Promise<T>): Promise<T> {
    ctx.signal.throwIfAborted();
    const deadline = Date.now() + ctx.timeoutMs;
    const minLsn = ctx.minLsn === undefined ? undefined : parseWalLsn(ctx.minLsn);
    const monitor = this.monitor;
    if (monitor) {
      monitor.start();
      const tried = new Set<ReplicaNode>();
      let reason: FallbackReason | undefined;
      for (;;) {
        const choice = await this.chooseReplica(monitor, minLsn, deadline, ctx.signal, tried);
        if (!choice.replica) {
          reason ??= choice.reason;
          break;
        }
        const replica = choice.replica;
        tried.add(replica);
        try {
          return await this.readOn(replica.name, () => replica.connect(), ctx.signal, deadline, work, replica);
        } catch (error) {
          if (ctx.signal.aborted || !isReplicaFailure(error)) throw error;
          if (!(error instanceof ReplicaUnavailableError) && isDatabaseConnectionError(error)) {
            monitor.reportFailure(replica, error as Error);
          }
          this.logger.warn(`read on ${replica.name} failed (${(error as Error).message}); reading elsewhere`);
          reason = 'replica_failed';
        }
      }
      this.metrics.fallbacks.inc({ reason });
    }
    return this.readOn('primary', () => sessionFromDataSource(this.primary), ctx.signal, deadline, work);
  }

  private async chooseReplica(
    monitor: ReplicaMonitor,
    minLsn: bigint | undefined,
    deadline: number,
    signal: AbortSignal,
    tried: ReadonlySet<ReplicaNode>,
  ): Promise<{ replica?: ReplicaNode; reason: FallbackReason }> {
    const ready = monitor.pick(tried, minLsn);
    if (ready) return { replica: ready, reason: 'no_healthy_replica' };
    if (minLsn === undefined || !monitor.anyUp(tried)) return { reason: 'no_healthy_replica' };
    const waitMs = Math.min(this.options.replicaWaitMs, deadline - Date.now());
    const stopTimer = this.metrics.fenceWaitSeconds.startTimer();
    const replica = await monitor.waitForReplay(minLsn, waitMs, signal, tried);
    signal.throwIfAborted();
    stopTimer({ outcome: replica ? 'replica' : 'timeout' });
    return { replica, reason: 'fence_timeout' };
  }

  private async readOn<T>(
    server: string,
    connect: () => Promise<DbSession>,
    signal: AbortSignal,
    deadline: number,
    work: (query: SqlQuery) => Promise<T>,
    replica?: ReplicaNode,
  ): Promise<T> {
    // A replica declared down while this read hangs on it aborts the read, so it can move on.
    const moved = new AbortController();
    const untrack = replica?.track((error) => moved.abort(error));
    const stop = AbortSignal.any([signal, moved.signal]);
    try {
      const session = await connectUnlessAborted(connect, stop);
      const left = deadline - Date.now();
      if (left <= 0) {
        session.release();
        throw new Error(`read budget used up before ${server} could answer`);
      }
      const cap = this.options.statementTimeoutMs;
      const statementTimeoutMs = Math.max(1, cap > 0 ? Math.min(cap, left) : left);
      const result = await runBoundedTransaction(session, { statementTimeoutMs, signal: stop, readOnly: true }, work);
      this.metrics.reads.inc({ server });
      return result;
    } finally {
      untrack?.();
    }
  }

  /** The primary's flushed WAL position: what a replica can have received. */
  private async primaryWalPosition(): Promise<bigint> {
    const [row] = await probe<{ position: string }>(
      () => sessionFromDataSource(this.primary),
      'SELECT pg_current_wal_flush_lsn()::text AS position',
      [],
      1000,
    );
    if (!row) throw new Error('no WAL position returned');
    return parseWalLsn(row.position);
  }
}

/** A failure of the replica rather than of the query: the read may run again on another server. */
function isReplicaFailure(error: unknown): boolean {
  if (error instanceof ReplicaUnavailableError || isDatabaseConnectionError(error)) return true;
  const code = (error as { code?: unknown }).code;
  // 40001 on a standby: "canceling statement due to conflict with recovery" (replay needed the rows);
  // 53300: the replica has no connection slot left.
  if (code === '40001' || code === '53300') return true;
  return error instanceof Error && /timeout exceeded when trying to connect/i.test(error.message);
}
