import { envEnum, envInt } from '@worker-pattern/platform';
import { queueWorkerEnv } from '@worker-pattern/worker-host';
import type { z } from 'zod';
import { BENCH_BUILDERS } from '../lib/bench-fragment';

/** A queue worker's variables (no database: the bench builder reads nothing), and the builder's own. */
export const benchWorkerEnv = queueWorkerEnv.extend({
  BENCH_BUILDER: envEnum(BENCH_BUILDERS).default('noop'),
  BENCH_BUILD_MS: envInt(0, 60_000).default(0),
});
export type BenchWorkerEnv = z.output<typeof benchWorkerEnv>;
