const FALLBACK_BASE_MS = 500;
const MAX_MS = 15_000;

/**
 * How long a polling client waits before asking again: the server's Retry-After (seconds) or its
 * `retryAfterMs` hint when given, else exponential backoff from 500 ms; then ±25 % jitter so a
 * page full of clients does not come back in lockstep. `random` is injectable for tests.
 */
export function retryDelayMs(
  hint: { readonly retryAfterHeader?: string | null; readonly retryAfterMs?: number },
  attempt: number,
  random: () => number = Math.random,
): number {
  const header = hint.retryAfterHeader ? Number(hint.retryAfterHeader) * 1000 : Number.NaN;
  const base =
    Number.isFinite(header) && header > 0
      ? Math.max(header, hint.retryAfterMs ?? 0)
      : hint.retryAfterMs !== undefined && hint.retryAfterMs > 0
        ? hint.retryAfterMs
        : FALLBACK_BASE_MS * 2 ** Math.min(attempt, 5);
  const jitter = 0.75 + random() * 0.5;
  return Math.round(Math.min(MAX_MS, base) * jitter);
}
