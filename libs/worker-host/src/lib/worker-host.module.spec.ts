import { type DynamicModule, Module } from '@nestjs/common';
import { DbModule } from '@worker-pattern/db';
import { defineFragment, FragmentModule, FragmentWorkerModule } from '@worker-pattern/fragment';
import { PlatformModule } from '@worker-pattern/platform';
import { z } from 'zod';
import { queueWorkerEnv } from './worker-env';
import { WORKER_HOST_OPTIONS, WorkerHostModule } from './worker-host.module';

@Module({})
class ConsumerModule {}

const fragment = defineFragment({
  name: 'shell-test',
  queue: 'shell-test',
  scope: 'public',
  version: 1,
  params: z.object({}).strict(),
  ttlMs: 1000,
});
class NoopBuilder {
  build() {
    return Promise.resolve({});
  }
}

const moduleNames = (definition: DynamicModule) =>
  (definition.imports as Array<DynamicModule | (new () => unknown)>).map((m) =>
    'module' in m ? m.module.name : m.name,
  );

describe('WorkerHostModule: the one worker shell', () => {
  const host = { service: 'test-worker', defaultPort: 3999, defaultConcurrency: 4 };

  it('wires platform, Postgres and the engine, then what the worker consumes', () => {
    const definition = WorkerHostModule.register({ ...host, imports: [ConsumerModule] });
    expect(moduleNames(definition)).toEqual([
      PlatformModule.name,
      DbModule.name,
      FragmentModule.name,
      ConsumerModule.name,
    ]);
    // The consumer is wired, not passed along as an option.
    const options = definition.providers?.find((p) => typeof p === 'object' && p.provide === WORKER_HOST_OPTIONS);
    expect(options).toMatchObject({ useValue: host });
  });

  it('leaves Postgres out for a worker without a database', () => {
    const definition = WorkerHostModule.register({ ...host, envSchema: queueWorkerEnv, database: false });
    expect(moduleNames(definition)).toEqual([PlatformModule.name, FragmentModule.name]);
  });

  it('makes a fragment worker the shell plus the consumer of its fragment’s queue', () => {
    const definition = WorkerHostModule.forFragment({
      ...host,
      fragment,
      builder: NoopBuilder,
      imports: [ConsumerModule],
    });
    expect(moduleNames(definition)).toEqual([
      PlatformModule.name,
      DbModule.name,
      FragmentModule.name,
      FragmentWorkerModule.name,
      ConsumerModule.name,
    ]);
  });
});
