import type { INestApplication } from '@nestjs/common';
import { type MicroserviceOptions, Transport } from '@nestjs/microservices';
import type { FragmentModuleOptions } from './fragment-options';
import { FRAGMENT_OPTIONS } from './fragment.tokens';

/** Nest Redis transport options from a `redis://` / `rediss://` URL. */
export function fragmentEventsTransport(redisUrl: string, connectionName: string): MicroserviceOptions {
  const url = new URL(redisUrl);
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
  return {
    transport: Transport.REDIS,
    options: {
      host: url.hostname,
      port: url.port ? Number(url.port) : 6379,
      username: url.username ? decodeURIComponent(url.username) : undefined,
      password: url.password ? decodeURIComponent(url.password) : undefined,
      db: Number.isInteger(db) ? db : 0,
      tls: url.protocol === 'rediss:' ? {} : undefined,
      connectionName: `${connectionName}:events`,
      // Nest's Redis server stops reconnecting after `retryAttempts`; a gateway must never go deaf.
      retryAttempts: Number.MAX_SAFE_INTEGER,
      retryDelay: 1000,
    },
  };
}

/**
 * Makes the gateway a hybrid app that also listens to the workers' readiness events. Call before
 * `listen()`; `startAllMicroservices()` (or `listen()`) starts the subscription.
 */
export function connectFragmentEvents(app: INestApplication): void {
  const options = app.get<FragmentModuleOptions>(FRAGMENT_OPTIONS);
  app.connectMicroservice<MicroserviceOptions>(
    fragmentEventsTransport(options.redisUrl, options.connectionName ?? 'gateway'),
    {
      inheritAppConfig: true,
    },
  );
}
