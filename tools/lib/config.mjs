// Where Redis and Postgres are expected, and URL helpers. Pure: everything comes in as arguments.
import { createRequire } from 'node:module';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/worker_pattern';
export const DEFAULT_PORT_BASE = 3000;
export const DEFAULT_STOP_TIMEOUT_MS = 30_000;

/**
 * The long-running apps, in start order, which is also their port order (see instances.mjs): the
 * app registry's JSON form (libs/registry/src/apps.json, which libs/registry/src/lib/apps.spec.ts
 * keeps equal to the typed registry the apps read), so a new app is launched without an edit here.
 */
export const APPS = createRequire(import.meta.url)('../../libs/registry/src/apps.json');
export const BUILD_PROJECTS = [...APPS.map((a) => a.name), 'db-cli'];

function nonEmpty(value) {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/**
 * Decides which URLs to probe and whether the user chose them. A URL the user set is never
 * replaced by a throwaway server; the WP_START_*_PROBE_URL test hooks only move the default.
 */
export function resolveServiceConfig(env) {
  const redisUrl = nonEmpty(env.REDIS_URL);
  const databaseUrl = nonEmpty(env.DATABASE_URL);
  return {
    redisClusterNodes: nonEmpty(env.REDIS_CLUSTER_NODES),
    redis: redisUrl
      ? { url: redisUrl, explicit: true }
      : { url: nonEmpty(env.WP_START_REDIS_PROBE_URL) ?? DEFAULT_REDIS_URL, explicit: false },
    database: databaseUrl
      ? { url: databaseUrl, explicit: true }
      : { url: nonEmpty(env.WP_START_DATABASE_PROBE_URL) ?? DEFAULT_DATABASE_URL, explicit: false },
  };
}

/**
 * `host:port,host:port` (REDIS_CLUSTER_NODES) → [{ host, port }]. Throws an Error naming the
 * entry that is not host:port.
 */
export function parseHostPorts(value) {
  return value.split(',').map((entry) => {
    const match = /^\s*([^\s:]+|\[[0-9a-fA-F:]+\]):(\d{1,5})\s*$/.exec(entry);
    const port = match ? Number(match[2]) : 0;
    if (!match || port < 1 || port > 65_535) throw new Error(`"${entry.trim()}" is not host:port`);
    return { host: match[1], port };
  });
}

/** Reads a positive integer from the environment, or returns the fallback; throws on garbage. */
export function intFromEnv(env, name, fallback, { min = 1, max = Number.MAX_SAFE_INTEGER } = {}) {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new Error(`${name} must be a whole number between ${min} and ${max}, got "${raw}"`);
  }
  return Number(raw);
}

/** Hides the password in a URL so it can be printed. Leaves unparsable input alone. */
export function redactUrl(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
  }
}

/** The same server, but its `postgres` maintenance database (the target may not exist yet). */
export function maintenanceDatabaseUrl(databaseUrl) {
  const u = new URL(databaseUrl);
  u.pathname = '/postgres';
  return u.toString();
}

/** The database name a Postgres URL points at (default: worker_pattern). */
export function databaseNameOf(databaseUrl) {
  try {
    const name = decodeURIComponent(new URL(databaseUrl).pathname.replace(/^\//, ''));
    return name || 'worker_pattern';
  } catch {
    return 'worker_pattern';
  }
}

export function localRedisUrl(port) {
  return `redis://127.0.0.1:${port}`;
}

export function localDatabaseUrl(port, database) {
  return `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

/** The db-cli steps the launcher runs, as argv arrays after `node <db-cli main.js>`. */
export function dbCliSteps(users) {
  const seed = ['seed', '--if-empty'];
  if (users !== undefined) seed.push('--users', String(users));
  return [['migrate'], seed];
}

export function formatDuration(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 9_950) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 59_500) return `${Math.round(ms / 1000)} s`;
  const total = Math.round(ms / 1000);
  return `${Math.floor(total / 60)} min ${total % 60} s`;
}
