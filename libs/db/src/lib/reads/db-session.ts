import type { ClientBase, Pool } from 'pg';
import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import type { DbSession } from '../bounded-transaction';

/**
 * Wraps a pooled client for one unit of work: a second release (an abort racing the normal end) is
 * a no-op, and a connection that dies while checked out is closed rather than pooled. pg emits that
 * death as an `error` event on the client, which would crash the process without a listener; the
 * running query rejects with it anyway.
 */
function checkedOut(client: ClientBase, release: (error?: Error) => void): DbSession {
  let released = false;
  let broken: Error | undefined;
  const onError = (error: Error) => {
    broken = error;
  };
  client.on('error', onError);
  return {
    client,
    release(error?: Error) {
      if (released) return;
      released = true;
      client.removeListener('error', onError);
      release(error ?? broken);
    },
  };
}

/** A connection from a pg pool of our own (a replica's). */
export async function sessionFromPool(pool: Pool): Promise<DbSession> {
  const client = await pool.connect();
  return checkedOut(client, (error) => client.release(error ?? false));
}

/** A connection from TypeORM's pool for the primary: one pool per process, whoever reads. */
export async function sessionFromDataSource(dataSource: DataSource): Promise<DbSession> {
  const [client, release] = await (dataSource.driver as PostgresDriver).obtainMasterConnection();
  return checkedOut(client, (error) => release(error));
}

/**
 * `connect()`, unless `signal` aborts first: then rejects with its reason at once, and a connection
 * that arrives later is closed rather than leaked.
 */
export async function connectUnlessAborted(connect: () => Promise<DbSession>, signal: AbortSignal): Promise<DbSession> {
  signal.throwIfAborted();
  const connecting = connect();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([connecting, aborted]);
  } catch (error) {
    if (signal.aborted)
      void connecting.then(
        (session) => session.release(new Error('aborted while connecting')),
        () => undefined,
      );
    throw error;
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

/** One statement on its own (no transaction), given up after `timeoutMs`: the connection is then closed. */
export async function probe<R>(
  connect: () => Promise<DbSession>,
  sql: string,
  params: readonly unknown[],
  timeoutMs: number,
): Promise<R[]> {
  const signal = AbortSignal.timeout(timeoutMs);
  const session = await connectUnlessAborted(connect, signal);
  const onAbort = () => session.release(new Error(`no answer within ${timeoutMs} ms`));
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const { rows } = await session.client.query(sql, [...params]);
    session.release();
    return rows as R[];
  } catch (error) {
    session.release(error as Error);
    throw signal.aborted ? new Error(`no answer within ${timeoutMs} ms`) : error;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
