import { Module } from '@nestjs/common';
import { RecommendationsBuilder } from '@worker-pattern/recommendations/builder';
import { APPS } from '@worker-pattern/registry';
import { WorkerHostModule } from '@worker-pattern/worker-host';

/** Builds `recommendations` fragments from its own queue; scaled on that queue's backlog. */
@Module({
  imports: [WorkerHostModule.forFragment({ app: APPS['recommendations-worker'], builder: RecommendationsBuilder })],
})
export class RecommendationsWorkerModule {}
