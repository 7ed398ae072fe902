import { Module } from '@nestjs/common';
import {
  FRAGMENT_REDIS_READINESS,
  FRAGMENT_WORKER_ENV_KEYS,
  FragmentModule,
  fragmentOptionsFromEnv,
  FragmentWorkerModule,
} from '@worker-pattern/fragment';
import { AppConfig, pickEnv, PlatformModule } from '@worker-pattern/platform';
import { benchFragment } from '../lib/bench-fragment';
import { BenchBuilder } from './bench.builder';
import { benchWorkerEnv, type BenchWorkerEnv } from './bench-worker.env';

/**
 * A fragment worker exactly as `WorkerHostModule` makes one (platform, engine, one queue), minus
 * Postgres: the engine benchmarks measure the engine, and their builder needs no database.
 */
@Module({
  imports: [
    PlatformModule.forRoot({
      service: 'bench-worker',
      envSchema: benchWorkerEnv,
      defaultPort: 3009,
      envDefaults: { WORKER_CONCURRENCY: 16 },
      readiness: { redis: FRAGMENT_REDIS_READINESS },
    }),
    FragmentModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig<BenchWorkerEnv>) =>
        fragmentOptionsFromEnv(pickEnv(config, FRAGMENT_WORKER_ENV_KEYS), 'bench-worker'),
    }),
    FragmentWorkerModule.register({ fragment: benchFragment, builder: BenchBuilder }),
  ],
})
export class BenchWorkerModule {}
