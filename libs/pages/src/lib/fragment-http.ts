import { renderFragmentJson, type FragmentState } from '@worker-pattern/fragment';
import type { FastifyReply } from 'fastify';

/** Retry-After is whole seconds: round up so a client never comes back too early. */
export function retryAfterSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}

/**
 * HTTP status of a single fragment: ready/stale 200, pending 202 with Retry-After, failed 404 when
 * the thing does not exist, else 502 (the build behind the gateway failed) with Retry-After.
 */
export function fragmentHttpStatus(state: FragmentState): number {
  switch (state.status) {
    case 'ready':
    case 'stale':
      return 200;
    case 'pending':
      return 202;
    case 'failed':
      return state.errorCode === 'not_found' ? 404 : 502;
  }
}

export function sendJson(reply: FastifyReply, status: number, json: string, retryAfterMs?: number): void {
  reply.code(status).header('content-type', 'application/json; charset=utf-8').header('cache-control', 'no-store');
  if (retryAfterMs !== undefined) reply.header('retry-after', retryAfterSeconds(retryAfterMs));
  void reply.send(json);
}

export function sendFragment(reply: FastifyReply, state: FragmentState): void {
  const status = fragmentHttpStatus(state);
  const retry = status === 202 || status === 502 ? (state.retryAfterMs ?? 1000) : undefined;
  sendJson(reply, status, renderFragmentJson(state), retry);
}

/** `{"page":…,"fragments":{"<name>":F,…}}`, concatenated around the stored data. */
export function renderPageJson(page: string, names: readonly string[], states: readonly FragmentState[]): string {
  const parts = states.map((state, i) => `${JSON.stringify(names[i])}:${renderFragmentJson(state)}`);
  return `{"page":${JSON.stringify(page)},"fragments":{${parts.join(',')}}}`;
}
