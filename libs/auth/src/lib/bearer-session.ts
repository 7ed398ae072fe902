import type { FastifyRequest } from 'fastify';
import { InvalidTokenError, type ViewerSession, type ViewerTokens } from './viewer-tokens';

/** What a request's `Authorization` header says: no header, not a bearer token, a bad token, or a viewer. */
export type BearerCheck =
  | { readonly outcome: 'missing' | 'malformed' }
  | { readonly outcome: 'invalid'; readonly reason: string }
  | { readonly outcome: 'valid'; readonly session: ViewerSession };

const CHECKED = Symbol('bearer check');
const BEARER = /^Bearer ([A-Za-z0-9_.-]+)$/;

type CheckedRequest = FastifyRequest & { [CHECKED]?: { readonly header: string; readonly check: BearerCheck } };

/**
 * The request's bearer token, verified once per request: the rate-limit guard (which must know the
 * viewer before the route's own guard runs) and `ViewerGuard` share the answer.
 */
export function checkBearer(request: FastifyRequest, tokens: ViewerTokens): BearerCheck {
  const header = request.headers.authorization;
  if (header === undefined) return { outcome: 'missing' };
  const memo = (request as CheckedRequest)[CHECKED];
  if (memo?.header === header) return memo.check;
  const check = verify(header, tokens);
  (request as CheckedRequest)[CHECKED] = { header, check };
  return check;
}

function verify(header: string, tokens: ViewerTokens): BearerCheck {
  const match = BEARER.exec(header);
  if (!match) return { outcome: 'malformed' };
  try {
    return { outcome: 'valid', session: tokens.session(match[1] ?? '') };
  } catch (error) {
    if (error instanceof InvalidTokenError) return { outcome: 'invalid', reason: error.message };
    throw error;
  }
}
