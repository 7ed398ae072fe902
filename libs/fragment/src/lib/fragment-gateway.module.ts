import { BullModule } from '@nestjs/bull';
import { Module, type DynamicModule } from '@nestjs/common';
import type { FragmentDefinition } from './fragment-definition';
import { FragmentEnqueuer } from './fragment-enqueuer';
import { FragmentEvents } from './fragment-events';
import { FragmentEventsController } from './fragment-events.controller';
import { FragmentRequestMetrics } from './fragment-metrics';
import { FragmentResolver } from './fragment-resolver';
import { FragmentRetryAdvisor } from './fragment-retry-advisor';
import { FragmentWatcher } from './fragment-watcher';
import { FRAGMENT_CATALOG } from './fragment.tokens';

export interface FragmentGatewayOptions {
  /** Every fragment this gateway serves; their queues are registered as producers only. */
  readonly fragments: readonly FragmentDefinition[];
}

/**
 * The gateway side: resolve, enqueue once, wait on readiness events (the app must also call
 * `connectFragmentEvents(app)` to receive them). It registers queues but never
 * a processor, so a gateway process never builds (any module with a processor makes its process a
 * consumer).
 */
@Module({})
export class FragmentGatewayModule {
  static register(options: FragmentGatewayOptions): DynamicModule {
    const names = new Set<string>();
    for (const f of options.fragments) {
      if (names.has(f.name)) throw new Error(`fragment "${f.name}" is registered twice`);
      names.add(f.name);
    }
    const queues = [...new Set(options.fragments.map((f) => f.queue))];
    return {
      module: FragmentGatewayModule,
      imports: [BullModule.registerQueue(...queues.map((name) => ({ name })))],
      controllers: [FragmentEventsController],
      providers: [
        { provide: FRAGMENT_CATALOG, useValue: options.fragments },
        FragmentRequestMetrics,
        FragmentEnqueuer,
        FragmentEvents,
        FragmentRetryAdvisor,
        FragmentResolver,
        FragmentWatcher,
      ],
      exports: [FRAGMENT_CATALOG, FragmentResolver, FragmentEvents, FragmentWatcher],
    };
  }
}
