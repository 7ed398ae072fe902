import { type FragmentView, isSettled } from './fragment-types';
import { retryDelayMs } from './retry-delay';

export interface FragmentFeedOptions {
  /** Fragment names of the page, e.g. `['profile', 'feed', 'recommendations']`. */
  readonly fragments: readonly string[];
  readonly page: string;
  /** The API token (Bearer) for polling and for trading into a stream ticket. */
  readonly token: string;
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

  const openStream = async (): Promise<void> => {
    const response = await fetch(`${base}/api/auth/stream-ticket`, {
      method: 'POST',
      headers: { authorization: `Bearer ${options.token}` },
    });
    if (!response.ok) throw new Error(`stream ticket: HTTP ${response.status}`);
    const { ticket } = (await response.json()) as { ticket: string };
    if (stopped) return;
    let drops = 0;
    source = new EventSource(
      `${base}/api/pages/${encodeURIComponent(options.page)}/stream?ticket=${encodeURIComponent(ticket)}`,
    );
    options.onMode?.('stream');
    source.addEventListener('fragment', (event) => {
      drops = 0;
      const { name, ...view } = JSON.parse((event as MessageEvent<string>).data) as FragmentView & { name: string };
      show(name, view);
    });
    source.addEventListener('heartbeat', () => {
      drops = 0;
    });
    // EventSource reconnects by itself with the same URL; the ticket lasts a minute, so after the
    // second drop in a row (or a refusal, which closes the source) polling takes over.
    source.addEventListener('error', () => {
      drops += 1;
      if (source?.readyState === EventSource.CLOSED || drops >= 2) fallBackToPolling();
    });
  };

  openStream().catch(fallBackToPolling);

  return () => {
    stopped = true;
    source?.close();
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
  };
}
