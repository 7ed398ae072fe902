import { type FragmentView, isSettled } from './fragment-types';
import { retryDelayMs } from './retry-delay';

/** First pause before reconnecting a dropped stream; it grows with each failure in a row. */
const RECONNECT_BASE_MS = 1000;

export interface FragmentFeedOptions {
  /** Fragment names of the page, e.g. `['profile', 'feed', 'recommendations']`. */
  readonly fragments: readonly string[];
  readonly page: string;
  /** The API token (Bearer) for polling and for trading into a stream ticket. */
  readonly token: string;
  /** A new API token when the current one expired (the demo page signs in again); without it, polling. */
  readonly renewToken?: () => Promise<string>;
  readonly onView: (name: string, view: FragmentView) => void;
  /** `stream` while pushed over SSE, `polling` after falling back. */
  readonly onMode?: (mode: 'stream' | 'polling') => void;
  readonly baseUrl?: string;
}

/**
 * Fills a page's fragments: pushed over Server-Sent Events when the stream works; when it does not
 * (blocked by a proxy, an error before any event, or repeated drops), polling each unsettled
 * fragment, honouring Retry-After with jittered backoff. Returns a function that stops it.
 */
export function followFragments(options: FragmentFeedOptions): () => void {
  const base = options.baseUrl ?? '';
  const views = new Map<string, FragmentView>();
  let stopped = false;
  let source: EventSource | undefined;
  const timers = new Set<ReturnType<typeof setTimeout>>();

  const show = (name: string, view: FragmentView): void => {
    if (stopped) return;
    views.set(name, view);
    options.onView(name, view);
  };

  const poll = (name: string, attempt: number): void => {
    if (stopped) return;
    fetch(`${base}/api/fragments/${encodeURIComponent(name)}`, {
      headers: { authorization: `Bearer ${options.token}` },
    })
      .then(async (response) => {
        const view = (await response
          .json()
          .catch(() => ({ status: 'failed', error: `HTTP ${response.status}` }))) as FragmentView;
        show(name, view.status ? view : { status: 'failed', error: `HTTP ${response.status}` });
        if (isSettled(view) && response.status !== 502) return;
        later(
          () => poll(name, attempt + 1),
          retryDelayMs(
            { retryAfterHeader: response.headers.get('retry-after'), retryAfterMs: view.retryAfterMs },
            attempt,
          ),
        );
      })
      .catch(() => later(() => poll(name, attempt + 1), retryDelayMs({}, attempt)));
  };

  const later = (fn: () => void, ms: number): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  const fallBackToPolling = (): void => {
    if (stopped) return;
    source?.close();
    source = undefined;
    options.onMode?.('polling');
    for (const name of options.fragments) {
      const view = views.get(name);
      if (!view || !isSettled(view)) poll(name, 0);
    }
  };

  let token = options.token;
  /** A stream ticket; an expired API token is renewed once (when the page can) and the ticket asked again. */
  const ticket = async (): Promise<string> => {
    const ask = () =>
      fetch(`${base}/api/auth/stream-ticket`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    let response = await ask();
    if (response.status === 401 && options.renewToken) {
      token = await options.renewToken();
      response = await ask();
    }
    if (!response.ok) throw new Error(`stream ticket: HTTP ${response.status}`);
    return ((await response.json()) as { ticket: string }).ticket;
  };

  // Failed (re)connections in a row; a stream that delivered an event counts as working again.
  let failures = 0;
  const openStream = async (): Promise<void> => {
    const fresh = await ticket();
    if (stopped) return;
    const current = new EventSource(
      `${base}/api/pages/${encodeURIComponent(options.page)}/stream?ticket=${encodeURIComponent(fresh)}`,
    );
    source = current;
    options.onMode?.('stream');
    current.addEventListener('fragment', (event) => {
      failures = 0;
      const { name, ...view } = JSON.parse((event as MessageEvent<string>).data) as FragmentView & { name: string };
      show(name, view);
    });
    current.addEventListener('heartbeat', () => {
      failures = 0;
    });
    // The token behind the stream ran out: the server ends it; open a new one with a new ticket.
    current.addEventListener('expired', () => reconnect(current, 0));
    // EventSource would reconnect by itself, but with the same URL, whose ticket lasts a minute:
    // reconnect with a fresh ticket instead, and after the third failure in a row, poll.
    current.addEventListener('error', () => {
      failures += 1;
      if (failures >= 3) fallBackToPolling();
      else reconnect(current, RECONNECT_BASE_MS * failures);
    });
  };
  const reconnect = (current: EventSource, delayMs: number): void => {
    current.close();
    if (source !== current || stopped) return;
    source = undefined;
    later(() => openStream().catch(fallBackToPolling), delayMs);
  };

  openStream().catch(fallBackToPolling);

  return () => {
    stopped = true;
    source?.close();
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
  };
}
