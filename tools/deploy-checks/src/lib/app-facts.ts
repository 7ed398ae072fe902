import { readFileSync } from 'node:fs';
import { join } from 'node:path';
// The one place deploy-checks reads the apps' code: the manifests are checked against the real
// fragment definitions and the real environment validation, not against copies that could drift.
import { authOptionsFromEnv } from '@worker-pattern/auth';
import { DEFAULT_STATEMENT_TIMEOUT_MS } from '@worker-pattern/db';
import { gatewayEnvSchema } from '@worker-pattern/pages';
import type { FragmentDefinition } from '@worker-pattern/fragment';
import { type EnvDefaultValues, fanoutEnvSchema, managementPortDiffers, validateEnv } from '@worker-pattern/platform';
import {
  APP_NAMES,
  APPS,
  type AppName,
  FRAGMENT_WORKER_NAMES,
  FRAGMENTS,
  type FragmentWorkerName,
  WORKER_NAMES,
  type WorkerName,
} from '@worker-pattern/registry';
import { workerEnv, workerEnvDefaults } from '@worker-pattern/worker-host';
import type { z } from 'zod';
import { WORKSPACE_ROOT } from './k8s-docs';

/**
 * What the manifests must agree with, taken from the code itself rather than copied: the apps of
 * the registry (libs/registry/src/lib/apps.ts: each one's port, concurrency, queue and the fragment
 * it builds, which the apps' root modules read too), the fragments' build timeouts, the environment
 * schemas the apps validate at start, and what the root modules wire (the gateway's readiness and
 * database connection).
 */

/** Workers that build one fragment each, from that fragment's queue. */
export const FRAGMENT_WORKER_APPS: readonly FragmentWorkerName[] = FRAGMENT_WORKER_NAMES;
/** Every app that consumes a Bull queue of its own: the fragment workers and the invalidation worker. */
export const WORKER_APPS: readonly WorkerName[] = WORKER_NAMES;
/** Every long-running app of the registry, each deployed with an HTTP port. */
export const HTTP_APPS: readonly AppName[] = APP_NAMES;
export const ALL_APPS = [...HTTP_APPS, 'db-cli'] as const;

export type FragmentWorkerApp = FragmentWorkerName;
export type WorkerApp = WorkerName;
export type HttpApp = AppName;
export type App = HttpApp | 'db-cli';

export const PART_OF = 'worker-pattern';
export const NAMESPACE = 'worker-pattern';
export const SECRET_NAME = 'worker-pattern-secrets';

/** The one fragment each fragment worker builds (the registry's `fragment` of the app). */
export const WORKER_FRAGMENTS = Object.fromEntries(
  FRAGMENT_WORKER_APPS.map((app) => [app, FRAGMENTS[APPS[app].fragment] as unknown as FragmentDefinition]),
) as Readonly<Record<FragmentWorkerApp, FragmentDefinition>>;

/**
 * The one Bull queue each worker consumes, and so scales on: a fragment worker its fragment's queue;
 * the invalidation worker `invalidations` (it only produces to the fragment queues, for rebuilds).
 */
export const WORKER_QUEUES = Object.fromEntries(WORKER_APPS.map((app) => [app, APPS[app].queue])) as Readonly<
  Record<WorkerApp, string>
>;

export const LONGEST_BUILD_TIMEOUT_MS = Math.max(...Object.values(WORKER_FRAGMENTS).map((f) => f.buildTimeoutMs));

/**
 * Postgres connections a pod opens beyond its pool (DATABASE_POOL_SIZE): the invalidation worker's
 * outbox relay holds one of its own for `LISTEN outbox` (libs/writes/invalidation/src/lib/outbox-relay.ts).
 */
export const EXTRA_POSTGRES_CONNECTIONS: Readonly<Partial<Record<App, number>>> = { 'invalidation-worker': 1 };

export function isWorkerApp(app: string): app is WorkerApp {
  return (WORKER_APPS as readonly string[]).includes(app);
}

export function isFragmentWorkerApp(app: string): app is FragmentWorkerApp {
  return (FRAGMENT_WORKER_APPS as readonly string[]).includes(app);
}

/**
 * The longest one job of a worker may legitimately run, given its validated environment: what the
 * shutdown budget and Bull's lock must outlast. A fragment build is cut at its `buildTimeoutMs`. An
 * invalidation job is one Postgres query (the author's followers) plus Redis scripts, so Postgres'
 * `statement_timeout` (DATABASE_STATEMENT_TIMEOUT_MS) bounds it; 0 turns that off and leaves it
 * unbounded.
 */
export function longestJobMs(app: WorkerApp, parsed: ParsedAppEnv): { ms: number; what: string } {
  if (isFragmentWorkerApp(app)) return { ms: WORKER_FRAGMENTS[app].buildTimeoutMs, what: "its builds' buildTimeoutMs" };
  const statementTimeout = Number(parsed['DATABASE_STATEMENT_TIMEOUT_MS'] ?? DEFAULT_STATEMENT_TIMEOUT_MS);
  return {
    ms: statementTimeout > 0 ? statementTimeout : Infinity,
    what: 'DATABASE_STATEMENT_TIMEOUT_MS (its jobs run one query)',
  };
}

export function isApp(app: string): app is App {
  return (ALL_APPS as readonly string[]).includes(app);
}

export const PACKAGE_VERSION: string = JSON.parse(readFileSync(join(WORKSPACE_ROOT, 'package.json'), 'utf8')).version;

/** The environment schema each app validates at start (the gateway's is composed in its module). */
const gatewayEnv = gatewayEnvSchema;

export interface AppModuleDefaults {
  /** The registry's (libs/registry/src/lib/apps.ts), which the app's root module reads. */
  readonly port?: number;
  readonly concurrency?: number;
  /** Whether the app's /health/ready checks Postgres (`readiness: { …, postgres: true }`). */
  readonly readinessChecksPostgres: boolean;
  /**
   * Whether the app connects to Postgres lazily (`DbModule.forRootLazyAsync`, or the gateway's
   * `WritesModule.forRootLazy`, which wraps it): it starts without it.
   */
  readonly lazyDatabase: boolean;
}

export function appModuleSource(app: HttpApp): string {
  return readFileSync(join(WORKSPACE_ROOT, `apps/${app}/src/${app}.module.ts`), 'utf8');
}

/**
 * An app's defaults: its port and concurrency from the registry, and from its root module's source
 * what its readiness and its database connection depend on.
 */
export function appModuleDefaults(app: HttpApp, text = appModuleSource(app)): AppModuleDefaults {
  const entry = APPS[app];
  return {
    port: entry.port,
    concurrency: 'concurrency' in entry ? entry.concurrency : undefined,
    readinessChecksPostgres: /readiness:\s*\{[^}]*\bpostgres:\s*true/.test(text),
    lazyDatabase: /(DbModule\.forRootLazyAsync|WritesModule\.forRootLazy)\(/.test(text),
  };
}

/**
 * An app's root module must take its default port (and a worker its concurrency) from the registry,
 * or the manifests, checked against the registry, could disagree with what the app really listens
 * on: a worker passes its entry (`app: APPS['<app>']`) to WorkerHostModule, which reads both from it;
 * the gateway names `APPS.gateway.port`.
 */
export function registryDefaultsProblems(app: HttpApp, text = appModuleSource(app)): string[] {
  const entry = `APPS(\\.${app}|\\['${app}'\\])`;
  if (isWorkerApp(app)) {
    return new RegExp(`\\bapp:\\s*${entry}\\s*[,}]`).test(text)
      ? []
      : [
          `${app}: its root module does not pass its registry entry (app: APPS['${app}'], libs/registry) to WorkerHostModule`,
        ];
  }
  return new RegExp(`defaultPort:\\s*${entry}\\.port\\b`).test(text)
    ? []
    : [`${app}: its root module's defaultPort is not APPS['${app}'].port (libs/registry)`];
}

/**
 * Reads never need Postgres, writes do: the gateway gets DATABASE_URL for its write endpoints, but
 * it must start and stay in its Service while Postgres is down (it keeps answering pages from Redis).
 * That holds only if its readiness does not check Postgres and it connects lazily.
 */
export function gatewayReadPathProblems(text = appModuleSource('gateway')): string[] {
  const defaults = appModuleDefaults('gateway', text);
  const problems: string[] = [];
  if (defaults.readinessChecksPostgres) {
    problems.push(
      'gateway: /health/ready checks Postgres, so a Postgres outage would take every gateway out of its Service, though reads never need Postgres',
    );
  }
  if (!defaults.lazyDatabase)
    problems.push(
      'gateway: connects to Postgres eagerly (not WritesModule.forRootLazy / DbModule.forRootLazyAsync), so it could not start, and serve reads, while Postgres is down',
    );
  return problems;
}

/** Variables an app reads. db-cli reads process.env directly: DATABASE_URL and NODE_ENV. */
export function knownEnvNames(app: App): ReadonlySet<string> {
  if (app === 'db-cli') return new Set(['DATABASE_URL', 'NODE_ENV']);
  const schema: z.ZodObject = app === 'gateway' ? gatewayEnv : workerEnv;
  return new Set(Object.keys(schema.shape));
}

/**
 * Settings every worker must read with one value, from the shared worker ConfigMap (never a literal in
 * one Deployment): the invalidation worker pushes fan-out and the feed worker pulls on the same
 * celebrity threshold. Taken from the schema, so a new FANOUT_* setting is missed by no manifest.
 */
export const SHARED_WORKER_SETTINGS: readonly string[] = Object.keys(fanoutEnvSchema.shape);

export type ParsedAppEnv = Record<string, unknown>;

/**
 * Runs an environment through the app's own validation, with the app's own defaults, exactly as the
 * process would at start; throws the app's error message when it would refuse to start.
 */
export function validateAppEnv(app: App, env: Record<string, string>): ParsedAppEnv {
  if (app === 'db-cli') {
    if (!env['DATABASE_URL']) throw new Error('DATABASE_URL is required (db-cli would fall back to 127.0.0.1)');
    return { ...env };
  }
  const defaults = appModuleDefaults(app);
  const envDefaults: EnvDefaultValues = {
    ...(defaults.port === undefined ? {} : { PORT: defaults.port }),
    // A worker's pool default follows its concurrency (workerEnvDefaults), as in the app itself.
    ...(defaults.concurrency === undefined ? {} : workerEnvDefaults(defaults.concurrency)),
  };
  if (app === 'gateway') {
    // With the platform's own cross-variable rule, as PlatformModule applies it.
    const parsed = validateEnv(gatewayEnv.superRefine(managementPortDiffers), { env, defaults: envDefaults });
    // The gateway's own production rules: a real JWT secret, never dev login.
    authOptionsFromEnv(parsed);
    return parsed;
  }
  return validateEnv(workerEnv.superRefine(managementPortDiffers), { env, defaults: envDefaults });
}
