import { Module } from '@nestjs/common';
import { recommendationsFragment } from '@worker-pattern/recommendations';
import { RecommendationsBuilder } from '@worker-pattern/recommendations/builder';
import { APPS } from '@worker-pattern/registry';
import { WorkerHostModule } from '@worker-pattern/worker-host';

/** Builds `recommendations` fragments from its own queue; scaled on that queue's backlog. */
@Module({
  imports: [
    WorkerHostModule.forFragment({
      service: 'recommendations-worker',
      defaultPort: APPS['recommendations-worker'].port,
      defaultConcurrency: APPS['recommendations-worker'].concurrency,
      fragment: recommendationsFragment,
      builder: RecommendationsBuilder,
    }),
  ],
})
export class RecommendationsWorkerModule {}
