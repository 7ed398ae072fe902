import { ConfigService } from '@nestjs/config';
import type { BaseEnv, CorsEnv, DatabaseEnv, DatabaseReplicaEnv, FanoutEnv, WorkerEnv } from './env.schema';

/**
 * The typed view of the validated config. It is the very ConfigService instance that `@nestjs/config`
 * holds (PlatformModule binds this token to it with `useExisting`), under a real class token so that
 * constructor injection works with any compiler's decorator metadata:
 *
 *   constructor(private readonly config: AppConfig<GatewayEnv>) {}
 *   this.config.get('PORT', { infer: true }) // number
 *
 * Never instantiated itself.
 */
export abstract class AppConfig<T extends object = BaseEnv> extends ConfigService<T, true> {}

/** The validated values of `keys`, as one typed object (for options factories that take env-shaped input). */
export function pickEnv<T extends object, K extends keyof T & string>(
  config: AppConfig<T>,
  keys: readonly K[],
): Pick<T, K> {
  // The generic signature of ConfigService#get cannot follow a key type parameter; the values are
  // exactly those of the validated schema.
  const get = config.get.bind(config) as (key: string) => unknown;
  const picked = {} as Pick<T, K>;
  for (const key of keys) picked[key] = get(key) as T[K];
  return picked;
}

/** Every variable the platform's shared schemas define, by name: what `fromEnv` may read. */
export type PlatformEnv = BaseEnv & DatabaseEnv & DatabaseReplicaEnv & WorkerEnv & FanoutEnv & CorsEnv;

/**
 * The `inject` and `useFactory` of a module's `forRootAsync` that builds its options from validated
 * variables: `DbModule.forRootAsync(fromEnv(DB_ENV_KEYS, (env) => dbOptionsFromEnv(env, 'gateway')))`.
 */
export function fromEnv<K extends keyof PlatformEnv & string, T>(
  keys: readonly K[],
  build: (env: Pick<PlatformEnv, K>) => T,
): { inject: [typeof AppConfig]; useFactory: (config: AppConfig<PlatformEnv>) => T } {
  return { inject: [AppConfig], useFactory: (config) => build(pickEnv(config, keys)) };
}
