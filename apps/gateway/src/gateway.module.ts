import { type DynamicModule, Module } from '@nestjs/common';
import { AuthModule, authOptionsFromEnv, RateLimitModule, rateLimitsFromEnv } from '@worker-pattern/auth';
import {
  FRAGMENT_GATEWAY_ENV_KEYS,
  FRAGMENT_REDIS,
  FRAGMENT_REDIS_READINESS,
  FragmentModule,
  fragmentOptionsFromEnv,
  registerFragmentQueues,
} from '@worker-pattern/fragment';
import { type GatewayEnv, gatewayEnvSchema, PagesModule } from '@worker-pattern/pages';
import { APPS } from '@worker-pattern/registry';
import { AppConfig, type EnvSource, pickEnv, PlatformModule } from '@worker-pattern/platform';
import { INVALIDATIONS_QUEUE } from '@worker-pattern/write-events';
import { WritesModule } from '@worker-pattern/writes';
import type { RedisClient } from '@worker-pattern/fragment';
import type { DestinationStream } from 'pino';

export interface GatewayModuleOptions {
  /** Defaults to `process.env`; tests pass a literal. */
  readonly env?: EnvSource;
  /** Defaults to stdout; tests pass a stream to read the log lines. */
  readonly logStream?: DestinationStream;
}

/**
 * The gateway. Reads come from Redis alone (no SQL on the read path); Postgres is used by writes
 * only, connected lazily so the gateway starts and serves pages while Postgres is down. It is a
 * producer of every queue (the invalidations queue only so the queue dashboard can show it) and a
 * consumer of none: no module here provides a processor.
 */
@Module({})
export class GatewayModule {
  static register(options: GatewayModuleOptions = {}): DynamicModule {
    return {
      module: GatewayModule,
      imports: [
        PlatformModule.forRoot({
          // Named by its registry entry: logs, metrics, Redis and Postgres connection names.
          service: APPS.gateway.name,
          envSchema: gatewayEnvSchema,
          defaultPort: APPS.gateway.port,
          readiness: { redis: FRAGMENT_REDIS_READINESS },
          env: options.env,
          logStream: options.logStream,
        }),
        FragmentModule.forRootAsync({
          inject: [AppConfig],
          useFactory: (config: AppConfig<GatewayEnv>) =>
            fragmentOptionsFromEnv(pickEnv(config, FRAGMENT_GATEWAY_ENV_KEYS), APPS.gateway.name),
        }),
        AuthModule.forRootAsync({
          inject: [AppConfig],
          useFactory: (config: AppConfig<GatewayEnv>) =>
            authOptionsFromEnv(pickEnv(config, ['NODE_ENV', 'JWT_SECRET', 'JWT_TTL_SECONDS', 'DEV_LOGIN'])),
        }),
        RateLimitModule.forRootAsync({
          inject: [AppConfig, FRAGMENT_REDIS],
          useFactory: (config: AppConfig<GatewayEnv>, redis: RedisClient) => ({
            redis,
            keyPrefix: config.get('REDIS_KEY_PREFIX', { infer: true }),
            perMinute: rateLimitsFromEnv(
              pickEnv(config, ['RATE_LIMIT_PER_MINUTE', 'RATE_LIMIT_WRITES_PER_MINUTE', 'RATE_LIMIT_LOGIN_PER_MINUTE']),
            ),
          }),
        }),
        registerFragmentQueues(INVALIDATIONS_QUEUE),
        PagesModule,
        // Writes, with their own Postgres connection, made lazily: reads never wait for Postgres.
        WritesModule.forRootLazy(APPS.gateway.name),
      ],
    };
  }
}
