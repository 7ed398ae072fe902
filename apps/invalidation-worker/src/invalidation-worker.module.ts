import { Module } from '@nestjs/common';
import { FEED_FANOUT_ENV_KEYS, FeedFanoutModule, feedFanoutOptionsFromEnv } from '@worker-pattern/feed';
import { fromEnv } from '@worker-pattern/platform';
import { APPS } from '@worker-pattern/registry';
import { WorkerHostModule } from '@worker-pattern/worker-host';
import { InvalidationWorkerModule as InvalidationModule } from '@worker-pattern/writes/invalidation';

/**
 * Relays the outbox into the invalidations queue and consumes it: writes reach cached fragments
 * (marked stale, rebuilt in the background if someone looks at them). Scaled on its own queue.
 */
@Module({
  imports: [
    WorkerHostModule.register({
      app: APPS['invalidation-worker'],
      imports: [
        // Page size, and which authors are pulled rather than pushed (the same settings as the feed worker's).
        FeedFanoutModule.forRootAsync(fromEnv(FEED_FANOUT_ENV_KEYS, feedFanoutOptionsFromEnv)),
        InvalidationModule,
      ],
    }),
  ],
})
export class InvalidationWorkerAppModule {}
