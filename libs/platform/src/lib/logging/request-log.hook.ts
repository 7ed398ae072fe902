import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { isQuietPath } from './request-id';
import { redactUrl } from './logger.options';

/**
 * One JSON line per answered request: what pino-http's middleware logged, without its cost.
 * nestjs-pino's middleware runs every request inside an AsyncLocalStorage, and on Node 20 the first
 * `run()` switches on promise hooks for the whole process, so every promise of every request pays
 * for them: the warm dashboard served 3,800 req/s with it and 6,000 without (bench/, scenario 2).
 * Lines that code logs while serving a request therefore carry the request id only where that code
 * passes it (the engine does: into the job and every build line); this line always carries it.
 *
 * `log` is the app's root logger, the one Nest's Logger writes to. Levels as before: info for
 * answers below 400, warn for 4xx, error for 5xx; probe and scrape traffic is not logged.
 * Credentials never appear: no headers are logged and secret query values are cut out of the URL
 * (here, the only place a request's URL is logged).
 */
export function logRequests(fastify: FastifyInstance, log: Logger): void {
  // On the response's `close`, which comes for every request — after the last byte, or when the
  // client goes away first — and so also for hijacked replies such as event streams, which never
  // reach Fastify's onResponse when the client disconnects.
  // Callback hooks here and in the platform's other per-request hooks: an async one costs every
  // request a promise and a microtask turn (bench/, scenario 2).
  fastify.addHook('onRequest', (request, reply, done) => {
    if (isQuietPath(request.url)) return done();
    reply.raw.once('close', () => {
      const status = reply.raw.statusCode;
      const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
      if (!log.isLevelEnabled(level)) return;
      log[level](
        {
          reqId: request.id,
          req: { id: request.id, method: request.method, url: redactUrl(request.url), remoteAddress: request.ip },
          res: { statusCode: status },
          responseTime: Math.round(reply.elapsedTime * 100) / 100,
          ...(reply.raw.writableFinished ? {} : { aborted: true }),
        },
        status >= 500 ? 'request errored' : 'request completed',
      );
    });
    done();
  });
}
