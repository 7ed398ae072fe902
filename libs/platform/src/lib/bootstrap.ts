import type { IncomingHttpHeaders } from 'node:http';
import { type DynamicModule, Logger as NestLogger, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger, PinoLogger } from 'nestjs-pino';
import { AppConfig } from './config/app-config.service';
import type { BaseEnv } from './config/env.schema';
import {
  BODY_LIMIT_BYTES,
  REQUEST_TIMEOUT_CHECK_MS,
  REQUEST_TIMEOUT_MS,
  refuseOversizedBodies,
} from './http/body-limit';
import { applyHttpSecurity, type HttpSecurityOptions } from './http/http-security';
import { ManagementPort, PLATFORM_MANAGEMENT_ROUTES } from './http/management-port';
import { answerClientError } from './http/client-errors';
import { refuseConnect } from './http/refuse-connect';
import { TrustedProxies } from './http/trusted-proxies';
import { REQUEST_ID_HEADER, resolveRequestId } from './logging/request-id';
import { logRequests } from './logging/request-log.hook';
import { StartupLogger } from './logging/startup.logger';
import { platformServiceOf } from './platform.module';
import { installGracefulShutdown } from './shutdown.watchdog';

export type RootModule = Type<unknown> | DynamicModule;

// The management listener of each app created with MANAGEMENT_PORT set.
const managementPorts = new WeakMap<NestFastifyApplication, ManagementPort>();

/** The app's management listener, when MANAGEMENT_PORT is set. */
export function managementPortOf(app: NestFastifyApplication): ManagementPort | undefined {
  return managementPorts.get(app);
}

export interface CreateHttpAppOptions {
  /**
   * Where the lines logged before the app's logger exists go (stdout by default), with the service
   * the root module gives `PlatformModule.forRoot`.
   */
  startupLogDestination?: NodeJS.WritableStream;
  /**
   * Security headers and CORS, for apps browsers talk to (the gateway); a function of the app when
   * the values come from its validated config. Absent: neither is added.
   */
  security?: HttpSecurityOptions | ((app: NestFastifyApplication) => HttpSecurityOptions);
  /**
   * What the app adds to its HTTP surface before it starts: static assets, docs, a microservice
   * transport (a hybrid app), … Runs here rather than in `bootstrapHttpApp` so that tests built on
   * `createHttpApp` get exactly the surface production serves.
   */
  configure?: (app: NestFastifyApplication) => void | Promise<void>;
  /**
   * Route prefixes the app adds to the operator routes (`/metrics`, `/health`) that move to
   * MANAGEMENT_PORT when it is set, e.g. the gateway's `/admin/queues`.
   */
  managementRoutes?: readonly string[];
}

export type BootstrapOptions = CreateHttpAppOptions;

/**
 * The app exactly as `bootstrapHttpApp` runs it, without listening: tests build on this (then
 * `app.init()` and `app.inject(...)`, or `app.listen(0, '127.0.0.1')`) so they exercise the real setup.
 */
export async function createHttpApp(
  rootModule: RootModule,
  options: CreateHttpAppOptions = {},
): Promise<NestFastifyApplication> {
  // Known once the app's config is loaded, below; until then no peer is trusted.
  let trustedProxies = new TrustedProxies();
  const app = await NestFactory.create<NestFastifyApplication>(
    rootModule,
    new FastifyAdapter({
      // The client address and protocol come from X-Forwarded-* headers only when the peer is one of
      // TRUSTED_PROXIES (the ingress); anyone else could forge them.
      trustProxy: (address: string) => trustedProxies.trusts(address),
      bodyLimit: BODY_LIMIT_BYTES,
      requestTimeout: REQUEST_TIMEOUT_MS,
      // A request Node cannot parse gets a JSON 4xx with `Connection: close` (client-errors.ts).
      clientErrorHandler: answerClientError,
      // Node arms its timeout checks from the options the server is created with; Fastify sets
      // requestTimeout only afterwards, which alone never fires.
      http: { requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: REQUEST_TIMEOUT_CHECK_MS },
      // Fastify owns the request id: echoed in x-request-id and on the request's log line.
      genReqId: (req: { headers: IncomingHttpHeaders }) => resolveRequestId(req.headers[REQUEST_ID_HEADER]),
    }),
    // Start-up lines wait for the app's logger; if start-up fails first they go out through the
    // StartupLogger, as JSON too. A failure throws here instead of aborting the process.
    {
      bufferLogs: true,
      abortOnError: false,
      logger: new StartupLogger(platformServiceOf(rootModule), options.startupLogDestination),
    },
  );
  app.useLogger(app.get(Logger));
  const config = app.get<AppConfig<BaseEnv>>(AppConfig);
  trustedProxies = new TrustedProxies(config.get('TRUSTED_PROXIES', { infer: true }));
  // Nest flushes the buffer on listen(); flush now so an app that is only init()ed (tests) logs too.
  app.flushLogs();
  // Echoed on every response, 404s included, so a caller can quote it when reporting a problem.
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', (request, reply, done) => {
      reply.header(REQUEST_ID_HEADER, request.id);
      done();
    });
  const managementPort = config.get('MANAGEMENT_PORT', { infer: true });
  if (managementPort !== undefined) {
    const management = new ManagementPort(managementPort, [
      ...PLATFORM_MANAGEMENT_ROUTES,
      ...(options.managementRoutes ?? []),
    ]);
    management.install(app.getHttpAdapter().getInstance());
    managementPorts.set(app, management);
  }
  logRequests(app.getHttpAdapter().getInstance(), (await app.resolve(PinoLogger)).logger);
  refuseOversizedBodies(app.getHttpAdapter().getInstance());
  refuseConnect(app.getHttpAdapter().getHttpServer());
  try {
    if (options.security)
      await applyHttpSecurity(app, typeof options.security === 'function' ? options.security(app) : options.security);
    await options.configure?.(app);
  } catch (error) {
    // The container is up (connections open): a failed setup must not leave it running.
    await app.close().catch(() => undefined);
    throw error;
  }
  // Signals are handled by bootstrapHttpApp (installGracefulShutdown), not enableShutdownHooks:
  // app.close() runs the same shutdown hooks (@nestjs/bull closes queues, waiting for active jobs)
  // and then the process exits on its own terms, PID 1 in a container included.
  return app;
}

/**
 * Listens on HOST:PORT and, when MANAGEMENT_PORT is set, then on HOST:MANAGEMENT_PORT: the public
 * port first, so a ready probe (on the management port) never passes before traffic can arrive.
 */
export async function listenHttpApp(app: NestFastifyApplication): Promise<void> {
  const config = app.get<AppConfig<BaseEnv>>(AppConfig);
  const host: string = config.get('HOST', { infer: true });
  const port: number = config.get('PORT', { infer: true });
  await app.listen(port, host);
  await managementPortOf(app)?.listen(app.getHttpAdapter().getInstance(), host);
}

/**
 * `main.ts` of every app: create, listen on HOST:PORT from the validated config, bound the shutdown.
 * A failure to start (bad config, port taken, …) is logged as JSON and ends the process with exit 1.
 */
export async function bootstrapHttpApp(
  rootModule: RootModule,
  options: BootstrapOptions = {},
): Promise<NestFastifyApplication> {
  // Named once, in the root module (`PlatformModule.forRoot`, or a worker's registry entry).
  const service = platformServiceOf(rootModule) ?? 'app';
  try {
    const app = await createHttpApp(rootModule, options);
    // Transports `configure` connected start before HTTP, so a ready gateway already hears events.
    await app.startAllMicroservices();
    const config = app.get<AppConfig<BaseEnv>>(AppConfig);
    const logger = new NestLogger('Bootstrap');

    installGracefulShutdown({
      close: () => app.close(),
      exit: (code) => process.exit(code),
      onCloseError: (error) => logger.error(`${service} failed to shut down cleanly: ${(error as Error).message}`),
      timeoutMs: config.get('SHUTDOWN_TIMEOUT_MS', { infer: true }),
      onTimeout: (signal, timeoutMs) => {
        logger.error(`${service} did not shut down within ${timeoutMs} ms of ${signal}; exiting`);
        process.exit(1);
      },
    });

    await listenHttpApp(app);
    const management = managementPortOf(app)?.address();
    logger.log(
      `${service} listening on ${await app.getUrl()}` +
        (management ? `; management (metrics, health, admin) on port ${management.port}` : ''),
    );
    return app;
  } catch (error) {
    // The app's logger may not exist yet (config is what failed, say).
    new StartupLogger(platformServiceOf(rootModule), options.startupLogDestination).fatal(
      { err: error, msg: `${service} failed to start` },
      'Bootstrap',
    );
    process.exit(1);
  }
}
