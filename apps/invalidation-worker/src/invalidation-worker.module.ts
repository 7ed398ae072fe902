import { Module } from '@nestjs/common';
import { DB_WORKER_ENV_KEYS, DbModule, dbOptionsFromEnv } from '@worker-pattern/db';
import { FEED_FANOUT_ENV_KEYS, FeedFanoutModule, feedFanoutOptionsFromEnv } from '@worker-pattern/feed';
import {
  FRAGMENT_REDIS_READINESS,
  FRAGMENT_WORKER_ENV_KEYS,
  FragmentModule,
  fragmentOptionsFromEnv,
} from '@worker-pattern/fragment';
import { AppConfig, pickEnv, PlatformModule } from '@worker-pattern/platform';
import { workerEnv, workerEnvDefaults, type WorkerEnv } from '@worker-pattern/worker-host';
import { InvalidationWorkerModule as InvalidationModule } from '@worker-pattern/writes';

const SERVICE = 'invalidation-worker';
const DEFAULT_CONCURRENCY = 8;

/**
 * Relays the outbox into the invalidations queue and consumes it: writes reach cached fragments
 * (marked stale, rebuilt in the background if someone looks at them). Scaled on its own queue.
 */
@Module({
  imports: [
    PlatformModule.forRoot({
      service: SERVICE,
      envSchema: workerEnv,
      defaultPort: 3004,
      envDefaults: workerEnvDefaults(DEFAULT_CONCURRENCY),
      readiness: { redis: FRAGMENT_REDIS_READINESS, postgres: true },
    }),
    DbModule.forRootAsync({
      inject: [AppConfig],
      // DATABASE_LISTEN_URL: the relay's LISTEN; writes, the outbox and the fan-out stay on DATABASE_URL.
      useFactory: (config: AppConfig<WorkerEnv>) => dbOptionsFromEnv(pickEnv(config, DB_WORKER_ENV_KEYS), SERVICE),
    }),
    FragmentModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig<WorkerEnv>) =>
        fragmentOptionsFromEnv(pickEnv(config, FRAGMENT_WORKER_ENV_KEYS), SERVICE),
    }),
    // Page size, and which authors are pulled rather than pushed (the same settings as the feed worker's).
    FeedFanoutModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig<WorkerEnv>) => feedFanoutOptionsFromEnv(pickEnv(config, FEED_FANOUT_ENV_KEYS)),
    }),
    InvalidationModule,
  ],
})
export class InvalidationWorkerAppModule {}
