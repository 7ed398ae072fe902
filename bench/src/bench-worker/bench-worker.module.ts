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
      service: 'bench-worker',
      defaultPort: 3009,
      defaultConcurrency: 16,
      envSchema: benchWorkerEnv,
      database: false,
      fragment: benchFragment,
      builder: BenchBuilder,
    }),
  ],
})
export class BenchWorkerModule {}
