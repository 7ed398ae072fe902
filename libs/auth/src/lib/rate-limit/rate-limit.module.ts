import {
  type DynamicModule,
  type InjectionToken,
  Module,
  type ModuleMetadata,
  type OptionalFactoryDependency,
} from '@nestjs/common';
import { APP_GUARD, Reflector } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { rateLimitScopeOf } from './rate-limit.decorator';
import { ViewerRateLimitGuard } from './rate-limit.guard';
import { RateLimitMetrics } from './rate-limit.metrics';
import { RATE_LIMIT_OPTIONS, type RateLimitOptions } from './rate-limit.options';
import { RedisThrottlerStorage } from './redis-throttler.storage';

export interface RateLimitModuleAsyncOptions {
  readonly imports?: ModuleMetadata['imports'];
  readonly inject?: Array<InjectionToken | OptionalFactoryDependency>;
  readonly useFactory: (...args: never[]) => RateLimitOptions | Promise<RateLimitOptions>;
}

const WINDOW_MS = 60_000;

@Module({})
class RateLimitOptionsModule {}

/**
 * Per-viewer rate limits for the gateway's API, counted in Redis (`@nestjs/throttler` with the
 * `@nest-lab/throttler-storage-redis` script). Installs `ViewerRateLimitGuard` as a global guard;
 * routes pick their scope with `@RateLimit(...)`. Needs `AuthModule` (tokens) in the app.
 */
@Module({})
export class RateLimitModule {
  static forRootAsync(options: RateLimitModuleAsyncOptions): DynamicModule {
    const optionsModule: DynamicModule = {
      module: RateLimitOptionsModule,
      imports: options.imports ?? [],
      providers: [{ provide: RATE_LIMIT_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] }],
      exports: [RATE_LIMIT_OPTIONS],
    };
    const reflector = new Reflector();
    return {
      module: RateLimitModule,
      imports: [
        optionsModule,
        ThrottlerModule.forRootAsync({
          imports: [optionsModule],
          inject: [RATE_LIMIT_OPTIONS],
          useFactory: (o: RateLimitOptions) => ({
            // One fixed window per scope; exceeding it blocks until the window's length has passed.
            throttlers: [
              {
                name: 'default',
                ttl: WINDOW_MS,
                limit: (context) => o.perMinute[rateLimitScopeOf(reflector, context)],
              },
            ],
            storage: new RedisThrottlerStorage(o.redis, o.keyPrefix, o.storeTimeoutMs),
          }),
        }),
      ],
      providers: [RateLimitMetrics, { provide: APP_GUARD, useClass: ViewerRateLimitGuard }],
    };
  }
}
