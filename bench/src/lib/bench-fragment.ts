import { defineFragment } from '@worker-pattern/fragment';
import { z } from 'zod';

/**
 * The fragment of the engine benchmarks (scenarios 3 and 5): no domain, no database. `n` only makes
 * each copy's key distinct, so a backlog of N jobs is N different copies, as N cold viewers would be.
 */
export const benchParams = z.object({ n: z.coerce.number().int().nonnegative() }).strict();
export type BenchParams = z.infer<typeof benchParams>;

export const BENCH_QUEUE = 'bench';

export const benchFragment = defineFragment<BenchParams>({
  name: 'bench',
  queue: BENCH_QUEUE,
  scope: 'public',
  version: 1,
  params: benchParams,
  ttlMs: 3_600_000,
});

/** What a bench builder does per build: nothing, wait (I/O-bound), or keep the CPU busy. */
export const BENCH_BUILDERS = ['noop', 'sleep', 'spin'] as const;
export type BenchBuilderKind = (typeof BENCH_BUILDERS)[number];
