import { Module } from '@nestjs/common';
import { ProfileBuilder } from '@worker-pattern/profile/builder';
import { APPS } from '@worker-pattern/registry';
import { WorkerHostModule } from '@worker-pattern/worker-host';

/** Builds `profile` fragments from its own queue; scaled on that queue's backlog. */
@Module({
  imports: [WorkerHostModule.forFragment({ app: APPS['profile-worker'], builder: ProfileBuilder })],
})
export class ProfileWorkerModule {}
