import { Module } from '@nestjs/common';
import { APPS } from '@worker-pattern/registry';
import { WorkerHostModule } from '@worker-pattern/worker-host';
import { SlowProfileBuilder } from './slow-profile.builder';

/** The profile worker exactly as apps/profile-worker makes it, with the slowed builder. */
@Module({
  imports: [
    WorkerHostModule.forFragment({
      // The profile worker's entry (its fragment, queue and concurrency) under a name and port of its own.
      app: { ...APPS['profile-worker'], name: 'slow-profile-worker', port: 3011 },
      builder: SlowProfileBuilder,
    }),
  ],
})
export class SlowProfileWorkerModule {}
