import { baseEnvSchema, envEnum, envInt, workerEnvSchema } from '@worker-pattern/platform';
import type { z } from 'zod';
import { BENCH_BUILDERS } from '../lib/bench-fragment';

export const benchWorkerEnv = baseEnvSchema.extend(workerEnvSchema.shape).extend({
  BENCH_BUILDER: envEnum(BENCH_BUILDERS).default('noop'),
  BENCH_BUILD_MS: envInt(0, 60_000).default(0),
});
export type BenchWorkerEnv = z.output<typeof benchWorkerEnv>;
