import type { FastifyReply, FastifyRequest } from 'fastify';
import { type AdminCredentials, basicAuthMatches } from './admin-credentials';

const REALM = 'Basic realm="worker-pattern admin", charset="UTF-8"';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Browsers send cached Basic credentials with any request to the site, cross-site ones included,
 * so a state-changing request must prove it comes from the admin page itself: browsers put an
 * `Origin` on every non-GET request, and a page elsewhere cannot forge it.
 */
function fromSameOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (typeof origin !== 'string') return false;
  try {
    return new URL(origin).host === request.host;
  } catch {
    return false;
  }
}

function refuse(reply: FastifyReply, status: 401 | 403, message: string): FastifyReply {
  if (status === 401) void reply.header('www-authenticate', REALM);
  return reply
    .code(status)
    .header('content-type', 'application/json; charset=utf-8')
    .send({ statusCode: status, error: status === 401 ? 'Unauthorized' : 'Forbidden', message });
}

/**
 * A Fastify `onRequest` hook for admin surfaces mounted outside Nest's router (bull-board, the
 * swagger UI in production): 401 with a Basic challenge unless the request carries the admin
 * credentials, and 403 for a state-changing request from another origin (CSRF). Answers are never
 * cached, so a proxy cannot serve an admin page to the next caller.
 */
export function adminBasicAuthHook(credentials: AdminCredentials) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    void reply.header('cache-control', 'no-store');
    // Returning the reply from an async hook is how Fastify is told the request ends here.
    if (!basicAuthMatches(request.headers.authorization, credentials))
      return refuse(reply, 401, 'admin credentials required (HTTP Basic)');
    if (!SAFE_METHODS.has(request.method) && !fromSameOrigin(request))
      return refuse(reply, 403, 'admin changes must come from the admin page itself (Origin mismatch)');
    return undefined;
  };
}
