import 'reflect-metadata';
import { bootstrapHttpApp } from '@worker-pattern/platform';
import { BenchWorkerModule } from './bench-worker.module';

/** An engine worker with the bench fragment (scenarios 3 and 5): FragmentWorkerModule, minus Postgres. */
void bootstrapHttpApp(BenchWorkerModule);
