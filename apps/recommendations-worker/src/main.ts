import 'reflect-metadata';
import { bootstrapHttpApp } from '@worker-pattern/platform';
import { RecommendationsWorkerModule } from './recommendations-worker.module';

void bootstrapHttpApp(RecommendationsWorkerModule);
