import { INVALIDATIONS_QUEUE } from '@worker-pattern/write-events';
import { FRAGMENTS, type FragmentName } from './fragments';

/**
 * Every long-running app the system deploys, in start order (the launcher gives consecutive ports
 * in this order). Read by the apps' root modules (their default port and concurrency), the launcher
 * (tools/lib/config.mjs, through apps.json, which a test keeps equal to this), the e2e and bench
 * stacks and the deploy checks (k8s, docker compose): an app missing from a manifest fails a check.
 */
export type AppKind = 'gateway' | 'fragment-worker' | 'invalidation-worker';

interface AppBase {
  readonly name: string;
  readonly kind: AppKind;
  /** The port the app listens on when PORT is not set. */
  readonly port: number;
}

export interface GatewayApp extends AppBase {
  readonly kind: 'gateway';
}

export interface WorkerAppEntry extends AppBase {
  readonly kind: 'fragment-worker' | 'invalidation-worker';
  /** The one Bull queue the worker consumes, and so scales on. */
  readonly queue: string;
  /** Jobs run side by side when WORKER_CONCURRENCY is not set. */
  readonly concurrency: number;
}

export interface FragmentWorkerApp extends WorkerAppEntry {
  readonly kind: 'fragment-worker';
  /** The one fragment it builds. */
  readonly fragment: FragmentName;
}

export type AppEntry = GatewayApp | WorkerAppEntry | FragmentWorkerApp;

export const APPS = {
  gateway: { name: 'gateway', kind: 'gateway', port: 3000 },
  'profile-worker': {
    name: 'profile-worker',
    kind: 'fragment-worker',
    port: 3001,
    fragment: 'profile',
    queue: FRAGMENTS.profile.queue,
    concurrency: 16,
  },
  'feed-worker': {
    name: 'feed-worker',
    kind: 'fragment-worker',
    port: 3002,
    fragment: 'feed',
    queue: FRAGMENTS.feed.queue,
    concurrency: 16,
  },
  'recommendations-worker': {
    name: 'recommendations-worker',
    kind: 'fragment-worker',
    port: 3003,
    fragment: 'recommendations',
    // Collaborative filtering is CPU- and query-heavy: fewer at once.
    queue: FRAGMENTS.recommendations.queue,
    concurrency: 4,
  },
  'invalidation-worker': {
    name: 'invalidation-worker',
    kind: 'invalidation-worker',
    port: 3004,
    queue: INVALIDATIONS_QUEUE,
    concurrency: 8,
  },
} as const satisfies Record<string, AppEntry>;

export type AppName = keyof typeof APPS;
export type FragmentWorkerName = {
  [N in AppName]: (typeof APPS)[N]['kind'] extends 'fragment-worker' ? N : never;
}[AppName];
export type WorkerName = { [N in AppName]: (typeof APPS)[N] extends WorkerAppEntry ? N : never }[AppName];

export const APP_LIST: readonly AppEntry[] = Object.values(APPS);
export const APP_NAMES = Object.keys(APPS) as AppName[];
export const FRAGMENT_WORKER_NAMES = APP_LIST.filter((a) => a.kind === 'fragment-worker').map(
  (a) => a.name,
) as FragmentWorkerName[];
export const WORKER_NAMES = APP_LIST.filter((a) => a.kind !== 'gateway').map((a) => a.name) as WorkerName[];

/** Every Bull queue a worker of the registry consumes. */
export const WORKER_QUEUE_NAMES: readonly string[] = [
  ...new Set(APP_LIST.flatMap((a) => ('queue' in a ? [a.queue] : []))),
];

/** A registered fragment no worker of APPS builds: must be none, or this file does not compile. */
type UnbuiltFragment = Exclude<FragmentName, (typeof APPS)[FragmentWorkerName]['fragment']>;
type AssertNone<T extends never> = T;
export type EveryFragmentHasAWorker = AssertNone<UnbuiltFragment>;

/** The app that builds each registered fragment. */
export const FRAGMENT_WORKERS = Object.fromEntries(
  APP_LIST.flatMap((a) => ('fragment' in a ? [[a.fragment, a.name]] : [])),
) as { readonly [F in FragmentName]: FragmentWorkerName };

// Each fragment is built by exactly one worker, from its own queue.
for (const name of Object.keys(FRAGMENTS) as FragmentName[]) {
  const workers = APP_LIST.filter((a) => 'fragment' in a && a.fragment === name);
  if (workers.length !== 1) throw new Error(`fragment "${name}" has ${workers.length} workers in APPS, not 1`);
}
