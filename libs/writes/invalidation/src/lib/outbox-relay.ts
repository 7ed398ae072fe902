import { InjectQueue } from '@nestjs/bull';
import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { cappedTransaction, DB_CONNECTION_OPTIONS, type ResolvedDbConnectionOptions } from '@worker-pattern/db';
import type { Queue } from 'bull';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import {
  INVALIDATE_JOB,
  INVALIDATION_JOB_OPTIONS,
  INVALIDATIONS_QUEUE,
  type InvalidationJobData,
  writeEventSchema,
} from './invalidation-jobs';

const BATCH = 200;
const SWEEP_MS = 1000;
const PRUNE_EVERY_MS = 3_600_000;
const RELISTEN_MS = 2000;

interface OutboxRow {
  id: string;
  payload: unknown;
  created_at: Date;
}

/** What the relay needs of the connection settings. */
export type OutboxRelayDbOptions = Pick<ResolvedDbConnectionOptions, 'statementTimeoutMs' | 'listenUrl'>;

/**
 * Moves committed outbox rows into the invalidations queue. Rows are claimed with
 * `FOR UPDATE SKIP LOCKED`, added to Bull with the id `outbox.<row id>` and stamped dispatched in the
 * same transaction: a crash before the stamp leaves the row to be relayed again, and the re-add of
 * an id Bull still holds is a no-op (invalidations are idempotent anyway). Replicas share the work.
 * Woken by the writers' NOTIFY, received on a connection of its own to `listenUrl` (LISTEN needs a
 * session, which a transaction pooler does not keep); a sweep every second covers notifications
 * missed while down, or never delivered through a pooler.
 *
 * Each job carries the batch's WAL position, the freshness fence of its rebuilds. It is
 * `pg_current_wal_insert_lsn()`, read after the SELECT that claimed the rows, and it is at or past
 * the commit of every write in the batch:
 * - the SELECT sees a row only if the transaction that inserted it is visible to its snapshot, and
 *   Postgres makes a transaction visible only after inserting its commit record into the WAL (with
 *   `synchronous_commit` on, after flushing it too);
 * - the insert position only grows, and it is read after that snapshot was taken, so it is at or
 *   past the end of each of those commit records. Not `pg_current_wal_lsn()` (the written position):
 *   with `synchronous_commit = off` a transaction is visible before its commit record is written.
 * A replica whose `pg_last_wal_replay_lsn()` is at or past the position has replayed every record up
 * to it, those commits included, so a snapshot it takes afterwards sees the writes. And the position
 * is reachable: this transaction's own UPDATE and COMMIT are WAL written after it, so a replica that
 * keeps replaying passes it even when nothing else is written.
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(OutboxRelay.name);
  private listener?: Client;
  private sweep?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  private lastPrune = 0;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectQueue(INVALIDATIONS_QUEUE) private readonly queue: Queue<InvalidationJobData>,
    @Inject(DB_CONNECTION_OPTIONS) private readonly db: OutboxRelayDbOptions,
  ) {}

  onApplicationBootstrap(): void {
    void this.listen();
    this.sweep = setInterval(() => this.kick(), SWEEP_MS);
    this.kick();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweep);
    await this.running;
    await this.listener?.end().catch(() => undefined);
  }

  /** Relays everything pending; a kick while a relay runs makes it go round once more. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .then(() => undefined)
      .catch((error: Error) => this.logger.warn(`outbox relay: ${error.message}`))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** One pass: relays batches until none is left. Returns the number of rows relayed. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const relayed = await this.relayBatch();
      total += relayed;
      if (relayed < BATCH || this.stopped) break;
    }
    if (Date.now() - this.lastPrune > PRUNE_EVERY_MS) await this.prune();
    return total;
  }

  private relayBatch(): Promise<number> {
    return cappedTransaction(this.dataSource, this.db.statementTimeoutMs, async (em) => {
      const rows = (await em.query(
        `SELECT id, payload, created_at FROM outbox WHERE dispatched_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [BATCH],
      )) as OutboxRow[];
      if (rows.length === 0) return 0;
      // In a statement of its own, after the snapshot that saw the rows (see the class comment).
      const [{ lsn }] = (await em.query(`SELECT pg_current_wal_insert_lsn()::text AS lsn`)) as [{ lsn: string }];
      const jobs = [];
      for (const row of rows) {
        const event = writeEventSchema.safeParse(row.payload);
        // A row we cannot read is stamped anyway, loudly: it would block nothing but clutter forever.
        if (!event.success) {
          this.logger.error(`outbox row ${row.id} has an unknown payload; skipped`);
          continue;
        }
        jobs.push({
          name: INVALIDATE_JOB,
          data: { outboxId: String(row.id), event: event.data, writtenAt: row.created_at.getTime(), lsn },
          opts: { jobId: `outbox.${row.id}`, ...INVALIDATION_JOB_OPTIONS },
        });
      }
      if (jobs.length > 0) await this.queue.addBulk(jobs);
      await em.query(`UPDATE outbox SET dispatched_at = now() WHERE id = ANY($1::bigint[])`, [rows.map((r) => r.id)]);
      return rows.length;
    });
  }

  /** Dispatched rows are history after a day. */
  private async prune(): Promise<void> {
    this.lastPrune = Date.now();
    await cappedTransaction(this.dataSource, this.db.statementTimeoutMs, (em) =>
      em.query(`DELETE FROM outbox WHERE dispatched_at < now() - interval '1 day'`),
    );
  }

  /**
   * LISTEN on a connection of its own to `listenUrl` (a pooled one cannot hold a subscription, nor
   * can any connection through a transaction pooler); reconnects.
   */
  private async listen(): Promise<void> {
    if (this.stopped) return;
    const client = new Client({ connectionString: this.db.listenUrl, application_name: 'outbox-relay' });
    let retried = false;
    const retry = (): void => {
      if (retried || this.stopped) return;
      retried = true;
      setTimeout(() => void this.listen(), RELISTEN_MS);
    };
    client.on('notification', () => this.kick());
    client.on('error', (error: Error) => this.logger.warn(`outbox listener: ${error.message}`));
    client.on('end', retry);
    try {
      await client.connect();
      await client.query('LISTEN outbox');
      this.listener = client;
      this.kick(); // rows committed while we were not listening
    } catch (error) {
      this.logger.warn(`outbox listener could not start: ${(error as Error).message}; retrying`);
      retry();
      await client.end().catch(() => undefined);
    }
  }
}
