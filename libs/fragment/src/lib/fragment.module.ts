import { BullModule } from '@nestjs/bull';
import {
  Global,
  Inject,
  Module,
  type DynamicModule,
  type InjectionToken,
  type ModuleMetadata,
  type OnApplicationShutdown,
  type OptionalFactoryDependency,
} from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { FragmentModuleOptions } from './fragment-options';
import { connectOrFail, createBullClient, createFragmentRedis } from './fragment-redis';
import { FragmentStore } from './fragment-store';
import { FRAGMENT_OPTIONS, FRAGMENT_REDIS } from './fragment.tokens';
import { QueueDepthCollector } from './queue-depth.collector';

export interface FragmentModuleAsyncOptions {
  readonly imports?: ModuleMetadata['imports'];
  readonly inject?: Array<InjectionToken | OptionalFactoryDependency>;
  readonly useFactory: (...args: never[]) => FragmentModuleOptions | Promise<FragmentModuleOptions>;
}

@Global()
@Module({})
class FragmentOptionsModule {}

/**
 * Bull does not close connections made by a custom `createClient`; this registry does, after the
 * queues have drained.
 */
class BullConnections implements OnApplicationShutdown {
  private readonly clients = new Set<Redis>();

  create(options: FragmentModuleOptions, type: 'client' | 'subscriber' | 'bclient'): Redis {
    const client = createBullClient(options.redisUrl, options.connectionName ?? 'fragment', type);
    this.clients.add(client);
    return client;
  }

  onApplicationShutdown(): void {
    for (const client of this.clients) client.disconnect();
    this.clients.clear();
  }
}

/** Closes the engine's Redis connection last, after queues have drained (beforeApplicationShutdown). */
class FragmentRedisCloser implements OnApplicationShutdown {
  constructor(@Inject(FRAGMENT_REDIS) private readonly redis: Redis) {}

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/**
 * The engine's shared part, imported once by every app: options, the Redis connection, the store
 * and Bull's root configuration. The gateway adds `FragmentGatewayModule`, a worker
 * `FragmentWorkerModule`.
 */
@Global()
@Module({})
export class FragmentModule {
  static forRootAsync(options: FragmentModuleAsyncOptions): DynamicModule {
    const optionsModule: DynamicModule = {
      module: FragmentOptionsModule,
      imports: options.imports ?? [],
      providers: [
        { provide: FRAGMENT_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] },
        BullConnections,
      ],
      exports: [FRAGMENT_OPTIONS, BullConnections],
    };
    return {
      module: FragmentModule,
      imports: [
        optionsModule,
        BullModule.forRootAsync({
          imports: [optionsModule],
          inject: [FRAGMENT_OPTIONS, BullConnections],
          useFactory: (o: FragmentModuleOptions, connections: BullConnections) => ({
            prefix: o.bullPrefix,
            createClient: (type) => connections.create(o, type),
            settings: o.worker
              ? {
                  lockDuration: o.worker.lockDurationMs,
                  stalledInterval: o.worker.stalledIntervalMs,
                  maxStalledCount: 1,
                }
              : undefined,
          }),
        }),
      ],
      providers: [
        {
          provide: FRAGMENT_REDIS,
          inject: [FRAGMENT_OPTIONS],
          useFactory: async (o: FragmentModuleOptions) => {
            const redis = createFragmentRedis(o.redisUrl, `${o.connectionName ?? 'fragment'}:store`);
            await connectOrFail(redis, 10_000);
            return redis;
          },
        },
        FragmentRedisCloser,
        FragmentStore,
        QueueDepthCollector,
      ],
      exports: [optionsModule, BullModule, FRAGMENT_REDIS, FragmentStore, QueueDepthCollector],
    };
  }
}
