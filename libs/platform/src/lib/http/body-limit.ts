import { PayloadTooLargeException } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';

/** Our requests are small JSON bodies; a large one is a mistake or an attack. */
export const BODY_LIMIT_BYTES = 64 * 1024;

/**
 * Time to receive a whole request, headers and body: a 64 KiB body needs a fraction of it even on a
 * slow link, and a client that stops sending mid-request (a half-sent chunked body, a slowloris)
 * gets a 408 instead of holding the connection forever (Fastify's default is no limit). It ends
 * when the request has arrived, so an event stream may stay open as long as it likes.
 */
export const REQUEST_TIMEOUT_MS = 10_000;
/** How often Node looks for requests past that timeout (its default is every 30 s). */
export const REQUEST_TIMEOUT_CHECK_MS = 1_000;

export const BODY_TOO_LARGE_MESSAGE = `request body too large: at most ${BODY_LIMIT_BYTES} bytes (64 KiB)`;

/**
 * Refuses a request whose Content-Length announces more than the limit, before a byte of the body
 * is read, with a 413 that says what the limit is (Fastify's own check, which still guards chunked
 * bodies, only says "Request body is too large"). The connection is closed rather than drained.
 * A preParsing hook, so every onRequest hook (request id, security headers) has run by then.
 */
export function refuseOversizedBodies(instance: FastifyInstance): void {
  instance.addHook('preParsing', (request, reply, payload, done) => {
    const announced = request.headers['content-length'];
    if (announced !== undefined && /^\d+$/.test(announced) && Number(announced) > BODY_LIMIT_BYTES) {
      void reply.header('connection', 'close');
      return done(new PayloadTooLargeException(BODY_TOO_LARGE_MESSAGE));
    }
    done(null, payload);
  });
}
