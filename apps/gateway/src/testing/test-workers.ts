import { Injectable, Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  type FragmentBuildContext,
  type FragmentBuilder,
  FragmentModule,
  FragmentWorkerModule,
} from '@worker-pattern/fragment';
import { FRAGMENT_CATALOG_DEFINITIONS } from '@worker-pattern/pages';
import { singleRedisTopology } from '@worker-pattern/fragment/testing';

/** What a test-built fragment holds: who it was built for, so a test can tell whose data it sees. */
export interface TaggedFragmentData {
  readonly fragment: string;
  /** The build context's viewer: set for viewer-scoped fragments, null for public ones. */
  readonly builtForViewer: number | null;
  readonly params: Record<string, unknown>;
}

/**
 * Runs before every test build, with what it builds: a test may hold it (await), make it fail
 * (throw), or count it. Absent: builds answer at once.
 */
export type BeforeTestBuild = (fragment: string, params: Record<string, unknown>) => Promise<void>;

function taggingBuilder(fragment: string, before?: BeforeTestBuild) {
  @Injectable()
  class TaggingBuilder implements FragmentBuilder<Record<string, unknown>, TaggedFragmentData> {
    async build(params: Record<string, unknown>, ctx: FragmentBuildContext): Promise<TaggedFragmentData> {
      await before?.(fragment, params);
      return { fragment, builtForViewer: ctx.viewerId, params };
    }
  }
  return TaggingBuilder;
}

/**
 * Workers for every fragment the gateway serves, in this process, with builders that answer at
 * once with data tagged by whom it was built for. They run the engine's real worker side (Bull
 * consumer, claim, generation-guarded complete, readiness events), only the domain builder is
 * replaced, so the gateway in-process sees fragments settle exactly as in production.
 */
export class TestWorkers {
  private constructor(private readonly contexts: INestApplicationContext[]) {}

  static async start(keyPrefix: string, bullPrefix: string, before?: BeforeTestBuild): Promise<TestWorkers> {
    const contexts: INestApplicationContext[] = [];
    try {
      for (const fragment of FRAGMENT_CATALOG_DEFINITIONS) {
        @Module({
          imports: [
            FragmentModule.forRootAsync({
              useFactory: () => ({
                redis: singleRedisTopology(),
                keyPrefix,
                bullPrefix,
                connectionName: `test-${fragment.name}-worker`,
                worker: { concurrency: 8, lockDurationMs: 30_000, stalledIntervalMs: 30_000, drainTimeoutMs: 1000 },
              }),
            }),
            FragmentWorkerModule.register({ fragment, builder: taggingBuilder(fragment.name, before) }),
          ],
        })
        class TestWorkerModule {}
        const context = await NestFactory.createApplicationContext(TestWorkerModule, { logger: false });
        contexts.push(context);
        await context.init();
      }
      return new TestWorkers(contexts);
    } catch (error) {
      await Promise.all(contexts.map((c) => c.close()));
      throw error;
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.contexts.map((context) => context.close()));
  }
}
