import 'reflect-metadata';
import { bootstrapHttpApp } from '@worker-pattern/platform';
import { ProfileWorkerModule } from './profile-worker.module';

void bootstrapHttpApp(ProfileWorkerModule);
