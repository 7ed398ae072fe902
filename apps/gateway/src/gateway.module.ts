import { Module } from '@nestjs/common';
import { AuthModule, authEnvSchema, authOptionsFromEnv } from '@worker-pattern/auth';
import { FRAGMENT_REDIS, FragmentModule, fragmentOptionsFromEnv } from '@worker-pattern/fragment';
import { PagesModule } from '@worker-pattern/pages';
import { AppConfig, baseEnvSchema, PlatformModule } from '@worker-pattern/platform';
import type { z } from 'zod';

const gatewayEnv = baseEnvSchema.extend(authEnvSchema.shape);
type GatewayEnv = z.output<typeof gatewayEnv>;

/** The gateway: Redis and queues only, never Postgres (no SQL on the read path). */
@Module({
  imports: [
    PlatformModule.forRoot({ service: 'gateway', envSchema: gatewayEnv, defaultPort: 3000, readiness: { redis: FRAGMENT_REDIS } }),
    FragmentModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig<GatewayEnv>) =>
        fragmentOptionsFromEnv(
          {
            REDIS_URL: config.get('REDIS_URL', { infer: true }),
            REDIS_KEY_PREFIX: config.get('REDIS_KEY_PREFIX', { infer: true }),
            BULL_PREFIX: config.get('BULL_PREFIX', { infer: true }),
          },
          'gateway',
        ),
    }),
    AuthModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig<GatewayEnv>) =>
        authOptionsFromEnv({
          NODE_ENV: config.get('NODE_ENV', { infer: true }),
          JWT_SECRET: config.get('JWT_SECRET', { infer: true }),
          JWT_TTL_SECONDS: config.get('JWT_TTL_SECONDS', { infer: true }),
          DEV_LOGIN: config.get('DEV_LOGIN', { infer: true }),
        }),
    }),
    PagesModule,
  ],
})
export class GatewayModule {}
