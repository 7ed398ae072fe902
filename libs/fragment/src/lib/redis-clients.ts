import { Logger } from '@nestjs/common';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { withTimeout } from './with-timeout';

const logger = new Logger('FragmentRedis');

/** A connection to one Redis (possibly Sentinel-managed) or to a Redis Cluster: the same command API. */
export type RedisClient = Redis | Cluster;

export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

export interface RedisAuth {
  readonly username?: string;
  readonly password?: string;
  readonly tls?: boolean;
  readonly db?: number;
}

/** Where one role's Redis is: one server (URL), a Cluster (seed nodes) or a Sentinel-managed master. */
export type RedisEndpoint =
  | { readonly kind: 'single'; readonly url: string }
  | { readonly kind: 'cluster'; readonly nodes: readonly RedisNode[]; readonly auth: RedisAuth }
  | {
      readonly kind: 'sentinel';
      readonly sentinels: readonly RedisNode[];
      readonly name: string;
      readonly auth: RedisAuth;
    };

/**
 * The two roles the engine gives Redis. `queue`: Bull's queues, which must never lose a key
 * (`maxmemory-policy noeviction`, persistence). `cache`: fragment copies, leases, readiness events,
 * rate-limit counters, which may be evicted (`allkeys-lru`): an evicted copy is rebuilt when asked for.
 */
export interface RedisTopology {
  readonly cache: RedisEndpoint;
  readonly queue: RedisEndpoint;
}

export type RedisRole = keyof RedisTopology;

/** What a connection is for, which decides how it behaves while Redis is unreachable. */
export type RedisPurpose =
  /** The engine's commands: no offline queue, so a request fails within milliseconds (503). */
  | 'command'
  /** Readiness events (sharded pub/sub); reconnects and resubscribes forever. */
  | 'subscriber'
  /** The near cache's invalidations: reconnects forever; its owner subscribes again itself (it needs its client id first). */
  | 'invalidations'
  /** Bull's connections: Bull requires its blocking and subscriber clients to retry forever. */
  | 'bull-client'
  | 'bull-subscriber'
  | 'bull-bclient';

export interface RedisEnv {
  readonly REDIS_URL: string;
  readonly REDIS_CLUSTER_NODES?: readonly RedisNode[];
  readonly REDIS_SENTINELS?: readonly RedisNode[];
  readonly REDIS_SENTINEL_NAME?: string;
  readonly QUEUE_REDIS_URL?: string;
  readonly CACHE_REDIS_URL?: string;
}

/** The Redis variables an engine process reads (their formats are validated by the app's env schema). */
export const REDIS_ENV_KEYS = [
  'REDIS_URL',
  'REDIS_CLUSTER_NODES',
  'REDIS_SENTINELS',
  'REDIS_SENTINEL_NAME',
  'QUEUE_REDIS_URL',
  'CACHE_REDIS_URL',
] as const;

/**
 * Which Redis each role uses, from the environment. One Cluster (`REDIS_CLUSTER_NODES`) or one
 * Sentinel-managed Redis (`REDIS_SENTINELS` + `REDIS_SENTINEL_NAME`; credentials, database and TLS
 * from `REDIS_URL`) carries every role; otherwise `QUEUE_REDIS_URL` and `CACHE_REDIS_URL` may split
 * the roles over two servers, each defaulting to `REDIS_URL`. Throws one message naming the conflict.
 */
export function redisTopologyFromEnv(env: RedisEnv): RedisTopology {
  const split = (['QUEUE_REDIS_URL', 'CACHE_REDIS_URL'] as const).filter((name) => env[name] !== undefined);
  const exclusive = (variable: string): void => {
    if (split.length > 0) {
      throw new Error(
        `${variable} runs every Redis role on one deployment; it cannot be combined with ${split.join(' and ')} (unset them)`,
      );
    }
  };
  if (env.REDIS_CLUSTER_NODES && env.REDIS_SENTINELS) {
    throw new Error(
      'REDIS_CLUSTER_NODES and REDIS_SENTINELS are both set: choose a Redis Cluster or Sentinel, not both',
    );
  }
  if (env.REDIS_CLUSTER_NODES) {
    exclusive('REDIS_CLUSTER_NODES');
    const endpoint: RedisEndpoint = { kind: 'cluster', nodes: env.REDIS_CLUSTER_NODES, auth: authOf(env.REDIS_URL) };
    return { cache: endpoint, queue: endpoint };
  }
  if (env.REDIS_SENTINELS || env.REDIS_SENTINEL_NAME) {
    if (!env.REDIS_SENTINELS || !env.REDIS_SENTINEL_NAME) {
      throw new Error('REDIS_SENTINELS and REDIS_SENTINEL_NAME go together: set both (or neither)');
    }
    exclusive('REDIS_SENTINELS');
    const endpoint: RedisEndpoint = {
      kind: 'sentinel',
      sentinels: env.REDIS_SENTINELS,
      name: env.REDIS_SENTINEL_NAME,
      auth: authOf(env.REDIS_URL),
    };
    return { cache: endpoint, queue: endpoint };
  }
  return {
    cache: { kind: 'single', url: env.CACHE_REDIS_URL ?? env.REDIS_URL },
    queue: { kind: 'single', url: env.QUEUE_REDIS_URL ?? env.REDIS_URL },
  };
}

/** Credentials, database and TLS of a `redis://` / `rediss://` URL (its host is not used). */
function authOf(url: string): RedisAuth {
  const parsed = new URL(url);
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  return {
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    tls: parsed.protocol === 'rediss:',
    db: Number.isInteger(db) ? db : 0,
  };
}

/** One node of a Cluster as a server of its own, with the Cluster's credentials, TLS and database. */
export function clusterNodeEndpoint(auth: RedisAuth, node: RedisNode): RedisEndpoint {
  const user = auth.username ? encodeURIComponent(auth.username) : '';
  const password = auth.password ? `:${encodeURIComponent(auth.password)}` : '';
  const credentials = user || password ? `${user}${password}@` : '';
  const host = node.host.includes(':') ? `[${node.host}]` : node.host;
  return {
    kind: 'single',
    url: `${auth.tls ? 'rediss' : 'redis'}://${credentials}${host}:${node.port}/${auth.db ?? 0}`,
  };
}

/** For log lines and errors: where a role's Redis is, without credentials. */
export function describeEndpoint(endpoint: RedisEndpoint): string {
  const nodes = (list: readonly RedisNode[]) => list.map((n) => `${n.host}:${n.port}`).join(',');
  switch (endpoint.kind) {
    case 'single':
      return endpoint.url.replace(/\/\/[^/@\s]*@/, '//***@');
    case 'cluster':
      return `Redis Cluster ${nodes(endpoint.nodes)}`;
    case 'sentinel':
      return `Sentinel master "${endpoint.name}" via ${nodes(endpoint.sentinels)}`;
  }
}

const RECONNECT = (attempt: number): number => Math.min(attempt * 200, 2000);

/** Per purpose: how a connection behaves while Redis is unreachable or failing over. */
function purposeOptions(purpose: RedisPurpose): RedisOptions {
  switch (purpose) {
    case 'command':
      return { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000 };
    case 'subscriber':
      return { maxRetriesPerRequest: null, connectTimeout: 2000 };
    case 'invalidations':
      // Nothing re-sent on a new connection: its owner asks its client id before subscribing again.
      return {
        maxRetriesPerRequest: null,
        connectTimeout: 2000,
        autoResubscribe: false,
        autoResendUnfulfilledCommands: false,
      };
    case 'bull-client':
      return {};
    case 'bull-subscriber':
    case 'bull-bclient':
      return { maxRetriesPerRequest: null, enableReadyCheck: false };
  }
}

/**
 * A connection for one role and purpose. All connections reconnect by themselves; a connection that
 * finds itself talking to a replica after a failover (`READONLY`) reconnects to the new master.
 * Engine connections start unconnected (`connectOrFail`); Bull's connect on their own.
 */
export function createRedisClient(endpoint: RedisEndpoint, name: string, purpose: RedisPurpose): RedisClient {
  const base: RedisOptions = {
    ...purposeOptions(purpose),
    connectionName: name,
    lazyConnect: purpose === 'command' || purpose === 'subscriber' || purpose === 'invalidations',
    retryStrategy: RECONNECT,
    reconnectOnError: (error) => /^READONLY/.test(error.message),
  };
  let client: RedisClient;
  switch (endpoint.kind) {
    case 'single':
      client = new Redis(endpoint.url, base);
      break;
    case 'sentinel':
      client = new Redis({
        ...base,
        ...nodeAuth(endpoint.auth),
        db: endpoint.auth.db,
        sentinels: endpoint.sentinels.map((n) => ({ host: n.host, port: n.port })),
        name: endpoint.name,
        // Sentinels usually share the data nodes' password in managed offerings; without one, none.
        sentinelPassword: endpoint.auth.password,
        // No failoverDetector: its Sentinel subscriptions can outlive disconnect() (a close during its
        // set-up leaves them reconnecting forever). A killed master drops the connection and a demoted
        // one answers READONLY; both reconnect through the Sentinels, which is all the detector adds.
        // A Sentinel busy with a failover must not hold a reconnect forever.
        sentinelCommandTimeout: 1000,
        sentinelRetryStrategy: RECONNECT,
      });
      break;
    case 'cluster': {
      const { enableOfflineQueue, lazyConnect, enableReadyCheck, ...redisOptions } = base;
      const options: ClusterOptions = {
        enableOfflineQueue: enableOfflineQueue ?? true,
        lazyConnect,
        enableReadyCheck: enableReadyCheck ?? true,
        redisOptions: { ...redisOptions, ...nodeAuth(endpoint.auth) },
        clusterRetryStrategy: RECONNECT,
        scaleReads: 'master',
        slotsRefreshTimeout: 2000,
        // While a failover promotes a replica: wait and follow the new slot map, a bounded number of times.
        retryDelayOnFailover: 200,
        retryDelayOnClusterDown: 200,
        retryDelayOnTryAgain: 100,
        maxRedirections: 16,
        // Readiness events travel on sharded channels: one subscriber per master that owns one.
        shardedSubscribers: purpose === 'subscriber',
      };
      client = new Cluster(
        endpoint.nodes.map((n) => ({ host: n.host, port: n.port })),
        options,
      );
      break;
    }
  }
  client.on('error', (error: Error) => logger.warn(`${name}: ${error.message}`));
  return client;
}

function nodeAuth(auth: RedisAuth): RedisOptions {
  return { username: auth.username, password: auth.password, tls: auth.tls ? {} : undefined };
}

const UNAVAILABLE_MESSAGE =
  /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|max retries per request|Command timed out|enableOfflineQueue|Cluster isn't ready|Too many Cluster redirections|Failed to refresh slots cache|None of (the )?startup nodes|All sentinels are unreachable|No sharded subscriber/i;
/** Reply errors that mean "this node cannot serve right now" (failover, full, loading), not a bug. */
const UNAVAILABLE_REPLY = /^(READONLY|LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|OOM|MOVED|ASK|BUSY|NOREPLICAS)\b/;

/**
 * Whether an error means "Redis cannot serve right now" — unreachable, failing over, full or still
 * loading — so the gateway answers 503 with Retry-After and recovers by itself, rather than a bug
 * (500). A command on a socket that is just closing fails before the client's status changes, so the
 * message is checked as well as the error's type.
 */
export function isRedisUnavailableError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (['MaxRetriesPerRequestError', 'ClusterAllFailedError'].includes(error.name)) return true;
  return UNAVAILABLE_MESSAGE.test(error.message) || UNAVAILABLE_REPLY.test(error.message);
}

/**
 * Start-up check: connect within `timeoutMs` and make sure the server can carry the engine (Redis 7
 * or later, for sharded pub/sub), or fail with one message naming the endpoint.
 */
export async function connectOrFail(client: RedisClient, endpoint: RedisEndpoint, timeoutMs: number): Promise<void> {
  const where = describeEndpoint(endpoint);
  try {
    await withTimeout(client.connect(), timeoutMs, `not reachable within ${timeoutMs} ms`);
    const version = /redis_version:(\d+)\.(\d+)/.exec(await client.info('server'));
    if (version && Number(version[1]) < 7) {
      throw new Error(`Redis ${version[1]}.${version[2]} found; the engine needs Redis 7 or later (sharded pub/sub)`);
    }
  } catch (error) {
    client.disconnect();
    throw new Error(`Redis (${where}): ${(error as Error).message}`, { cause: error });
  }
}

/** The servers behind a client: each master of a Cluster, else the one connection. */
function serversOf(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

/**
 * Says (as a warning) when a role's server has an eviction policy that contradicts the role: queues
 * need `noeviction` (an evicted job is lost work); a cache on a server of its own should evict
 * (`allkeys-lru`) rather than fail writes when full. Returns the warnings it logged.
 */
export async function checkEvictionPolicy(
  client: RedisClient,
  role: RedisRole,
  endpoint: RedisEndpoint,
  shared: boolean,
): Promise<string[]> {
  const warnings: string[] = [];
  for (const server of serversOf(client)) {
    const info = await server.info('memory').catch(() => '');
    const policy = /maxmemory_policy:(\S+)/.exec(info)?.[1];
    if (!policy) continue;
    const where = `${describeEndpoint(endpoint)}${client instanceof Cluster ? ` (${server.options.host}:${server.options.port})` : ''}`;
    if ((role === 'queue' || shared) && policy !== 'noeviction') {
      warnings.push(
        `the ${shared ? 'queue and cache' : 'queue'} Redis ${where} has maxmemory-policy ${policy}: when it fills up it can evict Bull's keys and lose jobs; set maxmemory-policy noeviction${shared ? ', or give the cache a Redis of its own (CACHE_REDIS_URL)' : ''}`,
      );
    } else if (role === 'cache' && !shared && policy === 'noeviction') {
      warnings.push(
        `the cache Redis ${where} has maxmemory-policy noeviction: when it fills up, page requests fail (503) instead of evicting old copies; set maxmemory-policy allkeys-lru`,
      );
    }
  }
  for (const warning of warnings) logger.warn(warning);
  return warnings;
}
