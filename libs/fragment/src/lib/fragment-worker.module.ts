import { Module, type DynamicModule, type Type } from '@nestjs/common';
import type { FragmentBuilder } from './fragment-builder';
import { FragmentBuildRunner } from './fragment-build-runner';
import { FragmentBuildStats } from './fragment-build-stats';
import type { FragmentDefinition } from './fragment-definition';
import { registerFragmentQueues } from './fragment-queues';
import { FragmentBuildMetrics } from './fragment-metrics';
import { FragmentQueueConsumer } from './fragment-queue.consumer';
import { WORKER_BUILDER, WORKER_FRAGMENT } from './fragment.tokens';

export interface FragmentWorkerRegistration<P extends Record<string, unknown>> {
  readonly fragment: FragmentDefinition<P>;
  /** A Nest provider class; its own dependencies (a DataSource…) come from the app's modules. */
  readonly builder: Type<FragmentBuilder<P>>;
}

/** The worker side: one fragment, its builder, and the consumer of its one queue. */
@Module({})
export class FragmentWorkerModule {
  static register<P extends Record<string, unknown>>(registration: FragmentWorkerRegistration<P>): DynamicModule {
    return {
      module: FragmentWorkerModule,
      imports: [registerFragmentQueues(registration.fragment.queue)],
      providers: [
        registration.builder,
        { provide: WORKER_FRAGMENT, useValue: registration.fragment },
        { provide: WORKER_BUILDER, useExisting: registration.builder },
        FragmentBuildMetrics,
        FragmentBuildStats,
        FragmentBuildRunner,
        FragmentQueueConsumer,
      ],
    };
  }
}
