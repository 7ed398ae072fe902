import { type DynamicModule, Module, type Type } from '@nestjs/common';
import { MODULE_METADATA } from '@nestjs/common/constants';
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
// The service each `forRoot` module was given, so `platformServiceOf` can find it without options.
const services = new WeakMap<DynamicModule, string>();
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

    const platform: DynamicModule = {
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
    services.set(platform, service);
    return platform;
  }
}

/**
 * The service name a root module gives `PlatformModule.forRoot` somewhere among its imports (a
 * worker's goes through WorkerHostModule), so `main.ts` need not repeat it. Imports given as a
 * promise or a forward reference are not followed; undefined when no `forRoot` is found.
 */
export function platformServiceOf(root: Type<unknown> | DynamicModule): string | undefined {
  const seen = new Set<unknown>();
  const importsOf = (module: Type<unknown>): unknown[] =>
    (Reflect.getMetadata(MODULE_METADATA.IMPORTS, module) as unknown[] | undefined) ?? [];
  const visit = (node: unknown): string | undefined => {
    if (node === null || node === undefined || seen.has(node)) return undefined;
    seen.add(node);
    let children: unknown[] = [];
    if (typeof node === 'function') children = importsOf(node as Type<unknown>);
    else if (typeof node === 'object' && 'module' in node) {
      const dynamic = node as DynamicModule;
      const service = services.get(dynamic);
      if (service !== undefined) return service;
      children = [...importsOf(dynamic.module), ...(dynamic.imports ?? [])];
    }
    for (const child of children) {
      const service = visit(child);
      if (service !== undefined) return service;
    }
    return undefined;
  };
  return visit(root);
}
