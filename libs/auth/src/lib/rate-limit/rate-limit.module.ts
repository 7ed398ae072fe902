import { ConfigurableModuleBuilder, type DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { MemoizedReflector } from './memoized-reflector';
import { rateLimitScopeOf } from './rate-limit.decorator';
import { ViewerRateLimitGuard } from './rate-limit.guard';
import { RateLimitMetrics } from './rate-limit.metrics';
import { RATE_LIMIT_OPTIONS, type RateLimitOptions } from './rate-limit.options';
import { RedisThrottlerStorage } from './redis-throttler.storage';

const WINDOW_MS = 60_000;

/** Nest's configurable-module plumbing for the options, provided as `RATE_LIMIT_OPTIONS` to Throttler's root module. */
const rateLimitOptions = new ConfigurableModuleBuilder<RateLimitOptions>({ optionsInjectionToken: RATE_LIMIT_OPTIONS })
  .setClassMethodName('forRoot')
  .setExtras({}, (definition) => ({ ...definition, exports: [RATE_LIMIT_OPTIONS] }))
  .build();

export type RateLimitModuleAsyncOptions = typeof rateLimitOptions.ASYNC_OPTIONS_TYPE;

@Module({})
class RateLimitOptionsModule extends rateLimitOptions.ConfigurableModuleClass {}

/**
 * Per-viewer rate limits for the gateway's API, counted in Redis (`@nestjs/throttler` with the
 * `@nest-lab/throttler-storage-redis` script). Installs `ViewerRateLimitGuard` as a global guard;
 * routes pick their scope with `@RateLimit(...)`. Needs `AuthModule` (tokens) in the app.
 */
@Module({})
export class RateLimitModule {
  static forRootAsync(options: RateLimitModuleAsyncOptions): DynamicModule {
    const optionsModule = RateLimitOptionsModule.forRootAsync(options);
    const reflector = new MemoizedReflector();
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
