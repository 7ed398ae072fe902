import { Client } from 'pg';

/** `"name"` with embedded quotes doubled: the only safe way to put a name into DDL. */
export function quoteIdentifier(name: string): string {
  if (name.length === 0 || name.includes('\0')) {
    throw new Error(`invalid SQL identifier ${JSON.stringify(name)}`);
  }
  return `"${name.replace(/"/g, '""')}"`;
}

/** The database a connection URL points at (`postgres://…/worker_pattern` → `worker_pattern`). */
export function databaseNameFromUrl(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!name) {
    throw new Error(`the database URL names no database: ${redactUrl(url)}`);
  }
  return name;
}

/** The same server and credentials, another database. */
export function urlForDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/** A URL fit for logs and error messages: the password never leaves the process. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) {
      parsed.password = '***';
    }
    return parsed.toString();
  } catch {
    return '<unparseable database URL>';
  }
}

/** Runs `fn` with a short-lived client on the server's maintenance database `postgres`. */
export async function withMaintenanceClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({
    connectionString: urlForDatabase(url, 'postgres'),
    application_name: 'worker-pattern-admin',
  });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * `duplicate_database`, or, when two CREATE DATABASE race past the existence check, a
 * `unique_violation` on the pg_database catalog itself.
 */
const ALREADY_EXISTS = new Set(['42P04', '23505']);

/**
 * Creates the database `url` points at unless it exists. Returns whether it created it. Safe to
 * race: losing to a concurrent creator counts as "exists".
 */
export async function ensureDatabaseExists(url: string): Promise<boolean> {
  const name = databaseNameFromUrl(url);
  return withMaintenanceClient(url, async (client) => {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) {
      return false;
    }
    try {
      await client.query(`CREATE DATABASE ${quoteIdentifier(name)}`);
      return true;
    } catch (error) {
      if (isPgError(error) && ALREADY_EXISTS.has(error.code)) {
        return false;
      }
      throw error;
    }
  });
}

/** Drops the database `url` points at, disconnecting anyone still using it. */
export async function dropDatabase(url: string): Promise<void> {
  const name = databaseNameFromUrl(url);
  await withMaintenanceClient(url, (client) =>
    client.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`),
  );
}

function isPgError(error: unknown): error is Error & { code: string } {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'string';
}
