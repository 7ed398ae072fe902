import 'reflect-metadata';
import { bootstrapHttpApp } from '@worker-pattern/platform';
import { FeedWorkerModule } from './feed-worker.module';

void bootstrapHttpApp(FeedWorkerModule);
