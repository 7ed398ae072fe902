import { fragmentJsonBytes, type FragmentState } from '@worker-pattern/fragment';
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
 * once per page, each fragment's `F` from its kept encoding (a near-cache copy) or rendered. A warm
 * page is then one copy of bytes into one Buffer, which the socket takes as it is: no string to
 * build, flatten and encode again for the length and the write.
 */
export class PageFrame {
  /** `{"page":…,"fragments":{"<first>":`, then `,"<next>":` for each next fragment, then `}}`. */
  private readonly pieces: readonly Buffer[];
  private readonly fixedBytes: number;
  /**
   * The last body assembled wholly from kept copies, by its first copy's bytes: the same copies
   * again (a warm page) are answered with that body, nothing assembled. It goes when the near cache
   * drops that copy; until then a page's body sits beside its copies, about doubling what they take.
   */
  private readonly kept = new WeakMap<
    Buffer,
    { readonly parts: readonly (Buffer | undefined)[]; readonly body: Buffer }
  >();

  constructor(page: string, names: readonly string[]) {
    this.pieces = [
      ...names.map((name, i) =>
        Buffer.from(`${i === 0 ? `{"page":${JSON.stringify(page)},"fragments":{` : ','}${JSON.stringify(name)}:`),
      ),
      Buffer.from(names.length === 0 ? `{"page":${JSON.stringify(page)},"fragments":{}}` : '}}'),
    ];
    this.fixedBytes = this.pieces.reduce((n, piece) => n + piece.length, 0);
  }

  /** The body with `states` in the frame's order (one per name). */
  body(states: readonly FragmentState[]): Buffer {
    if (states.length !== this.pieces.length - 1)
      throw new Error(`${states.length} states for ${this.pieces.length - 1} fragments`);
    const first = states[0]?.json;
    const memo = first && this.kept.get(first);
    if (memo && states.every((state, i) => state.json === memo.parts[i])) return memo.body;
    const parts = new Array<Buffer>(2 * states.length + 1);
    let length = this.fixedBytes;
    for (let i = 0; i < states.length; i++) {
      const json = fragmentJsonBytes(states[i]);
      parts[2 * i] = this.pieces[i];
      parts[2 * i + 1] = json;
      length += json.length;
    }
    parts[2 * states.length] = this.pieces[states.length];
    const body = Buffer.concat(parts, length);
    if (first && states.every((state) => state.json))
      this.kept.set(first, { parts: states.map((state) => state.json), body });
    return body;
  }
}
