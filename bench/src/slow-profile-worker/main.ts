import 'reflect-metadata';
import { bootstrapHttpApp } from '@worker-pattern/platform';
import { SlowProfileWorkerModule } from './slow-profile-worker.module';

/** The real profile worker with every build slowed by SLOW_BUILD_MS (scenario 13, the storm). */
void bootstrapHttpApp(SlowProfileWorkerModule);
