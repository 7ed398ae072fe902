import { Module } from '@nestjs/common';
import { AuthModule, authEnvSchema, authOptionsFromEnv } from '@worker-pattern/auth';
import { FRAGMENT_ENV_KEYS, FRAGMENT_REDIS, FragmentModule, fragmentOptionsFromEnv } from '@worker-pattern/fragment';
import { PagesModule } from '@worker-pattern/pages';
import { DB_ENV_KEYS, DbModule, dbOptionsFromEnv } from '@worker-pattern/db';
import { AppConfig, baseEnvSchema, databaseEnvSchema, pickEnv, PlatformModule } from '@worker-pattern/platform';
import { WritesModule } from '@worker-pattern/writes';
import type { z } from 'zod';

const gatewayEnv = baseEnvSchema.extend(databaseEnvSchema.shape).extend(authEnvSchema.shape);
type GatewayEnv = z.output<typeof gatewayEnv>;

/**
 * The gateway. Reads come from Redis alone (no SQL on the read path); Postgres is used by writes
 * only, connected lazily so the gateway starts and serves pages while Postgres is down.
 */
@Module({
  imports: [
    PlatformModule.forRoot({ service: 'gateway', envSchema: gatewayEnv, defaultPort: 3000, readiness: { redis: FRAGMENT_REDIS } }),
    FragmentModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig<GatewayEnv>) => fragmentOptionsFromEnv(pickEnv(config, FRAGMENT_ENV_KEYS), 'gateway'),
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
    DbModule.forRootLazyAsync({ inject: [AppConfig], useFactory: (config: AppConfig<GatewayEnv>) => dbOptionsFromEnv(pickEnv(config, DB_ENV_KEYS), 'gateway') }),
    PagesModule,
    WritesModule,
  ],
})
export class GatewayModule {}
