import { Module, type DynamicModule } from '@nestjs/common';
import type { FragmentDefinition } from './fragment-definition';
import { registerFragmentQueues } from './fragment-queues';
import { FragmentEnqueuer } from './fragment-enqueuer';
import { FragmentInvalidator } from './fragment-invalidator';
import { FragmentInvalidationMetrics, FragmentRequestMetrics } from './fragment-metrics';
import { FragmentTargets } from './fragment-targets';
import { FRAGMENT_CATALOG } from './fragment.tokens';

export interface FragmentProducerOptions {
  /** Every fragment this process enqueues builds of; their queues are registered as producers only. */
  readonly fragments: readonly FragmentDefinition[];
}

/**
 * Enqueueing builds and invalidating copies, without consuming anything: what the gateway and the
 * invalidation worker share. It registers queues but never a processor.
 */
@Module({})
export class FragmentProducerModule {
  static register(options: FragmentProducerOptions): DynamicModule {
    const names = new Set<string>();
    for (const f of options.fragments) {
      if (names.has(f.name)) throw new Error(`fragment "${f.name}" is registered twice`);
      names.add(f.name);
    }
    const queues = [...new Set(options.fragments.map((f) => f.queue))];
    return {
      module: FragmentProducerModule,
      imports: [registerFragmentQueues(...queues)],
      providers: [
        { provide: FRAGMENT_CATALOG, useValue: options.fragments },
        FragmentRequestMetrics,
        FragmentInvalidationMetrics,
        FragmentTargets,
        FragmentEnqueuer,
        FragmentInvalidator,
      ],
      exports: [FRAGMENT_CATALOG, FragmentRequestMetrics, FragmentTargets, FragmentEnqueuer, FragmentInvalidator],
    };
  }
}
