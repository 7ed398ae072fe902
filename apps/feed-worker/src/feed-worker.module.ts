import { Module } from '@nestjs/common';
import { FeedBuilder, feedFragment } from '@worker-pattern/feed';
import { WorkerHostModule } from '@worker-pattern/worker-host';

/** Builds `feed` fragments from its own queue; scaled on that queue's backlog. */
@Module({
  imports: [
    WorkerHostModule.register({
      service: 'feed-worker',
      defaultPort: 3002,
      defaultConcurrency: 16,
      fragment: feedFragment,
      builder: FeedBuilder,
    }),
  ],
})
export class FeedWorkerModule {}
