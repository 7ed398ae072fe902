import { BullModule } from '@nestjs/bull';
import {
  ConfigurableModuleBuilder,
  Global,
  Inject,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { JITTERED_BACKOFF, jitteredBackoff } from './fragment-job';
import type { FragmentModuleOptions } from './fragment-options';
import { FragmentStore } from './fragment-store';
import { FRAGMENT_OPTIONS, FRAGMENT_QUEUE_REDIS, FRAGMENT_REDIS } from './fragment.tokens';
import {
  checkEvictionPolicy,
  connectOrFail,
  createRedisClient,
  type RedisClient,
  type RedisRole,
} from './redis-clients';
import { QueueDepthCollector } from './queue-depth.collector';

/**
 * Nest's configurable-module plumbing for the options (`forRoot`, `forRootAsync` with `useFactory`,
 * `useClass` or `useExisting`), provided as `FRAGMENT_OPTIONS`. A module of its own, global, so that
 * Bull's root module and every engine module can inject the options.
 */
const fragmentOptions = new ConfigurableModuleBuilder<FragmentModuleOptions>({
  optionsInjectionToken: FRAGMENT_OPTIONS,
})
  .setClassMethodName('forRoot')
  .build();

export type FragmentModuleSyncOptions = typeof fragmentOptions.OPTIONS_TYPE;
export type FragmentModuleAsyncOptions = typeof fragmentOptions.ASYNC_OPTIONS_TYPE;

@Global()
@Module({})
class FragmentOptionsModule extends fragmentOptions.ConfigurableModuleClass {}

/**
 * Bull does not close connections made by a custom `createClient`; this registry does, after the
 * queues have drained.
 */
class BullConnections implements OnApplicationShutdown {
  private readonly clients = new Set<RedisClient>();

  create(options: FragmentModuleOptions, type: 'client' | 'subscriber' | 'bclient'): RedisClient {
    const name = `${options.connectionName ?? 'fragment'}:bull-${type}`;
    const client = createRedisClient(options.redis.queue, name, `bull-${type}`);
    this.clients.add(client);
    return client;
  }

  onApplicationShutdown(): void {
    for (const client of this.clients) client.disconnect();
    this.clients.clear();
  }
}

/** Closes the engine's Redis connections last, after queues have drained (beforeApplicationShutdown). */
class FragmentRedisCloser implements OnApplicationShutdown {
  constructor(
    @Inject(FRAGMENT_REDIS) private readonly cache: RedisClient,
    @Inject(FRAGMENT_QUEUE_REDIS) private readonly queue: RedisClient,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.cache, this.queue].map((redis) => redis.quit().catch(() => redis.disconnect())));
  }
}

/** A role's command connection, connected (or start-up fails naming the endpoint), its eviction policy checked. */
async function connectRole(o: FragmentModuleOptions, role: RedisRole): Promise<RedisClient> {
  const endpoint = o.redis[role];
  const redis = createRedisClient(endpoint, `${o.connectionName ?? 'fragment'}:${role}`, 'command');
  await connectOrFail(redis, endpoint, 10_000);
  const shared = JSON.stringify(o.redis.cache) === JSON.stringify(o.redis.queue);
  if (role === 'cache' || !shared) await checkEvictionPolicy(redis, role, endpoint, shared);
  return redis;
}

/**
 * The engine's shared part, imported once by every app: options, the Redis connections (cache and
 * queue roles, one Redis, two, or a Cluster), the store and Bull's root configuration. The gateway adds `FragmentGatewayModule`, a worker
 * `FragmentWorkerModule`.
 */
@Global()
@Module({})
export class FragmentModule {
  static forRoot(options: FragmentModuleSyncOptions): DynamicModule {
    return FragmentModule.withOptions(FragmentOptionsModule.forRoot(options));
  }

  static forRootAsync(options: FragmentModuleAsyncOptions): DynamicModule {
    return FragmentModule.withOptions(FragmentOptionsModule.forRootAsync(options));
  }

  private static withOptions(options: DynamicModule): DynamicModule {
    const optionsModule: DynamicModule = {
      ...options,
      providers: [...(options.providers ?? []), BullConnections],
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
            // Each queue's (hash-tagged) prefix comes with its registration: registerFragmentQueues.
            createClient: (type) => connections.create(o, type),
            settings: o.worker
              ? {
                  lockDuration: o.worker.lockDurationMs,
                  stalledInterval: o.worker.stalledIntervalMs,
                  maxStalledCount: 1,
                  backoffStrategies: { [JITTERED_BACKOFF]: jitteredBackoff },
                }
              : undefined,
          }),
        }),
      ],
      providers: [
        {
          provide: FRAGMENT_REDIS,
          inject: [FRAGMENT_OPTIONS],
          useFactory: (o: FragmentModuleOptions) => connectRole(o, 'cache'),
        },
        {
          provide: FRAGMENT_QUEUE_REDIS,
          inject: [FRAGMENT_OPTIONS],
          useFactory: (o: FragmentModuleOptions) => connectRole(o, 'queue'),
        },
        FragmentRedisCloser,
        FragmentStore,
        QueueDepthCollector,
      ],
      exports: [optionsModule, BullModule, FRAGMENT_REDIS, FRAGMENT_QUEUE_REDIS, FragmentStore, QueueDepthCollector],
    };
  }
}
