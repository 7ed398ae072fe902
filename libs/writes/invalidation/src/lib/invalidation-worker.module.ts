import { Module } from '@nestjs/common';
import { feedFragment } from '@worker-pattern/feed';
import { type FragmentDefinition, FragmentProducerModule, registerFragmentQueues } from '@worker-pattern/fragment';
import { profileFragment } from '@worker-pattern/profile';
import { recommendationsFragment } from '@worker-pattern/recommendations';
import { InvalidationFanout } from './invalidation-fanout';
import { InvalidationConsumer } from './invalidation.consumer';
import { OutboxRelay } from './outbox-relay';
import { INVALIDATIONS_QUEUE } from './invalidation-jobs';

export const INVALIDATED_FRAGMENTS: readonly FragmentDefinition[] = [
  profileFragment,
  feedFragment,
  recommendationsFragment,
] as readonly FragmentDefinition[];

/**
 * The invalidation worker: relays the outbox into the invalidations queue and consumes it,
 * invalidating fragments and enqueueing background rebuilds (it produces to the fragment queues,
 * never consumes them). Needs the app's FragmentModule, a TypeORM DataSource and `FeedFanoutModule`
 * (the page size and the follower threshold above which posts are pulled, not pushed).
 */
@Module({
  imports: [
    registerFragmentQueues(INVALIDATIONS_QUEUE),
    FragmentProducerModule.register({ fragments: INVALIDATED_FRAGMENTS }),
  ],
  providers: [InvalidationFanout, InvalidationConsumer, OutboxRelay],
})
export class InvalidationWorkerModule {}
