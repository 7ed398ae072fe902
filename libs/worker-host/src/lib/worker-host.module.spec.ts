import { type DynamicModule, Module } from '@nestjs/common';
import { DbModule } from '@worker-pattern/db';
import type { FeedData, FeedParams } from '@worker-pattern/feed';
import {
  defineFragment,
  type FragmentBuilder,
  FragmentModule,
  FragmentWorkerModule,
  WORKER_FRAGMENT,
} from '@worker-pattern/fragment';
import { PLATFORM_SERVICE, PlatformModule, platformServiceOf } from '@worker-pattern/platform';
import { APPS, FRAGMENTS } from '@worker-pattern/registry';
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
class FeedLikeBuilder implements FragmentBuilder<FeedParams, FeedData> {
  build(): Promise<FeedData> {
    return Promise.resolve({ posts: [] });
  }
}

type Imported = DynamicModule | (new () => unknown);
const importsOf = (definition: DynamicModule) => definition.imports as Imported[];
const moduleNames = (definition: DynamicModule) =>
  importsOf(definition).map((m) => ('module' in m ? m.module.name : m.name));
const imported = (definition: DynamicModule, module: new () => unknown) =>
  importsOf(definition).find((m): m is DynamicModule => 'module' in m && m.module === module);
const provided = (definition: DynamicModule | undefined, token: symbol) =>
  definition?.providers?.find((p) => typeof p === 'object' && 'provide' in p && p.provide === token);

describe('WorkerHostModule: the one worker shell', () => {
  const app = { name: 'test-worker', port: 3999, concurrency: 4 };

  it('wires platform, Postgres and the engine, then what the worker consumes', () => {
    const definition = WorkerHostModule.register({ app, imports: [ConsumerModule] });
    expect(moduleNames(definition)).toEqual([
      PlatformModule.name,
      DbModule.name,
      FragmentModule.name,
      ConsumerModule.name,
    ]);
    // The consumer is wired, not passed along as an option.
    expect(provided(definition, WORKER_HOST_OPTIONS)).toMatchObject({ useValue: { app } });
  });

  it('names the process after its app, and main.ts finds that name in the root module', () => {
    const definition = WorkerHostModule.register({ app: APPS['invalidation-worker'], imports: [ConsumerModule] });
    expect(provided(imported(definition, PlatformModule), PLATFORM_SERVICE)).toMatchObject({
      useValue: 'invalidation-worker',
    });
    @Module({ imports: [definition] })
    class RootModule {}
    expect(platformServiceOf(RootModule)).toBe('invalidation-worker');
  });

  it('leaves Postgres out for a worker without a database', () => {
    const definition = WorkerHostModule.register({ app, envSchema: queueWorkerEnv, database: false });
    expect(moduleNames(definition)).toEqual([PlatformModule.name, FragmentModule.name]);
  });

  it('makes a fragment worker the shell plus the consumer of its registered fragment’s queue', () => {
    const definition = WorkerHostModule.forFragment({
      app: APPS['feed-worker'],
      builder: FeedLikeBuilder,
      imports: [ConsumerModule],
    });
    expect(moduleNames(definition)).toEqual([
      PlatformModule.name,
      DbModule.name,
      FragmentModule.name,
      FragmentWorkerModule.name,
      ConsumerModule.name,
    ]);
    // The fragment comes from the registry entry, not from a second argument.
    expect(provided(imported(definition, FragmentWorkerModule), WORKER_FRAGMENT)).toMatchObject({
      useValue: FRAGMENTS.feed,
    });
    expect(platformServiceOf(definition)).toBe('feed-worker');
  });

  it('takes the definition an app outside the registry carries (the bench’s)', () => {
    const definition = WorkerHostModule.forFragment({ app: { ...app, fragment }, builder: NoopBuilder });
    expect(provided(imported(definition, FragmentWorkerModule), WORKER_FRAGMENT)).toMatchObject({ useValue: fragment });
  });

  it('refuses an entry that scales on another queue than its fragment’s', () => {
    expect(() =>
      WorkerHostModule.forFragment({ app: { ...APPS['feed-worker'], queue: 'profile' }, builder: FeedLikeBuilder }),
    ).toThrow(/feed-worker scales on queue "profile" but builds "feed" from "feed"/);
  });

  // Checked by `typecheck`: each @ts-expect-error fails the build if the line stops being an error.
  it('types the builder by the app’s fragment', () => {
    const wrong = () =>
      // @ts-expect-error a builder of `{}` is not a builder of the feed's data
      WorkerHostModule.forFragment({ app: APPS['feed-worker'], builder: NoopBuilder });
    const other = () =>
      // @ts-expect-error the feed's builder does not build profiles
      WorkerHostModule.forFragment({ app: APPS['profile-worker'], builder: FeedLikeBuilder });
    expect([wrong, other]).toHaveLength(2);
  });
});
