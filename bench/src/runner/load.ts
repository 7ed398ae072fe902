import autocannon from 'autocannon';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { percentile } from './stats';

export interface LoadOptions {
  readonly url: string;
  readonly path: string;
  readonly connections: number;
  /** Seconds; or `amount` requests in all. */
  readonly duration?: number;
  readonly amount?: number;
  /** One per request, round robin: each request is a different viewer (or the same, if one). */
  readonly tokens: readonly string[];
  /** Seconds before a request counts as a timeout. */
  readonly timeout?: number;
}

export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  /** Milliseconds, from every response's own time (not autocannon's whole-ms histogram). */
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly statuses: Readonly<Record<string, number>>;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
}

/**
 * A closed-loop load with autocannon: `connections` keep-alive connections, each sending its next
 * request when the previous answer arrives. Latencies are every response's own (sub-millisecond)
 * time; throughput is responses over the run's wall time.
 */
export function runLoad(options: LoadOptions): Promise<LoadResult> {
  let next = 0;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${options.url}${options.path}`,
        connections: options.connections,
        ...(options.amount !== undefined ? { amount: options.amount } : { duration: options.duration ?? 10 }),
        timeout: options.timeout ?? 30,
        requests: [
          {
            setupRequest: (req) => ({
              ...req,
              headers: { ...req.headers, authorization: `Bearer ${options.tokens[next++ % options.tokens.length]}` },
            }),
          },
        ],
      },
      (error, result) => {
        if (error) return reject(error);
        const seconds = (result.finish.getTime() - result.start.getTime()) / 1000;
        resolve({
          requests: latencies.length,
          seconds,
          rps: latencies.length / seconds,
          p50: percentile(latencies, 50),
          p99: percentile(latencies, 99),
          max: latencies.reduce((a, b) => (b > a ? b : a), 0),
          statuses,
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
        });
      },
    );
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      latencies.push(responseTime);
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
    });
  });
}

/** Runs `fn` over `items` with at most `concurrency` at once; results in input order. */
export async function mapPool<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i], i);
      }
    }),
  );
  return results;
}

export interface StreamEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
  /** ms since the stream was requested. */
  readonly at: number;
}

export interface OpenStream {
  /** Resolves with the status code once the response head arrives (rejects on a network error). */
  readonly status: Promise<number>;
  /** Resolves when the connection ends (closed by us, the server or an error). */
  readonly ended: Promise<void>;
  close(): void;
}

/**
 * A page stream (Server-Sent Events) on its own connection, calling `onEvent` for each event as it
 * arrives. Plain node:http, so closing it is one `destroy()` and nothing is buffered.
 */
export function openStream(url: string, token: string, onEvent: (event: StreamEvent) => void): OpenStream {
  const started = performance.now();
  let request: ClientRequest | undefined;
  let settleStatus!: { resolve: (code: number) => void; reject: (error: Error) => void };
  const status = new Promise<number>((resolve, reject) => (settleStatus = { resolve, reject }));
  // The status promise may be ignored by callers that only wait for events.
  status.catch(() => undefined);
  const ended = new Promise<void>((resolveEnded) => {
    request = httpRequest(
      url,
      { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, agent: false },
      (response) => {
        settleStatus.resolve(response.statusCode ?? 0);
        response.setEncoding('utf8');
        let buffer = '';
        response.on('data', (chunk: string) => {
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let event = 'message';
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data += line.slice(6);
            }
            if (!data) continue;
            try {
              onEvent({ event, data: JSON.parse(data) as Record<string, unknown>, at: performance.now() - started });
            } catch {
              // not JSON: not an event of ours
            }
          }
        });
        response.on('close', () => resolveEnded());
        response.on('error', () => resolveEnded());
      },
    );
    request.on('error', (error) => {
      settleStatus.reject(error);
      resolveEnded();
    });
    request.end();
  });
  return { status, ended, close: () => request?.destroy() };
}

/**
 * Opens a page stream and resolves with ms from the request to each named fragment's first `ready`
 * event (and to the last of them: the complete page), then closes it. Rejects after `timeoutMs`.
 */
export async function timeToReady(
  url: string,
  token: string,
  names: readonly string[],
  timeoutMs = 60_000,
): Promise<Record<string, number>> {
  const times: Record<string, number> = {};
  let done!: () => void;
  const allReady = new Promise<void>((resolve) => (done = resolve));
  const stream = openStream(url, token, (e) => {
    const name = e.data['name'];
    if (
      e.event === 'fragment' &&
      typeof name === 'string' &&
      e.data['status'] === 'ready' &&
      times[name] === undefined
    ) {
      times[name] = e.at;
      if (names.every((n) => times[n] !== undefined)) done();
    }
  });
  await untilAllReady(stream, allReady, timeoutMs);
  return { ...times, page: Math.max(...names.map((n) => times[n])) };
}

/**
 * Waits on an open page stream until `allReady` resolves, failing when it answers other than 200,
 * ends first or takes over `timeoutMs`; closes it either way.
 */
export async function untilAllReady(stream: OpenStream, allReady: Promise<void>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const code = await stream.status;
    if (code !== 200) throw new Error(`stream answered ${code}`);
    await Promise.race([
      allReady,
      stream.ended.then(() => Promise.reject(new Error('stream ended before every fragment was ready'))),
      new Promise<never>(
        (_, reject) =>
          (timer = setTimeout(() => reject(new Error(`not every fragment ready within ${timeoutMs} ms`)), timeoutMs)),
      ),
    ]);
  } finally {
    clearTimeout(timer);
    stream.close();
  }
}
