import 'reflect-metadata';
import { bootstrapHttpApp } from '@worker-pattern/platform';
import { InvalidationWorkerAppModule } from './invalidation-worker.module';

void bootstrapHttpApp(InvalidationWorkerAppModule);
