import { type DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { AppConfig } from './config/app-config.service';
import { type BaseEnv, type EnvSchema, managementPortDiffers } from './config/env.schema';
import { validateEnv } from './config/env.validation';
import { HealthController } from './health/health.controller';
import { RedisHealthIndicator } from './health/redis.health';
import { createLoggerParams } from './logging/logger.options';
import { MetricsController } from './metrics/metrics.controller';
import { ensureDefaultMetrics } from './metrics/metrics.registry';
import { PLATFORM_READINESS, PLATFORM_SERVICE, type PlatformOptions, type ResolvedReadiness } from './platform.options';

const DEFAULT_READINESS_TIMEOUT_MS = 1000;
const DEFAULT_METRICS = Symbol('PLATFORM_DEFAULT_METRICS');

/**
 * The process shell every app imports once in its root module: validated config, JSON logs with
 * request ids, `/health/live`, `/health/ready` and `/metrics`. It owns no domain and no queue; it
 * only reads the app's Redis client and TypeORM DataSource, and only to ping them.
 */
@Module({})
export class PlatformModule {
  static forRoot<S extends EnvSchema>(options: PlatformOptions<S>): DynamicModule {
    const { service, envSchema, defaultPort, envDefaults, env, logStream } = options;
    const readiness: ResolvedReadiness = {
      redis: options.readiness?.redis,
      postgres: options.readiness?.postgres ?? false,
      timeoutMs: options.readiness?.timeoutMs ?? DEFAULT_READINESS_TIMEOUT_MS,
    };

    return {
      module: PlatformModule,
      global: true,
      imports: [
        // Validation runs as a config factory, i.e. when the app is created and not when this module is
        // declared, and it leaves process.env untouched. The process environment is the only source
        // (no .env file), and `get` answers only for variables the schema knows.
        ConfigModule.forRoot({
          isGlobal: true,
          ignoreEnvFile: true,
          skipProcessEnv: true,
          load: [
            () =>
              validateEnv(envSchema.superRefine(managementPortDiffers), {
                env,
                defaults: { PORT: defaultPort, ...envDefaults },
              }),
          ],
        }),
        LoggerModule.forRootAsync({
          inject: [ConfigService],
          useFactory: (config: ConfigService<BaseEnv, true>) =>
            createLoggerParams({ service, level: config.get('LOG_LEVEL', { infer: true }), stream: logStream }),
        }),
        TerminusModule.forRoot({ errorLogStyle: 'json' }),
      ],
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: AppConfig, useExisting: ConfigService },
        { provide: PLATFORM_SERVICE, useValue: service },
        { provide: PLATFORM_READINESS, useValue: readiness },
        { provide: DEFAULT_METRICS, useFactory: () => ensureDefaultMetrics(service) },
        RedisHealthIndicator,
      ],
      exports: [AppConfig, PLATFORM_SERVICE],
    };
  }
}
