import { Module } from '@nestjs/common';
import { FEED_FANOUT_ENV_KEYS, FeedFanoutModule, feedFanoutOptionsFromEnv } from '@worker-pattern/feed';
import { FeedBuilder } from '@worker-pattern/feed/builder';
import { fromEnv } from '@worker-pattern/platform';
import { APPS } from '@worker-pattern/registry';
import { WorkerHostModule } from '@worker-pattern/worker-host';

/** Builds `feed` fragments from its own queue; scaled on that queue's backlog. */
@Module({
  imports: [
    WorkerHostModule.forFragment({
      app: APPS['feed-worker'],
      builder: FeedBuilder,
      // Which authors the feed pulls rather than being pushed (the same settings as the invalidation worker's).
      imports: [FeedFanoutModule.forRootAsync(fromEnv(FEED_FANOUT_ENV_KEYS, feedFanoutOptionsFromEnv))],
    }),
  ],
})
export class FeedWorkerModule {}
