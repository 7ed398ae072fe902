import type { ClientBase } from 'pg';
import type { DataSource, EntityManager } from 'typeorm';

/**
 * Pooler-safe limits on the work a transaction may make Postgres do. Behind PgBouncer in transaction
 * mode a server connection belongs to a client for one transaction only, so nothing here uses
 * session state: the limits are `SET LOCAL` inside the transaction (gone at its end), and an abort
 * never cancels by backend pid (through a pooler that pid may be running someone else's query by
 * then). Instead:
 * - `statement_timeout` (local) makes the server itself stop a statement that outlives its budget;
 * - on an abort (a build timing out or handed back at shutdown) the connection is closed, and
 *   `client_connection_check_interval` (local) makes the server notice the closed socket and stop
 *   the statement within a second; through PgBouncer, the pooler closes its server connection when
 *   its client goes away mid-transaction, with the same effect.
 */

/** How often a running statement checks that its client is still there (after an abort closed it). */
export const CLIENT_CHECK_INTERVAL_MS = 1000;

/** Runs one statement of the transaction; rows come back as objects. */
export type SqlQuery = <R = Record<string, unknown>>(sql: string, params?: readonly unknown[]) => Promise<R[]>;

/** A connection checked out for one unit of work. `release(error)` closes it instead of pooling it. */
export interface DbSession {
  readonly client: ClientBase;
  release(error?: Error): void;
}

export interface BoundedTransactionOptions {
  /** Server-side cap on each statement (ms); 0 leaves the server's own `statement_timeout`. */
  readonly statementTimeoutMs: number;
  /** Aborting closes the connection (the server stops the statement) and rejects with the reason. */
  readonly signal?: AbortSignal;
  /** A read-only snapshot transaction (`REPEATABLE READ READ ONLY`): one view of the data for every statement. */
  readonly readOnly?: boolean;
}

/** The statements that open a bounded transaction, in one round trip. */
export function beginStatements(options: Pick<BoundedTransactionOptions, 'statementTimeoutMs' | 'readOnly'>): string {
  const { statementTimeoutMs, readOnly } = options;
  if (!Number.isInteger(statementTimeoutMs) || statementTimeoutMs < 0) {
    throw new Error(`statementTimeoutMs must be a non-negative integer, got ${statementTimeoutMs}`);
  }
  return [
    readOnly ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN',
    ...(statementTimeoutMs > 0 ? [`SET LOCAL statement_timeout = ${statementTimeoutMs}`] : []),
    `SET LOCAL client_connection_check_interval = ${CLIENT_CHECK_INTERVAL_MS}`,
  ].join('; ');
}

/**
 * Runs `work` in one transaction on `session` under `options`' limits, commits, and releases the
 * session (closing it when it may be unusable: after an abort or a connection error). On a failure
 * of `work` the transaction is rolled back and the failure rethrown.
 */
export async function runBoundedTransaction<T>(
  session: DbSession,
  options: BoundedTransactionOptions,
  work: (query: SqlQuery) => Promise<T>,
): Promise<T> {
  const { signal } = options;
  if (signal?.aborted) {
    session.release();
    throw signal.reason;
  }
  let released = false;
  const release = (error?: Error) => {
    if (released) return;
    released = true;
    session.release(error);
  };
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    if (!signal) return;
    onAbort = () => {
      // Closing the socket is the only pooler-safe way to stop the statement early.
      release(new Error('transaction aborted'));
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  const query: SqlQuery = async <R>(sql: string, params: readonly unknown[] = []) =>
    (await session.client.query(sql, [...params])).rows as R[];

  const transaction = async (): Promise<T> => {
    await session.client.query(beginStatements(options));
    let result: T;
    try {
      result = await work(query);
    } catch (error) {
      if (!released) await session.client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    await session.client.query('COMMIT');
    return result;
  };

  try {
    const result = await Promise.race([transaction(), aborted]);
    release();
    return result;
  } catch (error) {
    // After an abort the race already rejected with its reason; the closed connection's own error is noise.
    if (signal?.aborted) {
      release(new Error('transaction aborted'));
      throw signal.reason;
    }
    release(isConnectionUnusable(error) ? (error as Error) : undefined);
    throw error;
  } finally {
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

/** Errors after which the connection must not go back to the pool. */
function isConnectionUnusable(error: unknown): boolean {
  if (!(error instanceof Error)) return true;
  const code = (error as { code?: unknown }).code;
  // A server error with a SQLSTATE left the connection usable (ROLLBACK ran), except connection classes.
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code.startsWith('08') || code.startsWith('57P');
  return true;
}

/**
 * A TypeORM transaction (writes, the outbox relay) with each statement capped at
 * `statementTimeoutMs` by `SET LOCAL` (0: the server's own setting): the cap a connection
 * parameter used to give, in a form a transaction pooler allows.
 */
export function cappedTransaction<T>(
  dataSource: DataSource,
  statementTimeoutMs: number,
  work: (em: EntityManager) => Promise<T>,
): Promise<T> {
  return dataSource.transaction(async (em) => {
    if (statementTimeoutMs > 0) {
      await em.query(`SELECT set_config('statement_timeout', $1, true)`, [String(statementTimeoutMs)]);
    }
    return work(em);
  });
}
