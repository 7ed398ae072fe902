import { readFileSync } from 'node:fs';
import { join } from 'node:path';
// The one place deploy-checks reads the apps' code: the manifests are checked against the real
// fragment definitions and the real environment validation, not against copies that could drift.
// eslint.config.mjs has no depConstraint for type:tools yet (see docs/deploy.md, "Verification").
/* eslint-disable @nx/enforce-module-boundaries */
import { authEnvSchema, authOptionsFromEnv } from '@worker-pattern/auth';
import { feedFragment } from '@worker-pattern/feed';
import type { FragmentDefinition } from '@worker-pattern/fragment';
import { baseEnvSchema, type EnvDefaultValues, validateEnv } from '@worker-pattern/platform';
import { profileFragment } from '@worker-pattern/profile';
import { recommendationsFragment } from '@worker-pattern/recommendations';
import { workerEnv } from '@worker-pattern/worker-host';
/* eslint-enable @nx/enforce-module-boundaries */
import type { z } from 'zod';
import { WORKSPACE_ROOT } from './k8s-docs';

/**
 * What the manifests must agree with, taken from the code itself rather than copied: the fragment
 * each worker builds (its queue, its build timeout), the environment schemas the apps validate at
 * start, and the per-app defaults their root modules pass (port, concurrency).
 */

export const WORKER_APPS = ['profile-worker', 'feed-worker', 'recommendations-worker'] as const;
export const HTTP_APPS = ['gateway', ...WORKER_APPS] as const;
export const ALL_APPS = [...HTTP_APPS, 'db-cli'] as const;

export type WorkerApp = (typeof WORKER_APPS)[number];
export type HttpApp = (typeof HTTP_APPS)[number];
export type App = (typeof ALL_APPS)[number];

export const PART_OF = 'worker-pattern';
export const NAMESPACE = 'worker-pattern';
export const SECRET_NAME = 'worker-pattern-secrets';

/** The one fragment each worker process builds (apps/<worker>/src/<worker>.module.ts). */
export const WORKER_FRAGMENTS: Readonly<Record<WorkerApp, FragmentDefinition>> = {
  'profile-worker': profileFragment as unknown as FragmentDefinition,
  'feed-worker': feedFragment as unknown as FragmentDefinition,
  'recommendations-worker': recommendationsFragment as unknown as FragmentDefinition,
};

export const LONGEST_BUILD_TIMEOUT_MS = Math.max(...Object.values(WORKER_FRAGMENTS).map((f) => f.buildTimeoutMs));

export function isWorkerApp(app: string): app is WorkerApp {
  return (WORKER_APPS as readonly string[]).includes(app);
}

export function isApp(app: string): app is App {
  return (ALL_APPS as readonly string[]).includes(app);
}

export const PACKAGE_VERSION: string = JSON.parse(readFileSync(join(WORKSPACE_ROOT, 'package.json'), 'utf8')).version;

/** The environment schema each app validates at start (the gateway's is composed in its module). */
const gatewayEnv = baseEnvSchema.extend(authEnvSchema.shape);

export interface AppModuleDefaults {
  readonly port?: number;
  readonly concurrency?: number;
  /** The fragment identifier the module registers, e.g. `feedFragment`. */
  readonly fragment?: string;
}

/** Reads `defaultPort`, `defaultConcurrency` and `fragment:` from an app's root module source. */
export function appModuleDefaults(app: HttpApp): AppModuleDefaults {
  const text = readFileSync(join(WORKSPACE_ROOT, `apps/${app}/src/${app}.module.ts`), 'utf8');
  const num = (re: RegExp) => {
    const m = text.match(re);
    return m ? Number(m[1]) : undefined;
  };
  return {
    port: num(/defaultPort:\s*(\d+)/),
    concurrency: num(/defaultConcurrency:\s*(\d+)/),
    fragment: text.match(/fragment:\s*(\w+)/)?.[1],
  };
}

/** Variables an app reads. db-cli reads process.env directly: DATABASE_URL and NODE_ENV. */
export function knownEnvNames(app: App): ReadonlySet<string> {
  if (app === 'db-cli') return new Set(['DATABASE_URL', 'NODE_ENV']);
  const schema: z.ZodObject = app === 'gateway' ? gatewayEnv : workerEnv;
  return new Set(Object.keys(schema.shape));
}

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
    ...(defaults.concurrency === undefined ? {} : { WORKER_CONCURRENCY: defaults.concurrency }),
  };
  if (app === 'gateway') {
    const parsed = validateEnv(gatewayEnv, { env, defaults: envDefaults });
    // The gateway's own production rules: a real JWT secret, never dev login.
    authOptionsFromEnv(parsed);
    return parsed;
  }
  return validateEnv(workerEnv, { env, defaults: envDefaults });
}
