import { Module, type DynamicModule } from '@nestjs/common';
import type { FragmentDefinition } from './fragment-definition';
import { FragmentEvents } from './fragment-events';
import { FragmentEventsController } from './fragment-events.controller';
import { FragmentProducerModule } from './fragment-producer.module';
import { FragmentResolver } from './fragment-resolver';
import { FragmentRetryAdvisor } from './fragment-retry-advisor';
import { FragmentWatcher } from './fragment-watcher';

export interface FragmentGatewayOptions {
  /** Every fragment this gateway serves. */
  readonly fragments: readonly FragmentDefinition[];
}

/**
 * The gateway side: resolve, enqueue once, wait on readiness events (the app must also call
 * `connectFragmentEvents(app)` to receive them), push to streams. Like every producer it registers
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
      providers: [FragmentEvents, FragmentRetryAdvisor, FragmentResolver, FragmentWatcher],
      exports: [producer, FragmentResolver, FragmentEvents, FragmentWatcher],
    };
  }
}
