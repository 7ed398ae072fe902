import { DataSource } from 'typeorm';

/**
 * Runs a query that stops on the server when `signal` aborts. Without this a timed-out build's
 * query would keep a connection and a CPU busy until it finished on its own. Costs one extra round
 * trip (the backend pid), so use it for the heavy queries, not for primary-key lookups.
 */
export async function queryWithAbort<T>(
  dataSource: DataSource,
  signal: AbortSignal,
  sql: string,
  params: readonly unknown[] = [],
): Promise<T> {
  signal.throwIfAborted();
  const runner = dataSource.createQueryRunner();
  let cancelling: Promise<unknown> | undefined;
  try {
    const [{ pid }]: Array<{ pid: number }> = await runner.query('SELECT pg_backend_pid() AS pid');
    signal.throwIfAborted();
    // pg_cancel_backend runs on another pooled connection: this one is busy with the query.
    const cancel = () => {
      cancelling = dataSource.query('SELECT pg_cancel_backend($1)', [pid]).catch(() => undefined);
    };
    signal.addEventListener('abort', cancel, { once: true });
    try {
      return await runner.query(sql, [...params]);
    } catch (error) {
      // The server's "canceling statement due to user request" is our own abort: report it as such.
      signal.throwIfAborted();
      throw error;
    } finally {
      signal.removeEventListener('abort', cancel);
    }
  } finally {
    // A late cancel must land before this connection goes back to the pool and runs someone else's query.
    await cancelling;
    await runner.release();
  }
}
