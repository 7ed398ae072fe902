import { Injectable } from '@nestjs/common';
import type { FragmentBuilder } from '@worker-pattern/fragment';
import { AppConfig } from '@worker-pattern/platform';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchBuilderKind, BenchParams } from '../lib/bench-fragment';
import type { BenchWorkerEnv } from './bench-worker.env';

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/**
 * The builder of the engine benchmarks: `noop` measures the engine alone (scenario 3), `sleep`
 * stands for an I/O-bound builder (a query that waits on Postgres) and `spin` for a CPU-bound one
 * (scenario 5). Its data is tiny, so the cost measured is the engine's, not serialisation.
 */
@Injectable()
export class BenchBuilder implements FragmentBuilder<BenchParams, { n: number }> {
  private readonly kind: BenchBuilderKind;
  private readonly ms: number;

  constructor(config: AppConfig<BenchWorkerEnv>) {
    this.kind = config.get('BENCH_BUILDER', { infer: true });
    this.ms = config.get('BENCH_BUILD_MS', { infer: true });
  }

  async build(params: BenchParams): Promise<{ n: number }> {
    if (this.kind === 'sleep') await sleep(this.ms);
    if (this.kind === 'spin') {
      // CPU time, not wall time: with more processes than cores a spinning process is preempted,
      // and a wall-clock spin would then cost less CPU per build the more processes there are.
      const until = cpuMicros() + this.ms * 1000;
      while (cpuMicros() < until) {
        // busy: a CPU-bound builder holds the event loop for its whole build
      }
    }
    return { n: params.n };
  }
}
