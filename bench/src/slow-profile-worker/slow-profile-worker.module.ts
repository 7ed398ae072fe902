import { Module } from '@nestjs/common';
import { profileFragment } from '@worker-pattern/profile';
import { APPS } from '@worker-pattern/registry';
import { WorkerHostModule } from '@worker-pattern/worker-host';
import { SlowProfileBuilder } from './slow-profile.builder';

/** The profile worker exactly as apps/profile-worker makes it, with the slowed builder. */
@Module({
  imports: [
    WorkerHostModule.forFragment({
      service: 'slow-profile-worker',
      defaultPort: 3011,
      defaultConcurrency: APPS['profile-worker'].concurrency,
      fragment: profileFragment,
      builder: SlowProfileBuilder,
    }),
  ],
})
export class SlowProfileWorkerModule {}
