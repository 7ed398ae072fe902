/** What a client sees for one fragment. */
export type FragmentStatus = 'ready' | 'stale' | 'pending' | 'failed';

export interface FragmentState {
  readonly status: FragmentStatus;
  /** The data exactly as the worker serialised it; spliced into responses without a parse. */
  readonly dataJson?: string;
  /** ISO time the data was built. */
  readonly builtAt?: string;
  /** Never sent to clients: the generation of the build that wrote the data (orders copies of one fragment). */
  readonly generation?: number;
  /** For `pending` and `failed`: when asking again is worthwhile. */
  readonly retryAfterMs?: number;
  /** For `failed`: what went wrong, and a machine-readable code (`not_found`, `build_failed`, …). */
  readonly error?: string;
  readonly errorCode?: string;
  /**
   * Never sent to clients: when this state changes by time alone — a ready copy's ttl runs out, the
   * lease of the build a pending or stale copy waits for ends, a failure expires (0: nothing is
   * under way). A watcher asks again then, so a lost job never leaves an open stream waiting.
   */
  readonly recheckInMs?: number;
  /**
   * Never sent as a field: this state's `F` object (what `renderFragmentJson` writes), already
   * encoded. Set on copies the gateway keeps in memory (the near cache), whose bytes are then sent
   * as they are, not rendered and encoded again for every request.
   */
  readonly json?: Buffer;
}

/**
 * Renders the contract's `F` object. Built by concatenation so warm responses never parse and
 * re-serialise the (possibly large) data.
 */
export function renderFragmentJson(state: FragmentState, extra?: string): string {
  let json = `{"status":"${state.status}"`;
  if (extra !== undefined) json += `,${extra}`;
  if (state.dataJson !== undefined) json += `,"data":${state.dataJson}`;
  if (state.builtAt !== undefined) json += `,"builtAt":${JSON.stringify(state.builtAt)}`;
  if (state.retryAfterMs !== undefined) json += `,"retryAfterMs":${state.retryAfterMs}`;
  if (state.error !== undefined) json += `,"error":${JSON.stringify(state.error)}`;
  if (state.errorCode !== undefined) json += `,"errorCode":${JSON.stringify(state.errorCode)}`;
  return `${json}}`;
}

/**
 * `text` in a Buffer of its own. `Buffer.from` hands out short strings as slices of a shared 8 KiB
 * pool, and one long-lived slice keeps its whole pool block alive: kept copies must not.
 */
export function ownBuffer(text: string): Buffer {
  const buffer = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
  buffer.write(text);
  return buffer;
}

/** The state's `F` object as bytes: its kept encoding when it is a ready kept copy, else rendered now. */
export function fragmentJsonBytes(state: FragmentState): Buffer {
  return (state.status === 'ready' ? state.json : undefined) ?? Buffer.from(renderFragmentJson(state));
}
