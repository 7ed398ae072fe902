import { BullModule } from '@nestjs/bull';
import type { DynamicModule } from '@nestjs/common';
import type { FragmentModuleOptions } from './fragment-options';
import { FRAGMENT_OPTIONS } from './fragment.tokens';

/**
 * Bull's key prefix for one queue: `<BULL_PREFIX>:{<queue>}`, so every key of the queue (Bull's
 * scripts touch several at once) shares one Redis Cluster slot, and different queues can sit on
 * different masters. Single Redis uses the same layout: `bull:{feed}:feed:wait`.
 */
export function bullQueuePrefix(bullPrefix: string, queue: string): string {
  return `${bullPrefix}:{${queue}}`;
}

/** Registers Bull queues under their hash-tagged prefixes (on top of `FragmentModule`'s shared Bull config). */
export function registerFragmentQueues(...names: readonly string[]): DynamicModule {
  return BullModule.registerQueueAsync(
    ...names.map((name) => ({
      name,
      inject: [FRAGMENT_OPTIONS],
      useFactory: (options: FragmentModuleOptions) => ({ prefix: bullQueuePrefix(options.bullPrefix, name) }),
    })),
  );
}
