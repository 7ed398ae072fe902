import { SseStream } from './support/sse';
import { Stack } from './support/stack';

type FragmentEvent = { name: string; status: string; data?: unknown; error?: string };

const FRAGMENTS = ['profile', 'feed', 'recommendations'];

/** The last status the stream reported for each fragment. */
function latest(stream: SseStream): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of stream.data<FragmentEvent>('fragment')) out[e.name] = e.status;
  return out;
}
const allReady = (stream: SseStream) => () => FRAGMENTS.every((f) => latest(stream)[f] === 'ready');

describe('push: page streams over Server-Sent Events', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start({ users: 600 });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const streamUrl = (gateway: 'gateway' | `gateway-${number}` = 'gateway', query = '') =>
    `${stack.url(gateway)}/api/pages/dashboard/stream${query}`;

  it('delivers the current state of a cold viewer’s fragments, then each one as it becomes ready', async () => {
    const token = await stack.login(21);
    const stream = await SseStream.open(streamUrl(), { authorization: `Bearer ${token}` });
    expect(stream.status).toBe(200);
    expect(stream.response.headers.get('content-type')).toContain('text/event-stream');
    await stream.waitFor(allReady(stream));
    const events = stream.data<FragmentEvent>('fragment');
    for (const name of FRAGMENTS) {
      const own = events.filter((e) => e.name === name).map((e) => e.status);
      expect(own).toEqual(['pending', 'ready']);
    }
    expect(events.find((e) => e.name === 'profile' && e.status === 'ready')?.data).toMatchObject({ user: { id: 21 } });
    expect(stream.data('heartbeat').length).toBeGreaterThanOrEqual(1);
    stream.close();
  });

  it('sends a warm viewer’s ready fragments at once', async () => {
    const token = await stack.login(21);
    const stream = await SseStream.open(streamUrl(), { authorization: `Bearer ${token}` });
    await stream.waitFor((events) => events.some((e) => e.event === 'heartbeat'));
    expect(latest(stream)).toEqual({ profile: 'ready', feed: 'ready', recommendations: 'ready' });
    stream.close();
  });

  it('refuses a stream without credentials, with an API token in the URL, or with a bad ticket', async () => {
    const token = await stack.login(22);
    expect((await SseStream.open(streamUrl())).status).toBe(401);
    expect((await SseStream.open(streamUrl('gateway', `?ticket=${token}`))).status).toBe(401);
    expect((await SseStream.open(streamUrl('gateway', '?ticket=nonsense'))).status).toBe(401);
    expect(
      (await SseStream.open(streamUrl('gateway', '?viewerId=3'), { authorization: `Bearer ${token}` })).status,
    ).toBe(400);
  });

  it('accepts a short-lived ticket, which is no API token', async () => {
    const token = await stack.login(23);
    const response = await fetch(`${stack.url()}/api/auth/stream-ticket`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(200);
    const { ticket, expiresIn } = (await response.json()) as { ticket: string; expiresIn: number };
    expect(expiresIn).toBeLessThanOrEqual(60);
    const stream = await SseStream.open(streamUrl('gateway', `?ticket=${encodeURIComponent(ticket)}`));
    expect(stream.status).toBe(200);
    await stream.waitFor(allReady(stream));
    stream.close();
    expect((await stack.get('/api/pages/dashboard', ticket)).status).toBe(401);
  });

  it('delivers events built by any worker through every gateway replica, each event once to each', async () => {
    await stack.startApp('gateway-2');
    // No worker runs while both streams open, so each replica is seen pending before any event.
    const workers = ['profile-worker', 'feed-worker', 'recommendations-worker'] as const;
    await Promise.all(workers.map((w) => stack.app(w).stop('SIGTERM', 10_000)));
    const token = await stack.login(24); // a viewer nobody asked for: cold on both replicas
    const [first, second] = await Promise.all([
      SseStream.open(streamUrl('gateway'), { authorization: `Bearer ${token}` }),
      SseStream.open(streamUrl('gateway-2'), { authorization: `Bearer ${token}` }),
    ]);
    const allPending = (stream: SseStream) => () => FRAGMENTS.every((f) => latest(stream)[f] === 'pending');
    await Promise.all([first.waitFor(allPending(first)), second.waitFor(allPending(second))]);
    await Promise.all(workers.map((w) => stack.startApp(w)));
    await Promise.all([first.waitFor(allReady(first)), second.waitFor(allReady(second))]);
    first.close();
    second.close();
    for (const stream of [first, second]) {
      const events = stream.data<FragmentEvent>('fragment');
      for (const name of FRAGMENTS) {
        const statuses = events.filter((e) => e.name === name).map((e) => e.status);
        // Each replica got the fragment's one readiness event: no copy, no loss.
        expect(statuses.filter((s) => s === 'ready')).toHaveLength(1);
      }
    }
  });

  it('caps open streams per viewer across gateway replicas, and a closed stream frees its slot', async () => {
    if (!stack.apps.has('gateway-2')) await stack.startApp('gateway-2');
    const token = await stack.login(25);
    const headers = { authorization: `Bearer ${token}` };
    const open = await Promise.all(
      (['gateway', 'gateway', 'gateway', 'gateway-2', 'gateway-2'] as const).map((g) =>
        SseStream.open(streamUrl(g), headers),
      ),
    );
    expect(open.map((s) => s.status)).toEqual([200, 200, 200, 200, 200]);
    for (const gateway of ['gateway', 'gateway-2'] as const) {
      const extra = await SseStream.open(streamUrl(gateway), headers);
      expect({ gateway, status: extra.status }).toEqual({ gateway, status: 429 });
    }
    open[0]!.close();
    let replacement = await SseStream.open(streamUrl('gateway-2'), headers);
    // The slot is released when the gateway sees the connection close, a moment after the client.
    for (let i = 0; i < 100 && replacement.status === 429; i++) {
      await new Promise((r) => setTimeout(r, 50));
      replacement = await SseStream.open(streamUrl('gateway-2'), headers);
    }
    expect(replacement.status).toBe(200);
    for (const s of [...open, replacement]) s.close();
  });

  it('removes every listener when streams drop: 1,000 opened and dropped, back to the baseline', async () => {
    const listeners = () => stack.metric('gateway', 'fragment_event_listeners', {});
    const streamsOpen = () => stack.metric('gateway', 'fragment_streams_open', {});
    // Streams an earlier test closed may still be closing: start from none open.
    for (let i = 0; i < 100 && (await streamsOpen()) !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await streamsOpen()).toBe(0);
    const baseline = await listeners();
    const tokens = await Promise.all(Array.from({ length: 200 }, (_, i) => stack.login(300 + i)));
    const streams: SseStream[] = [];
    for (let batch = 0; batch < 5; batch++) {
      streams.push(
        ...(await Promise.all(
          tokens.map((token) => SseStream.open(streamUrl(), { authorization: `Bearer ${token}` })),
        )),
      );
    }
    expect(streams.every((s) => s.status === 200)).toBe(true);
    expect(await streamsOpen()).toBe(1000);
    expect(await listeners()).toBeGreaterThan(baseline);
    for (const s of streams) s.close();
    for (let i = 0; i < 100 && ((await listeners()) !== baseline || (await streamsOpen()) !== 0); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await listeners()).toBe(baseline);
    expect(await streamsOpen()).toBe(0);
  });

  it('wakes waitMs requests by the readiness event, not by their deadline', async () => {
    const waits = async () => {
      const of = (outcome: string) => stack.metric('gateway', 'fragment_waits_total', { fragment: 'profile', outcome });
      return { settled: (await of('event')) + (await of('recheck')), timeout: await of('timeout') };
    };
    const before = await waits();
    const token = await stack.login(31);
    const response = await stack.get('/api/fragments/profile?waitMs=2000', token);
    expect(response.status).toBe(200);
    // Woken by the event, or (when the build landed before the wait was registered) settled on the
    // recheck that follows registration: either way by the signal, never by the deadline.
    expect(await waits()).toEqual({ settled: before.settled + 1, timeout: before.timeout });
  });
});
