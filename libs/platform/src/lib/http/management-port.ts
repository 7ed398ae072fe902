import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { REQUEST_TIMEOUT_CHECK_MS, REQUEST_TIMEOUT_MS } from './body-limit';
import { refuseConnect } from './refuse-connect';

/** What every app serves for operators: the scrape endpoint and the orchestrator's probes. */
export const PLATFORM_MANAGEMENT_ROUTES: readonly string[] = ['/metrics', '/health'];

const READ_METHODS = new Set(['GET', 'HEAD']);

/**
 * With MANAGEMENT_PORT set, the app's operator routes (`/metrics`, `/health/*`, and what the app
 * adds, e.g. the gateway's `/admin/queues`) answer on a second listener and nowhere else; the public
 * port answers 404 for them, as for any unknown route, and the management port 404 for everything
 * else. Both listeners feed the same Fastify instance (`fastify.routing`), so one set of routes,
 * hooks and providers serves both. The management listener is read-only (GET and HEAD; anything
 * else 405): a scrape or a probe never changes anything, and no Service exposes that port.
 */
export class ManagementPort {
  private server?: Server;
  private readonly requests = new WeakSet<IncomingMessage>();

  constructor(
    readonly port: number,
    private readonly routes: readonly string[] = PLATFORM_MANAGEMENT_ROUTES,
  ) {}

  /** Whether a matched route (its pattern, never the raw URL) is one of the operator routes. */
  isManagementRoute(route: string | undefined): boolean {
    if (route === undefined) return false;
    return this.routes.some((prefix) => route === prefix || route.startsWith(`${prefix}/`));
  }

  /** Splits the routes between the two listeners; call before the app registers its routes. */
  install(instance: FastifyInstance): void {
    instance.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      // Already a 404 (no route matched) on either port.
      if (request.routeOptions.url === undefined) return undefined;
      // The pattern Fastify matched, so no spelling of a URL (case, slashes, encoding) crosses over.
      const management = this.isManagementRoute(request.routeOptions.url);
      const onManagementPort = this.requests.has(request.raw);
      if (management !== onManagementPort) {
        // Nest's own 404, as for a route that does not exist here.
        reply.callNotFound();
        return reply;
      }
      if (onManagementPort && !READ_METHODS.has(request.method)) {
        return reply
          .code(405)
          .header('allow', 'GET, HEAD')
          .send({
            statusCode: 405,
            error: 'Method Not Allowed',
            message: `the management port is read-only: ${request.method} is not allowed (GET or HEAD)`,
          });
      }
      return undefined;
    });
    instance.addHook('preClose', async () => {
      await this.close();
    });
  }

  /** Starts the management listener on `host`, beside the public one. */
  async listen(instance: FastifyInstance, host: string): Promise<void> {
    const server = createServer(
      // As the public listener (see bootstrap.ts): Node arms its timeout checks from these options.
      { requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: REQUEST_TIMEOUT_CHECK_MS },
      (request, response) => {
        this.requests.add(request);
        instance.routing(request, response);
      },
    );
    refuseConnect(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  /** Where the management listener is bound, once listening. */
  address(): { address: string; port: number } | undefined {
    const address = this.server?.address();
    return address && typeof address === 'object' ? { address: address.address, port: address.port } : undefined;
  }

  private async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    // Scrapers keep connections alive between scrapes: idle ones would hold close() open.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await closed;
  }
}
