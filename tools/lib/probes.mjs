// Short-timeout reachability probes for Redis (ioredis) and Postgres (pg).
//
// A probe resolves, never rejects:
//   { ok: true }
//   { ok: false, reachable: false, reason }  nothing answered (refused, timed out, unknown host)
//   { ok: false, reachable: true,  reason }  a server answered but refused us (auth, TLS, ...)
import { maintenanceDatabaseUrl } from './config.mjs';

/** For errors and callbacks that are deliberately ignored. */
const ignore = () => undefined;

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'ENOENT', // unix socket path missing
  'EPIPE',
]);

/**
 * The error a probe's `check` throws when the server answered but is not in the state wanted
 * (cluster_state:fail, not streaming yet, ...): "reachable, not ok", with this message.
 */
export function checkFailed(message) {
  return Object.assign(new Error(message), { code: 'PROBE_CHECK' });
}

function describe(err) {
  if (!err) return 'unknown error';
  if (err instanceof AggregateError && err.errors?.length) return describe(err.errors[0]);
  return err.message || err.code || String(err);
}

/** Is this pg error a "nothing answered" rather than "a server answered and said no"? */
export function isPgUnreachable(err) {
  if (!err) return false;
  if (err.code === 'PROBE_CHECK') return false;
  if (err instanceof AggregateError) return err.errors.every(isPgUnreachable);
  if (NETWORK_CODES.has(err.code)) return true;
  const msg = String(err.message ?? '');
  return (
    err.code === 'PROBE_TIMEOUT' || /timeout expired|Connection terminated unexpectedly|connection timeout/i.test(msg)
  );
}

/** Is this ioredis error a "nothing answered"? Reply errors (NOAUTH, WRONGPASS) mean it did. */
export function isRedisUnreachable(err) {
  if (!err) return false;
  if (err.name === 'ReplyError' || err.code === 'PROBE_CHECK') return false;
  if (err instanceof AggregateError) return err.errors.every(isRedisUnreachable);
  if (NETWORK_CODES.has(err.code)) return true;
  return err.code === 'PROBE_TIMEOUT' || /Connection is closed|connect ETIMEDOUT|timeout/i.test(String(err.message));
}

function withDeadline(promise, ms, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => {
      const e = new Error(`${what} did not answer within ${ms} ms`);
      e.code = 'PROBE_TIMEOUT';
      reject(e);
    }, ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

let ioredisModule;
async function loadRedis() {
  ioredisModule ??= await import('ioredis');
  return ioredisModule.Redis ?? ioredisModule.default;
}

let pgModule;
async function loadPg() {
  pgModule ??= await import('pg');
  return pgModule.default ?? pgModule;
}

/**
 * Connects to Redis at `url` and sends PING, without retries; or, given `check`, runs that on
 * the connected client instead: what it returns is the result's `value`, what it throws makes
 * the result not ok (see checkFailed).
 */
export async function probeRedis(url, { timeoutMs = 1500, check } = {}) {
  const Redis = await loadRedis();
  let client;
  try {
    client = new Redis(url, {
      lazyConnect: true,
      connectTimeout: timeoutMs,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
      reconnectOnError: () => false,
      enableReadyCheck: false,
      connectionName: 'wp-start-probe',
    });
  } catch (err) {
    return { ok: false, reachable: false, reason: describe(err) };
  }
  // ioredis reports the socket error (ECONNREFUSED, ...) as an event and then rejects connect()
  // with a bare "Connection is closed."; keep the event's error, it says more.
  let socketError;
  client.on('error', (err) => {
    socketError ??= err;
  });
  try {
    const value = await withDeadline(
      (async () => {
        await client.connect();
        if (check) return check(client);
        const pong = await client.ping();
        if (pong !== 'PONG') throw Object.assign(new Error(`unexpected PING reply ${pong}`), { name: 'ReplyError' });
        return undefined;
      })(),
      timeoutMs + 500,
      'Redis',
    );
    return { ok: true, value };
  } catch (caught) {
    const err = socketError && /Connection is closed/i.test(String(caught?.message)) ? socketError : caught;
    return { ok: false, reachable: !isRedisUnreachable(err), reason: describe(err) };
  } finally {
    client.disconnect();
  }
}

/**
 * Connects to the server of `databaseUrl`, but to its `postgres` maintenance database (the
 * target database may not exist yet; db-cli creates it), and runs SELECT 1; or, given `check`,
 * runs that on the connected client instead (as in probeRedis).
 */
export async function probePostgres(databaseUrl, { timeoutMs = 1500, check } = {}) {
  const pg = await loadPg();
  let connectionString;
  try {
    connectionString = maintenanceDatabaseUrl(databaseUrl);
  } catch (err) {
    return { ok: false, reachable: false, reason: `invalid URL: ${describe(err)}` };
  }
  const client = new pg.Client({
    connectionString,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    application_name: 'wp-start-probe',
  });
  client.on('error', ignore);
  try {
    const value = await withDeadline(
      (async () => {
        await client.connect();
        if (check) return check(client);
        await client.query('SELECT 1');
        return undefined;
      })(),
      timeoutMs + 500,
      'Postgres',
    );
    return { ok: true, value };
  } catch (err) {
    return { ok: false, reachable: !isPgUnreachable(err), reason: describe(err) };
  } finally {
    client.end().catch(ignore);
  }
}

/** Probes repeatedly until ok, until `shouldStop()` says so, or until `timeoutMs` has passed. */
export async function waitUntilReachable(probe, { timeoutMs, intervalMs = 200, shouldStop = () => false }) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    if (shouldStop()) return { ok: false, reachable: false, reason: 'stopped', stopped: true };
    last = await probe();
    if (last.ok) return last;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return last ?? { ok: false, reachable: false, reason: 'timed out' };
}
