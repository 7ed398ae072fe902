import { Module, type DynamicModule } from '@nestjs/common';
import type { FragmentDefinition } from './fragment-definition';
import { FragmentEvents } from './fragment-events';
import { FragmentEventsController } from './fragment-events.controller';
import { FragmentEventsServer } from './fragment-events.transport';
import { FragmentLostJobs } from './fragment-lost-jobs';
import { FragmentNearCache } from './fragment-near-cache';
import { FragmentProducerModule } from './fragment-producer.module';
import { FragmentReadMarks } from './fragment-read-marks';
import { FragmentResolver } from './fragment-resolver';
import { FragmentRetryAdvisor } from './fragment-retry-advisor';
import { FragmentWatcher } from './fragment-watcher';
import { FRAGMENT_EVENT_SUBSCRIBER } from './fragment.tokens';

export interface FragmentGatewayOptions {
  /** Every fragment this gateway serves. */
  readonly fragments: readonly FragmentDefinition[];
}

/**
 * The gateway side: resolve, enqueue once, wait on readiness events (subscribed per watched copy;
 * the app must also call `connectFragmentEvents(app)` to receive them), push to streams and keep
 * what they watch marked as read. Like every producer it registers
 * queues but never a processor, so a gateway process never builds.
 */
@Module({})
export class FragmentGatewayModule {
  static register(options: FragmentGatewayOptions): DynamicModule {
    const producer = FragmentProducerModule.register({ fragments: options.fragments });
    return {
      module: FragmentGatewayModule,
      imports: [producer],
      controllers: [FragmentEventsController],
      providers: [
        FragmentEventsServer,
        { provide: FRAGMENT_EVENT_SUBSCRIBER, useExisting: FragmentEventsServer },
        FragmentEvents,
        FragmentReadMarks,
        FragmentLostJobs,
        FragmentNearCache,
        FragmentRetryAdvisor,
        FragmentResolver,
        FragmentWatcher,
      ],
      exports: [producer, FragmentResolver, FragmentEvents, FragmentEventsServer, FragmentWatcher, FragmentNearCache],
    };
  }
}
