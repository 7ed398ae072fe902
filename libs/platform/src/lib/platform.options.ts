import type { InjectionToken } from '@nestjs/common';
import type { DestinationStream } from 'pino';
import type { z } from 'zod';
import type { EnvSchema } from './config/env.schema';
import type { EnvDefaults, EnvSource } from './config/env.validation';

/** What `GET /health/ready` checks. Liveness never checks anything external. */
export interface ReadinessOptions {
  /**
   * Token of an ioredis client the app provides (checked as `redis`), or several by check name
   * (`{ redis: …, redis_queue: … }`: a Redis per role); resolved lazily from the container.
   */
  redis?: InjectionToken | Readonly<Record<string, InjectionToken>>;
  /** Ping the default TypeORM DataSource (the app imports TypeOrmModule). */
  postgres?: boolean;
  /** Per-check budget; a dependency slower than this counts as down. Default 1000 ms. */
  timeoutMs?: number;
}

export interface PlatformOptions<S extends EnvSchema = EnvSchema> {
  /** Name on every log line and metric: `gateway`, `feed-worker`, … */
  service: string;
  /** The app's composed schema (at least `baseEnvSchema`). */
  envSchema: S;
  /** PORT when the environment does not set one. */
  defaultPort: number;
  /** The app's defaults for other variables the shared schemas leave open, e.g. WORKER_CONCURRENCY. */
  envDefaults?: EnvDefaults<NoInfer<S>>;
  readiness?: ReadinessOptions;
  /** Defaults to `process.env`, read when the app is created. Tests pass a literal. */
  env?: EnvSource;
  /** Defaults to stdout. Tests pass a stream to read the log lines. */
  logStream?: DestinationStream;
}

/** The parsed config type of a schema, for `AppConfig<EnvOf<typeof schema>>`. */
export type EnvOf<S extends EnvSchema> = z.output<S>;

export interface ResolvedReadiness {
  redis?: InjectionToken | Readonly<Record<string, InjectionToken>>;
  postgres: boolean;
  timeoutMs: number;
}

export const PLATFORM_SERVICE = Symbol('PLATFORM_SERVICE');
export const PLATFORM_READINESS = Symbol('PLATFORM_READINESS');
