import { Module } from '@nestjs/common';
import { profileFragment } from '@worker-pattern/profile';
import { ProfileBuilder } from '@worker-pattern/profile/builder';
import { APPS } from '@worker-pattern/registry';
import { WorkerHostModule } from '@worker-pattern/worker-host';

/** Builds `profile` fragments from its own queue; scaled on that queue's backlog. */
@Module({
  imports: [
    WorkerHostModule.forFragment({
      service: 'profile-worker',
      defaultPort: APPS['profile-worker'].port,
      defaultConcurrency: APPS['profile-worker'].concurrency,
      fragment: profileFragment,
      builder: ProfileBuilder,
    }),
  ],
})
export class ProfileWorkerModule {}
