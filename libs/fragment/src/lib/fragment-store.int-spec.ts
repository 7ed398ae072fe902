import { Redis } from 'ioredis';
import { type FragmentEvent, parseFragmentEvent } from './fragment-events';
import { FRAGMENT_SETTLED_PATTERN, hashTagOf } from './fragment-key';
import { type CompletionTiming, type FailureTiming, FragmentStore, type ReadCounter } from './fragment-store';
import { COPY_IN_EVENT_MAX_BYTES } from './fragment-store.scripts';
import { CountAllowances, maxWant } from './count-allowances';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueTestPrefix } from './testing/redis-test-prefix';

/**
 * The Lua store against real Redis, on a clock the test drives (scripts take `now` from the store),
 * so leases, ttls and windows are exercised without sleeping.
 */
describe('FragmentStore (real Redis)', () => {
  const prefix = uniqueTestPrefix('store');
  const redis = new Redis(TEST_REDIS_URL);
  let now = Date.now();
  const store = new FragmentStore(redis, () => now);
  const advance = (ms: number) => (now += ms);
  let n = 0;
  const newKey = (): string => `${prefix}frag:{u${++n}}:k`;
  const lease = (key: string, leaseMs = 30_000) => ({ key, leaseMs });
  const timing: CompletionTiming = { ttlMs: 60_000, staleMs: 60_000, activeWindowMs: 600_000, leaseMs: 30_000 };
  const failing = (final: boolean): FailureTiming => ({
    final,
    failedTtlMs: 1000,
    failedTtlCapMs: 8000,
    retryLeaseMs: 30_000,
    leaseMs: 30_000,
    activeWindowMs: 600_000,
  });
  const takeLease = async (key: string, leaseMs = 30_000): Promise<number> => {
    const [state] = await store.read([lease(key, leaseMs)], true);
    if (!state || state.takenGeneration === 0) throw new Error(`no lease taken for ${key}`);
    return state.takenGeneration;
  };
  const claimed = async (key: string, job: string): Promise<number> => {
    const claim = await store.claim(key, job, 30_000, 'interactive');
    if (claim.outcome !== 'claimed') throw new Error(`${job} not claimed: ${claim.reason}`);
    return claim.generation;
  };
  /** A full build: lease, claim, complete. */
  const built = async (key: string, data: string, job = `job-${++n}`): Promise<number> => {
    await takeLease(key);
    const gen = await claimed(key, job);
    expect((await store.complete(key, gen, job, data, 'b', timing)).outcome).toBe('written');
    return gen;
  };

  afterAll(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  });

  it('leases a cold copy exactly once and reports it pending until the lease runs out', async () => {
    const key = newKey();
    const [first] = await store.read([lease(key)], true);
    advance(1000);
    const [second] = await store.read([lease(key)], true);
    expect(first).toMatchObject({ status: 'pending', waitMs: 30_000 });
    expect(first!.takenGeneration).toBeGreaterThan(0);
    expect(second).toMatchObject({ status: 'pending', takenGeneration: 0, waitMs: 29_000 });
  });

  it('takes no lease in read-only mode and creates nothing', async () => {
    const key = newKey();
    const [state] = await store.read([lease(key)], false);
    expect(state).toMatchObject({ status: 'pending', takenGeneration: 0, waitMs: 0 });
    expect(await redis.exists(key)).toBe(0);
  });

  it('serves a completed build as ready, frees the running slot and announces it on the copy’s own channel', async () => {
    const key = newKey();
    const sub = new Redis(TEST_REDIS_URL);
    const messages: Array<[string, string]> = [];
    sub.on('smessage', (channel: string, message: string) => messages.push([channel, message]));
    await sub.ssubscribe(key);
    await takeLease(key);
    const gen = await claimed(key, 'job-a');
    expect(await store.complete(key, gen, 'job-a', '{"hello":1}', '2026-01-01T00:00:00.000Z', timing)).toEqual({
      outcome: 'written',
      followUp: undefined,
    });
    const [state] = await store.read([lease(key)], true);
    expect(state).toMatchObject({ status: 'ready', dataJson: '{"hello":1}', builtAt: '2026-01-01T00:00:00.000Z' });
    expect(state!.waitMs).toBe(60_000); // until the ttl runs out
    expect(await redis.hmget(key, 'c', 'cj', 'q')).toEqual([null, null, null]);
    for (let i = 0; i < 50 && messages.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(messages).toHaveLength(1);
    expect(messages[0]![0]).toBe(key);
    // Nest's transport envelope, with the generation as a string and the fresh copy as a read returns it.
    expect(JSON.parse(messages[0]![1])).toEqual({
      pattern: FRAGMENT_SETTLED_PATTERN,
      data: {
        status: 'ready',
        generation: String(gen),
        key,
        dataJson: '{"hello":1}',
        builtAt: '2026-01-01T00:00:00.000Z',
        freshMs: 60_000,
      },
    });
    await sub.quit();
  });

  it('sends a copy with its event byte for byte, and announces a large or stale one bare', async () => {
    const sub = new Redis(TEST_REDIS_URL);
    const events: Array<FragmentEvent | null> = [];
    sub.on('smessage', (_channel: string, message: string) =>
      events.push(parseFragmentEvent((JSON.parse(message) as { data: unknown }).data)),
    );
    const escapes = '{"s":"é\\u00e9 \\/ \\n \\"q\\" ✓","n":1.50}';
    const small = newKey();
    const large = newKey();
    const stale = newKey();
    await sub.ssubscribe(small, large, stale);
    await built(small, escapes);
    await built(large, `"${'x'.repeat(COPY_IN_EVENT_MAX_BYTES)}"`);
    await takeLease(stale);
    const staleGen = await claimed(stale, 'job-stale');
    await store.invalidate([lease(stale)], 600_000); // a write after the build read
    await store.complete(stale, staleGen, 'job-stale', '"old"', 'b', timing);
    for (let i = 0; i < 50 && events.length < 4; i++) await new Promise((r) => setTimeout(r, 10));
    const ready = events.filter((e) => e?.status === 'ready');
    expect(ready.map((e) => e!.key)).toEqual([small, large, stale]);
    expect(ready[0]!.copy).toEqual({ dataJson: escapes, builtAt: 'b', freshMs: 60_000 });
    expect(ready[1]!.copy).toBeUndefined();
    expect(ready[2]!.copy).toBeUndefined();
    await sub.quit();
  });

  it('judges a build by when it read: the later claim wins, an earlier one never overwrites it', async () => {
    const key = newKey();
    await takeLease(key, 1000);
    const early = await claimed(key, 'early'); // claims, then stalls past its lease
    advance(31_000);
    await takeLease(key);
    const late = await claimed(key, 'late');
    expect(late).toBeGreaterThan(early);
    expect((await store.complete(key, late, 'late', '"late"', 'b', timing)).outcome).toBe('written');
    expect((await store.complete(key, early, 'early', '"early"', 'b', timing)).outcome).toBe('discarded');
    expect((await store.read([lease(key)], false))[0]!.dataJson).toBe('"late"');
  });

  it('keeps a build queued before a write: it reads after the write, so its result is fresh (fence at claim)', async () => {
    const key = newKey();
    await built(key, '"v1"');
    advance(70_000); // past the ttl: a request queues a rebuild
    await takeLease(key);
    const [invalidated] = await store.invalidate([lease(key)], 600_000);
    expect(invalidated).toEqual({ outcome: 'stale' }); // the queued build covers it: nothing new queued
    const gen = await claimed(key, 'queued-before-the-write');
    expect((await store.complete(key, gen, 'queued-before-the-write', '"v2"', 'b', timing)).outcome).toBe('written');
    expect((await store.read([lease(key)], false))[0]).toMatchObject({ status: 'ready', dataJson: '"v2"' });
  });

  it('writes a build a write overtook as stale and queues exactly one follow-up, however many writes land', async () => {
    const key = newKey();
    await built(key, '"v1"');
    await store.read([lease(key)], true); // a client reads it: it is active
    const [first] = await store.invalidate([lease(key)], 600_000);
    expect(first!.outcome).toBe('rebuild');
    const running = await claimed(key, 'running');
    for (let i = 0; i < 5; i++) {
      advance(10);
      // The running build will queue its own follow-up: writes queue nothing more.
      expect((await store.invalidate([lease(key)], 600_000))[0]).toEqual({ outcome: 'stale' });
      expect((await store.read([lease(key)], true))[0]!.takenGeneration).toBe(0);
    }
    const result = await store.complete(key, running, 'running', '"v2"', 'b', timing);
    expect(result.outcome).toBe('stale');
    expect(result.followUp).toEqual({ generation: expect.any(Number), lane: 'background', delayMs: 0 });
    expect((await store.read([lease(key)], false))[0]).toMatchObject({ status: 'stale', dataJson: '"v2"' });
    expect((await store.read([lease(key)], true))[0]!.takenGeneration).toBe(result.followUp!.generation); // promoted
    const follow = await claimed(key, 'follow-up');
    expect((await store.complete(key, follow, 'follow-up', '"v3"', 'b', timing)).outcome).toBe('written');
    expect((await store.read([lease(key)], false))[0]).toMatchObject({ status: 'ready', dataJson: '"v3"' });
  });

  it('lets a queued job take over a newer, unclaimed lease instead of being superseded by it', async () => {
    const key = newKey();
    await takeLease(key, 1000); // job-1, stuck in a long backlog
    advance(2000);
    const second = await takeLease(key); // a viewer asks again after the lease ran out: job-2
    const gen = await claimed(key, 'job-1');
    expect(gen).toBeGreaterThan(second);
    expect(await store.claim(key, 'job-2', 30_000, 'interactive')).toEqual({ outcome: 'superseded', reason: 'busy' });
    await store.complete(key, gen, 'job-1', '"built"', 'b', timing);
    expect(await store.claim(key, 'job-2', 30_000, 'interactive')).toMatchObject({ outcome: 'superseded' });
    expect((await store.read([lease(key)], false))[0]).toMatchObject({ status: 'ready', dataJson: '"built"' });
  });

  it('lets one job run at a time, and that job claim again (retries, stalled-job recovery)', async () => {
    const key = newKey();
    await takeLease(key);
    const first = await claimed(key, 'job-i');
    expect(await store.claim(key, 'job-b', 30_000, 'background')).toEqual({ outcome: 'superseded', reason: 'busy' });
    expect(await claimed(key, 'job-i')).toBeGreaterThan(first);
  });

  it('builds a copy whose hash was evicted while its job waited', async () => {
    const key = newKey();
    await takeLease(key);
    await redis.del(key);
    const gen = await claimed(key, 'orphan');
    expect((await store.complete(key, gen, 'orphan', '"back"', 'b', timing)).outcome).toBe('written');
    expect((await store.read([lease(key)], false))[0]).toMatchObject({ status: 'ready', dataJson: '"back"' });
  });

  it('serves stale data while one rebuild is leased, then drops it after the stale window', async () => {
    const key = newKey();
    await takeLease(key);
    const gen = await claimed(key, 'j');
    await store.complete(key, gen, 'j', '"v1"', 'b', { ...timing, ttlMs: 30, staleMs: 150 });
    advance(60);
    const [stale] = await store.read([lease(key)], true);
    expect(stale).toMatchObject({ status: 'stale', dataJson: '"v1"' });
    expect(stale!.takenGeneration).toBeGreaterThan(gen);
    const [again] = await store.read([lease(key)], true);
    expect(again).toMatchObject({ status: 'stale', takenGeneration: 0, waitMs: 30_000 });
    advance(200);
    const [gone] = await store.read([lease(key)], false);
    expect(gone).toMatchObject({ status: 'pending' });
    expect(gone!.dataJson).toBeUndefined();
  });

  it('keeps the running lease across a retry; final failures are remembered longer each time, up to a cap', async () => {
    const key = newKey();
    await takeLease(key);
    let gen = await claimed(key, 'j');
    expect(await store.fail(key, gen, 'j', { message: 'boom', code: 'build_failed' }, failing(false), 1)).toEqual({
      outcome: 'retrying',
      followUp: undefined,
      failedTtlMs: undefined,
    });
    expect((await store.read([lease(key)], true))[0]).toMatchObject({ status: 'pending', takenGeneration: 0 });
    const ttls: number[] = [];
    for (let i = 0; i < 5; i++) {
      gen = await claimed(key, 'j');
      const result = await store.fail(
        key,
        gen,
        'j',
        { message: 'user 9 not found', code: 'not_found' },
        failing(true),
        1,
      );
      expect(result.outcome).toBe('failed');
      ttls.push(result.failedTtlMs!);
      const [failed] = await store.read([lease(key)], true);
      expect(failed).toMatchObject({ status: 'failed', error: 'user 9 not found', errorCode: 'not_found' });
      expect(failed).toMatchObject({ takenGeneration: 0, waitMs: result.failedTtlMs });
      advance(result.failedTtlMs! + 1);
      expect((await store.read([lease(key)], true))[0]!.takenGeneration).toBeGreaterThan(0);
    }
    expect(ttls).toEqual([1000, 2000, 4000, 8000, 8000]);
    gen = await claimed(key, 'j');
    await store.complete(key, gen, 'j', '"ok"', 'b', timing);
    expect(await redis.hget(key, 'fk')).toBeNull(); // a success resets the growth
  });

  it('spreads failed ttls by the jitter it is given', async () => {
    const key = newKey();
    await takeLease(key);
    const gen = await claimed(key, 'j');
    const result = await store.fail(key, gen, 'j', { message: 'x', code: 'build_failed' }, failing(true), 1.2);
    expect(result.failedTtlMs).toBe(1200);
  });

  it('ignores a failure that is not the running build’s, or older than what is stored', async () => {
    const key = newKey();
    await takeLease(key);
    const gen = await claimed(key, 'j');
    expect((await store.fail(key, gen, 'someone-else', { message: 'x', code: 'c' }, failing(true))).outcome).toBe(
      'ignored',
    );
    expect((await store.fail(key, gen - 1, 'j', { message: 'x', code: 'c' }, failing(true))).outcome).toBe('ignored');
    expect((await store.read([lease(key)], false))[0]!.status).toBe('pending');
  });

  it('does not record a failure a write overtook: a follow-up build comes after the failure’s delay', async () => {
    const key = newKey();
    await built(key, '"v1"');
    await store.read([lease(key)], true); // active
    await store.invalidate([lease(key)], 600_000);
    const gen = await claimed(key, 'j');
    advance(5);
    await store.invalidate([lease(key)], 600_000); // lands while the build fails
    const result = await store.fail(key, gen, 'j', { message: 'x', code: 'build_failed' }, failing(true), 1);
    expect(result).toMatchObject({ outcome: 'overtaken', followUp: { lane: 'background', delayMs: 1000 } });
    expect((await store.read([lease(key)], false))[0]).toMatchObject({ status: 'stale', dataJson: '"v1"' });
  });

  it('lets a lease expire, so a lost job never leaves a fragment pending forever', async () => {
    const key = newKey();
    const [first] = await store.read([lease(key, 50)], true);
    advance(80);
    const [second] = await store.read([lease(key)], true);
    expect(second!.takenGeneration).toBeGreaterThan(first!.takenGeneration);
  });

  it('releases a lease whose job could not be enqueued', async () => {
    const key = newKey();
    const gen = await takeLease(key);
    expect(await store.release(key, gen + 1)).toBe(false);
    expect(await store.release(key, gen)).toBe(true);
    expect((await store.read([lease(key)], true))[0]!.takenGeneration).toBeGreaterThan(gen);
  });

  describe('a read that carries a counter (a rate limit counted in the same call)', () => {
    const counterOf = (tag: string, limit: number): ReadCounter => ({
      hitsKey: `${prefix}ratelimit:{${tag}}:api:default:hits`,
      blockedKey: `${prefix}ratelimit:{${tag}}:api:default:blocked`,
      windowMs: 60_000,
      limit,
      blockMs: 30_000,
    });

    it('counts every read and, past the limit, blocks it before it reads or leases anything', async () => {
      const a = newKey();
      const tag = hashTagOf(a)!;
      const counter = counterOf(tag, 2);
      const first = await store.readCounted([lease(a)], counter);
      expect(first).toMatchObject({ blocked: false, count: { hits: 1, blocked: false } });
      expect(first.count.windowLeftMs).toBeGreaterThan(59_000);
      expect(first.blocked || first.fragments[0]!.takenGeneration).toBeGreaterThan(0);
      const second = await store.readCounted([lease(a)], counter);
      expect(second).toMatchObject({
        blocked: false,
        count: { hits: 2 },
        fragments: [{ status: 'pending', takenGeneration: 0 }],
      });
      // Over the limit: a cold copy of the same slot in this read is not leased.
      const b = `${prefix}frag:{${tag}}:other`;
      const third = await store.readCounted([lease(a), lease(b)], counter);
      expect(third).toEqual({
        blocked: true,
        count: { hits: 3, blocked: true, blockLeftMs: 30_000, windowLeftMs: expect.any(Number) },
      });
      expect(await store.read([lease(b)], false)).toEqual([expect.objectContaining({ status: 'pending', waitMs: 0 })]);
      expect(await redis.exists(b)).toBe(0);
      // Blocked stays blocked, without counting past the block.
      const fourth = await store.readCounted([lease(a)], counter);
      expect(fourth).toMatchObject({ blocked: true, count: { blocked: true } });
      expect(fourth.count.blockLeftMs).toBeGreaterThan(0);
      expect(fourth.count.blockLeftMs).toBeLessThanOrEqual(30_000);
      expect(await redis.pttl(counter.blockedKey)).toBeGreaterThan(0);
    });

    it('counts in the first call when its slot is not the copies’, and reads them only if it lets the request through', async () => {
      const copy = newKey();
      const counter = counterOf(`u${++n}`, 1);
      expect(await store.readCounted([lease(copy)], counter)).toMatchObject({ blocked: false, count: { hits: 1 } });
      const other = newKey();
      expect(await store.readCounted([lease(other)], counter)).toMatchObject({ blocked: true });
      expect(await redis.exists(other)).toBe(0);
    });

    it('is one script call for a page and its viewer’s counter in one slot', async () => {
      const a = newKey();
      const tag = hashTagOf(a)!;
      const client = redis.duplicate();
      const counted = new FragmentStore(client, () => now);
      const sent: string[] = [];
      const send = client.sendCommand.bind(client);
      client.sendCommand = (command, stream) => {
        sent.push(command.name);
        return send(command, stream);
      };
      try {
        const page = [lease(a), lease(`${prefix}frag:{${tag}}:b`)];
        await counted.readCounted(page, counterOf(tag, 10)); // loads the script on this connection
        sent.length = 0;
        expect(await counted.readCounted(page, counterOf(tag, 10))).toMatchObject({ count: { hits: 2 } });
        expect(sent).toEqual(['evalsha']);
      } finally {
        client.disconnect();
      }
    });

    it('grants hits ahead within the limit: an eighth of what is left, one at a time near it', async () => {
      const counter = counterOf(`u${++n}`, 100);
      const grants = [];
      for (let c = await store.count(counter, 64); !c.blocked; c = await store.count(counter, 64)) {
        grants.push(c.granted);
      }
      expect(grants.slice(0, 3)).toEqual([12, 11, 9]);
      expect(grants.slice(-8)).toEqual(Array(8).fill(1));
      expect(grants.reduce((a, b) => a + b, 0)).toBe(100);
      expect(Number(await redis.get(counter.hitsKey))).toBe(101);
      // Blocked: one hit at a time, whatever is asked.
      expect(await store.count(counter, 64)).toMatchObject({ blocked: true, granted: 1 });
    });

    it('never lets replicas that count ahead pass the limit together, and loses few hits to them', async () => {
      // Four gateways' worth of allowances; one viewer's requests, 8 at a time, each to a replica at random.
      const limit = 6400;
      const counter = counterOf(`u${++n}`, limit);
      const replicas = Array.from({ length: 4 }, () => new CountAllowances());
      let admitted = 0;
      let refused = 0;
      let roundTrips = 0;
      const request = async (): Promise<void> => {
        const replica = replicas[Math.floor(Math.random() * replicas.length)]!;
        const t = performance.now();
        if (replica.take(counter, t)) {
          admitted++;
          return;
        }
        const count = await replica.count(counter, t, (want) => store.count(counter, want));
        if (count.blocked) refused++;
        else {
          admitted++;
          roundTrips++;
        }
      };
      while (admitted + refused < limit + 500) await Promise.all(Array.from({ length: 8 }, request));
      expect(admitted).toBeLessThanOrEqual(limit);
      // Lost: at most what each replica holds unused, maxWant(limit) - 1 (63) each.
      expect(admitted).toBeGreaterThanOrEqual(limit - replicas.length * (maxWant(limit) - 1));
      expect(refused).toBeGreaterThan(0);
      // Counts that let a request through: a few per replica to ramp up, then a few near the limit.
      expect(roundTrips).toBeLessThan(admitted / 10);
    });
  });

  it('reads copies of several slots in one wave, each with its own state, in the caller’s order', async () => {
    const [a, b, c] = [newKey(), newKey(), newKey()];
    const d = a.replace(':k', ':other'); // same tag as a: same slot, same script call
    await built(a, '1');
    await store.read([lease(b)], true);
    const states = await store.read([lease(a), lease(b), lease(c), lease(d)], true);
    expect(states.map((s) => s.status)).toEqual(['ready', 'pending', 'pending', 'pending']);
    expect(states.map((s) => s.takenGeneration > 0)).toEqual([false, false, true, true]);
  });

  it('turns a write into stale copies, remembers its position and hands it to the next build', async () => {
    const [cached, absent] = [newKey(), newKey()];
    await built(cached, '"before"');
    const results = await store.invalidate([lease(cached), lease(absent)], 0, '16/B374D848');
    expect(results).toEqual([{ outcome: 'stale' }, { outcome: 'absent' }]);
    expect(await redis.exists(absent)).toBe(0);
    await store.invalidate([lease(cached)], 0, '16/0'); // an older position never lowers it
    const [state] = await store.read([lease(cached)], true);
    expect(state).toMatchObject({ status: 'stale', dataJson: '"before"' });
    expect(await store.claim(cached, 'j', 30_000, 'interactive')).toEqual({
      outcome: 'claimed',
      generation: expect.any(Number),
      minLsn: '16/B374D848',
    });
  });

  it('rebuilds a copy read recently at once, in the background lane, and promotes it when someone asks', async () => {
    const key = newKey();
    await built(key, '"v1"');
    await store.read([lease(key)], true); // a client reads it: it is "active"
    const [result] = await store.invalidate([lease(key)], 60_000);
    expect(result).toMatchObject({ outcome: 'rebuild', generation: expect.any(Number) });
    const rebuildGen = (result as { generation: number }).generation;
    expect(await redis.hget(key, 'qn')).toBe('b');
    const [asked] = await store.read([lease(key)], true);
    expect(asked).toMatchObject({ status: 'stale', takenGeneration: rebuildGen, promoted: true });
    expect(await redis.hget(key, 'qn')).toBe('i');
    const [again] = await store.read([lease(key)], true);
    expect(again).toMatchObject({ takenGeneration: 0, promoted: false });
  });

  it('marks watched copies read, so a write long after the last request still rebuilds them', async () => {
    const [watched, unwatched, absent] = [newKey(), newKey(), newKey()];
    await built(watched, '"w"');
    await built(unwatched, '"u"');
    advance(11 * 60_000); // past the active window
    expect(await store.markRead([watched, absent])).toBe(1);
    expect(await redis.exists(absent)).toBe(0);
    const results = await store.invalidate([lease(watched), lease(unwatched)], 10 * 60_000);
    expect(results.map((r) => r.outcome)).toEqual(['rebuild', 'stale']);
  });
});
