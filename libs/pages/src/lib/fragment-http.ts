import { fragmentJsonBytes, type FragmentState, type PageBodies } from '@worker-pattern/fragment';
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

export function sendJson(reply: FastifyReply, status: number, json: string | Buffer, retryAfterMs?: number): void {
  reply.code(status).header('content-type', 'application/json; charset=utf-8').header('cache-control', 'no-store');
  if (retryAfterMs !== undefined) reply.header('retry-after', retryAfterSeconds(retryAfterMs));
  void reply.send(json);
}

export function sendFragment(reply: FastifyReply, state: FragmentState): void {
  const status = fragmentHttpStatus(state);
  const retry = status === 202 || status === 502 ? (state.retryAfterMs ?? 1000) : undefined;
  sendJson(reply, status, fragmentJsonBytes(state), retry);
}

/**
 * A page's JSON body, `{"page":…,"fragments":{"<name>":F,…}}`, as bytes: the fixed parts encoded
 * once per page, each fragment's `F` from its kept encoding (a near-cache copy) or rendered, and
 * the body of a page of kept copies kept with them (`PageBodies`): a warm page is a Buffer the
 * socket takes as it is, no string built, flattened and encoded again for the length and the write.
 */
export class PageFrame {
  /** `{"page":…,"fragments":{"<first>":`, then `,"<next>":` for each next fragment, then `}}`. */
  private readonly pieces: readonly Buffer[];
  private readonly fixedBytes: number;

  constructor(page: string, names: readonly string[]) {
    this.pieces = [
      ...names.map((name, i) =>
        Buffer.from(`${i === 0 ? `{"page":${JSON.stringify(page)},"fragments":{` : ','}${JSON.stringify(name)}:`),
      ),
      Buffer.from(names.length === 0 ? `{"page":${JSON.stringify(page)},"fragments":{}}` : '}}'),
    ];
    this.fixedBytes = this.pieces.reduce((n, piece) => n + piece.length, 0);
  }

  /**
   * The body with `states` in the frame's order (one per name). A page wholly of ready kept copies
   * (each with its `json`) is answered with the body `kept` holds for exactly those copies, else
   * assembled and left there.
   */
  body(states: readonly FragmentState[], kept?: PageBodies): Buffer {
    if (states.length !== this.pieces.length - 1)
      throw new Error(`${states.length} states for ${this.pieces.length - 1} fragments`);
    const copies = keptCopies(states);
    const found = copies && kept?.bodyOf(copies);
    if (found) return found;
    const parts = new Array<Buffer>(2 * states.length + 1);
    let length = this.fixedBytes;
    for (let i = 0; i < states.length; i++) {
      const json = fragmentJsonBytes(states[i]);
      parts[2 * i] = this.pieces[i];
      parts[2 * i + 1] = json;
      length += json.length;
    }
    parts[2 * states.length] = this.pieces[states.length];
    // A Buffer of its own: a short one from Node's shared pool would keep a whole pool block alive.
    const body = Buffer.allocUnsafeSlow(length);
    let offset = 0;
    for (const part of parts) offset += part.copy(body, offset);
    if (copies) kept?.keepBody(copies, body);
    return body;
  }
}

/** The states' kept bytes, when every one is a ready copy kept in memory; else undefined. */
function keptCopies(states: readonly FragmentState[]): Buffer[] | undefined {
  const copies = new Array<Buffer>(states.length);
  for (let i = 0; i < states.length; i++) {
    const state = states[i];
    if (state.status !== 'ready' || !state.json) return undefined;
    copies[i] = state.json;
  }
  return copies;
}
