import type { FragmentModuleOptions } from '@worker-pattern/fragment';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueTestPrefix } from '@worker-pattern/fragment/testing';
import { MAX_STREAMS_PER_VIEWER, STREAM_SLOT_TTL_MS, ViewerStreamSlots } from '@worker-pattern/pages';
import { listenHttpApp } from '@worker-pattern/platform';
import { freePort } from '@worker-pattern/platform/processes';
import { Redis } from 'ioredis';
import { register } from 'prom-client';
import { GatewayTestApp } from './testing/gateway-test-app';

// The per-viewer stream cap across gateway replicas: two gateways in this process share one real
// Redis (and key prefix), as two pods behind one Service would.

interface OpenStream {
  readonly status: number;
  readonly body: string;
  /** Of a refusal. */
  readonly retryAfter: string | null;
  close(): void;
}

/** Every stream a test opened: closed after each test, so a failed assertion leaves none open. */
const opened: OpenStream[] = [];

/** Opens a stream and reads its status (and, for a refusal, its body); the stream stays open. */
async function openStream(baseUrl: string, token: string): Promise<OpenStream> {
  const abort = new AbortController();
  const response = await fetch(`${baseUrl}/api/pages/dashboard/stream`, {
    headers: { authorization: `Bearer ${token}` },
    signal: abort.signal,
  });
  if (response.status !== 200)
    return {
      status: response.status,
      body: await response.text(),
      retryAfter: response.headers.get('retry-after'),
      close: () => undefined,
    };
  // The first bytes: the stream is admitted and running.
  await response.body!.getReader().read();
  const stream = { status: 200, body: '', retryAfter: null, close: () => abort.abort() };
  opened.push(stream);
  return stream;
}

describe('stream cap per viewer across two gateway replicas', () => {
  let a: GatewayTestApp;
  let b: GatewayTestApp;
  let urlA: string;
  let urlB: string;
  let redis: Redis;
  let keyPrefix: string;

  const slotsOf = (viewerId: number) => redis.zcard(`${keyPrefix}streams:{u${viewerId}}`);
  async function waitForSlots(viewerId: number, count: number): Promise<void> {
    for (let i = 0; i < 200 && (await slotsOf(viewerId)) !== count; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(await slotsOf(viewerId)).toBe(count);
  }

  beforeAll(async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    a = await GatewayTestApp.start({ seed: false, env: { HOST: '127.0.0.1', PORT: String(portA) } });
    keyPrefix = a.keyPrefix;
    b = await GatewayTestApp.start({
      database: a.database,
      env: { HOST: '127.0.0.1', PORT: String(portB), REDIS_KEY_PREFIX: keyPrefix, BULL_PREFIX: `${keyPrefix}bull` },
    });
    await listenHttpApp(a.app);
    await listenHttpApp(b.app);
    urlA = `http://127.0.0.1:${portA}`;
    urlB = `http://127.0.0.1:${portB}`;
    redis = new Redis(TEST_REDIS_URL);
  }, 60_000); // two gateways start: slow on a busy machine
  afterEach(() => {
    for (const stream of opened.splice(0)) stream.close();
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    redis?.disconnect();
  });

  /** Both gateways run in this process and share prom-client's registry: refusals of either. */
  const refusals = async () =>
    (await register.getSingleMetric('fragment_streams_refused_total')!.get()).values[0]?.value ?? 0;

  it('admits 5 streams spread over both, refuses a 6th with 429 on either, and a closed stream frees its slot', async () => {
    const token = a.token(7);
    const refusedBefore = await refusals();
    const open = [
      ...(await Promise.all([1, 2, 3].map(() => openStream(urlA, token)))),
      ...(await Promise.all([1, 2].map(() => openStream(urlB, token)))),
    ];
    expect(open.map((s) => s.status)).toEqual([200, 200, 200, 200, 200]);
    for (const url of [urlA, urlB]) {
      const extra = await openStream(url, token);
      expect({ url, status: extra.status }).toEqual({ url, status: 429 });
      // Not before the first open slot could lapse: a few seconds short of the slot ttl, never more.
      const retryAfter = Number(extra.retryAfter);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(STREAM_SLOT_TTL_MS / 1000);
      expect(JSON.parse(extra.body)).toEqual({
        statusCode: 429,
        error: 'Too Many Requests',
        message: `too many open streams for this viewer (at most ${MAX_STREAMS_PER_VIEWER} across all gateways)`,
      });
    }
    // Another viewer is not held back by this one.
    const other = await openStream(urlB, a.token(8));
    expect(other.status).toBe(200);
    other.close();

    open[0]!.close(); // on A
    await waitForSlots(7, 4);
    const replacement = await openStream(urlB, token);
    expect(replacement.status).toBe(200);
    expect((await openStream(urlA, token)).status).toBe(429);
    expect((await refusals()) - refusedBefore).toBe(3);

    for (const stream of [...open, replacement]) stream.close();
    await waitForSlots(7, 0);
  });

  it('takes the slot and counts the viewer in one script call; refusals count, and past the limit it takes no slot', async () => {
    const viewerId = 21;
    const token = a.token(viewerId);
    const hits = `${keyPrefix}ratelimit:{u${viewerId}}:api:default:hits`;
    const monitor = await redis.monitor(); // a connection of its own, in monitor mode
    const sent: string[][] = [];
    // What clients send; the commands a script runs inside Redis are reported with source `lua`.
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua' && args.some((arg) => arg.includes(`{u${viewerId}}`))) sent.push(args);
    });
    let stream: OpenStream;
    try {
      stream = await openStream(urlA, token);
      await redis.ping(); // MONITOR reports a command before its reply: all have arrived by now
    } finally {
      monitor.disconnect();
    }
    expect(stream.status).toBe(200);
    // First the count and the slot, together; no count of the guard's own before it.
    const [first] = sent;
    expect(first?.[0]?.toLowerCase()).toBe('evalsha');
    expect(first).toEqual(expect.arrayContaining([`${keyPrefix}streams:{u${viewerId}}`, hits]));
    expect(sent.filter((args) => args.some((arg) => arg.endsWith(':api:default:hits')))).toHaveLength(1);
    expect(Number(await redis.get(hits))).toBe(1);
    expect(await slotsOf(viewerId)).toBe(1);

    // Refused before its read (a parameter it does not take): still counted.
    const refused = await fetch(`${urlA}/api/pages/dashboard/stream?since=1`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(refused.status).toBe(400);
    expect(Number(await redis.get(hits))).toBe(2);

    // Past the limit: 429 for the rate limit, and no slot taken.
    const limit = Number(
      (await fetch(`${urlA}/api/pages/dashboard`, { headers: { authorization: `Bearer ${token}` } })).headers.get(
        'x-ratelimit-limit',
      ),
    );
    expect(limit).toBeGreaterThan(3);
    await redis.set(hits, String(limit), 'KEEPTTL');
    const blocked = await openStream(urlB, token);
    expect(blocked.status).toBe(429);
    expect(JSON.parse(blocked.body).message).toMatch(/^rate limit exceeded/);
    expect(await slotsOf(viewerId)).toBe(1);
    stream.close();
    await waitForSlots(viewerId, 0);
  });
});

describe('ViewerStreamSlots: the slots of a replica that crashed', () => {
  let redis: Redis;
  const options = { keyPrefix: uniqueTestPrefix('slots') } as FragmentModuleOptions;
  let now = Date.now();
  // Two replicas on one clock the test moves, sharing one Redis.
  const crashed = () => new ViewerStreamSlots(redis, options, () => now);
  const live = () => new ViewerStreamSlots(redis, options, () => now);

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
  });
  afterAll(async () => {
    await deleteKeysWithPrefix(redis, options.keyPrefix);
    redis.disconnect();
  });

  it('stop counting once they go unrenewed for the slot ttl; renewed ones keep counting', async () => {
    const viewer = 11;
    const replica = crashed();
    const held = [];
    for (let i = 0; i < MAX_STREAMS_PER_VIEWER; i++) held.push(await replica.acquire(viewer));
    expect(held.every((answer) => answer.slot !== null)).toBe(true);
    // Refused until the first of them lapses: a full ttl from now, as none has been renewed yet.
    expect(await live().acquire(viewer)).toEqual({ slot: null, retryAfterMs: STREAM_SLOT_TTL_MS });

    // One of the five belongs to a stream still open on a live replica: its heartbeats renew it.
    now += STREAM_SLOT_TTL_MS / 2;
    await held[0]!.slot!.renew();
    now += STREAM_SLOT_TTL_MS / 2 - 1;
    expect((await live().acquire(viewer)).slot).toBeNull(); // not yet: the ttl has not passed

    now += 2; // the four the crashed replica never renewed (nor released) are gone
    const taken = [];
    for (let i = 0; i < MAX_STREAMS_PER_VIEWER - 1; i++) taken.push(await live().acquire(viewer));
    expect(taken.every((answer) => answer.slot !== null)).toBe(true);
    expect((await live().acquire(viewer)).slot).toBeNull(); // the renewed one still counts

    await taken[0]!.slot!.release();
    expect((await live().acquire(viewer)).slot).not.toBeNull();
    // The set goes away with its last slot, so a viewer who leaves leaves no key behind.
    expect(await redis.pttl(replica.keyOf(viewer))).toBeGreaterThan(0);
  });
});
