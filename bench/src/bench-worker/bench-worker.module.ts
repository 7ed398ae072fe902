import { Module } from '@nestjs/common';
import { WorkerHostModule } from '@worker-pattern/worker-host';
import { benchFragment } from '../lib/bench-fragment';
import { BenchBuilder } from './bench.builder';
import { benchWorkerEnv } from './bench-worker.env';

/**
 * A fragment worker exactly as the fragment workers are (the one worker shell: platform, engine,
 * one queue), minus Postgres: the engine benchmarks measure the engine, and their builder needs no
 * database.
 */
@Module({
  imports: [
    WorkerHostModule.forFragment({
      // Outside the registry (no Deployment, no page serves it): an entry of its own, with its fragment.
      app: { name: 'bench-worker', port: 3009, concurrency: 16, fragment: benchFragment },
      builder: BenchBuilder,
      envSchema: benchWorkerEnv,
      database: false,
    }),
  ],
})
export class BenchWorkerModule {}
