import { Module } from '@nestjs/common';
import { type FragmentDefinition, FragmentProducerModule, registerFragmentQueues } from '@worker-pattern/fragment';
import { FRAGMENT_LIST } from '@worker-pattern/registry';
import { InvalidationFanout } from './invalidation-fanout';
import { InvalidationConsumer } from './invalidation.consumer';
import { OutboxRelay } from './outbox-relay';
import { INVALIDATIONS_QUEUE } from './invalidation-jobs';

/** Every registered fragment: a write may invalidate any of them, and their rebuilds go to their own queues. */
export const INVALIDATED_FRAGMENTS: readonly FragmentDefinition[] = FRAGMENT_LIST;

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
