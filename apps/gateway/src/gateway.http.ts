import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { adminCredentialsFromEnv } from '@worker-pattern/auth';
import { connectFragmentEvents } from '@worker-pattern/fragment';
import { FRAGMENT_CATALOG_DEFINITIONS } from '@worker-pattern/pages';
import { AppConfig, type BootstrapOptions, pickEnv } from '@worker-pattern/platform';
import { INVALIDATIONS_QUEUE } from '@worker-pattern/write-events';
import { API_DOCS_PATH, setupApiDocs } from './api-docs.setup';
import type { GatewayEnv } from '@worker-pattern/pages';
import { mountQueueDashboard, QUEUE_DASHBOARD_PATH } from './queue-dashboard.setup';

export interface GatewayHttpOptions {
  /** The demo page's bundled script and stylesheet, served at /assets/; tests leave it out. */
  readonly assetsRoot?: string;
}

/** Every queue the gateway produces to, shown on the queue dashboard. */
export const GATEWAY_QUEUES: readonly string[] = [
  ...new Set([...FRAGMENT_CATALOG_DEFINITIONS.map((f) => f.queue), INVALIDATIONS_QUEUE]),
];

const configOf = (app: NestFastifyApplication) => app.get<AppConfig<GatewayEnv>>(AppConfig);

/**
 * The gateway's HTTP surface beyond its Nest routes, shared by main.ts and the tests that build the
 * app in-process: security headers and CORS, the readiness events (a hybrid app), static assets,
 * OpenAPI docs and the queue dashboard.
 */
export function gatewayHttpOptions(options: GatewayHttpOptions = {}): BootstrapOptions {
  return {
    // With MANAGEMENT_PORT set, the queue dashboard moves there too (read-only), off the public port.
    managementRoutes: [QUEUE_DASHBOARD_PATH],
    security: (app) => ({
      corsOrigins: configOf(app).get('CORS_ORIGINS', { infer: true }),
      // JSON under /api/ takes the JSON API's headers; the docs UI there is a document.
      jsonApi: { prefix: '/api/', documents: [API_DOCS_PATH] },
    }),
    configure: async (app) => {
      const config = configOf(app);
      connectFragmentEvents(app);
      if (options.assetsRoot) {
        // decorateReply: false leaves `reply.sendFile` to bull-board's own static plugin.
        app.useStaticAssets({ root: options.assetsRoot, prefix: '/assets/', maxAge: '1h', decorateReply: false });
      }
      const credentials = adminCredentialsFromEnv(pickEnv(config, ['NODE_ENV', 'ADMIN_USER', 'ADMIN_PASSWORD']));
      setupApiDocs(app, {
        enabled: config.get('API_DOCS', { infer: true }),
        production: config.get('NODE_ENV', { infer: true }) === 'production',
        credentials,
      });
      await mountQueueDashboard(app, credentials, GATEWAY_QUEUES, {
        readOnly: config.get('MANAGEMENT_PORT', { infer: true }) !== undefined,
      });
    },
  };
}
