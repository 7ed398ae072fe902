import {
  FragmentNearCache,
  type FragmentModuleOptions,
  type FragmentState,
  type RedisClient,
} from '@worker-pattern/fragment';
import { fragmentHttpStatus, PageFrame, retryAfterSeconds } from './fragment-http';
import { refuseUnknownParams, takeWaitMs } from './request-query';

describe('takeWaitMs', () => {
  it('takes waitMs off and passes every other param through', () => {
    expect(takeWaitMs({ waitMs: '1500', userId: '7' })).toEqual({ waitMs: 1500, rest: { userId: '7' } });
    expect(takeWaitMs({})).toEqual({ waitMs: 0, rest: {} });
  });

  it.each(['2001', '-1', '1.5', 'abc', '', '01', '99999'])('refuses waitMs=%j', (waitMs) => {
    expect(() => takeWaitMs({ waitMs })).toThrow(/"waitMs"/);
  });

  it('refuses a repeated waitMs', () => {
    expect(() => takeWaitMs({ waitMs: ['1', '2'] })).toThrow(/"waitMs"/);
  });

  it('keeps __proto__ as a plain param, for the fragment schema to refuse', () => {
    const raw = JSON.parse('{"__proto__":"x"}') as Record<string, unknown>;
    expect(Object.keys(takeWaitMs(raw).rest)).toEqual(['__proto__']);
  });
});

describe('refuseUnknownParams', () => {
  it('names the first unknown param', () => {
    expect(() => refuseUnknownParams({ viewerId: '2' }, 'dashboard')).toThrow(
      'unknown parameter "viewerId" for page "dashboard"',
    );
    expect(() => refuseUnknownParams({}, 'dashboard')).not.toThrow();
  });
});

describe('fragment HTTP semantics', () => {
  it('maps states to statuses a poller can follow', () => {
    expect(fragmentHttpStatus({ status: 'ready' })).toBe(200);
    expect(fragmentHttpStatus({ status: 'stale' })).toBe(200);
    expect(fragmentHttpStatus({ status: 'pending' })).toBe(202);
    expect(fragmentHttpStatus({ status: 'failed', errorCode: 'not_found' })).toBe(404);
    expect(fragmentHttpStatus({ status: 'failed', errorCode: 'build_failed' })).toBe(502);
  });

  it('rounds Retry-After up to whole seconds, at least 1', () => {
    expect(retryAfterSeconds(1)).toBe('1');
    expect(retryAfterSeconds(1000)).toBe('1');
    expect(retryAfterSeconds(1001)).toBe('2');
  });

  it('renders a page as the contract says', () => {
    const body = new PageFrame('dashboard', ['profile', 'feed']).body([
      { status: 'ready', dataJson: '{"a":1}', builtAt: 't' },
      { status: 'pending', retryAfterMs: 500 },
    ]);
    expect(JSON.parse(body.toString())).toEqual({
      page: 'dashboard',
      fragments: {
        profile: { status: 'ready', data: { a: 1 }, builtAt: 't' },
        feed: { status: 'pending', retryAfterMs: 500 },
      },
    });
  });

  it("sends a kept copy's encoded bytes as they are, beside rendered ones, in the frame's order", () => {
    const kept = Buffer.from('{"status":"ready","data":"é ✓"}');
    const body = new PageFrame('p"q', ['a', 'b', 'c']).body([
      { status: 'ready', dataJson: 'ignored: json wins', json: kept },
      { status: 'failed', error: 'x "y"', errorCode: 'build_failed' },
      { status: 'ready', dataJson: '[1]' },
    ]);
    expect(body.includes(kept)).toBe(true);
    expect(JSON.parse(body.toString())).toEqual({
      page: 'p"q',
      fragments: {
        a: { status: 'ready', data: 'é ✓' },
        b: { status: 'failed', error: 'x "y"', errorCode: 'build_failed' },
        c: { status: 'ready', data: [1] },
      },
    });
  });

  it('answers the same kept copies with the same body, and a changed copy with a new one', () => {
    const frame = new PageFrame('dashboard', ['a', 'b']);
    // A near cache that never connects: its page bodies need no Redis.
    const kept = new FragmentNearCache(
      {
        nearCacheBytes: 1 << 20,
        redis: { cache: { kind: 'single', url: 'redis://127.0.0.1:1' } },
      } as FragmentModuleOptions,
      {} as RedisClient,
    );
    const a = Buffer.from('{"status":"ready","data":1}');
    const b1 = Buffer.from('{"status":"ready","data":2}');
    const b2 = Buffer.from('{"status":"ready","data":3}');
    const page = (...states: FragmentState[]) => frame.body(states, kept);
    const first = page({ status: 'ready', json: a }, { status: 'ready', json: b1 });
    expect(page({ status: 'ready', json: a }, { status: 'ready', json: b1 })).toBe(first);
    // Without a near cache nothing is kept: the same bytes, assembled again.
    const unkept = frame.body([
      { status: 'ready', json: a },
      { status: 'ready', json: b1 },
    ]);
    expect(unkept).not.toBe(first);
    expect(unkept.equals(first)).toBe(true);
    const changed = page({ status: 'ready', json: a }, { status: 'ready', json: b2 });
    expect(changed).not.toBe(first);
    expect(JSON.parse(changed.toString()).fragments).toEqual({
      a: { status: 'ready', data: 1 },
      b: { status: 'ready', data: 3 },
    });
    // A rendered state (no kept bytes) is never answered from a kept body.
    const rendered = page({ status: 'ready', json: a }, { status: 'pending', retryAfterMs: 5 });
    expect(JSON.parse(rendered.toString()).fragments.b).toEqual({ status: 'pending', retryAfterMs: 5 });
    // Kept bytes on a state that is not ready are not sent: it is rendered.
    const failed = page({ status: 'ready', json: a }, { status: 'failed', error: 'x', json: b1 });
    expect(JSON.parse(failed.toString()).fragments.b).toEqual({ status: 'failed', error: 'x' });
    expect(kept.bodySizeBytes).toBe(changed.length);
  });

  it('renders a page of no fragments, and refuses states that do not match its fragments', () => {
    expect(JSON.parse(new PageFrame('empty', []).body([]).toString())).toEqual({ page: 'empty', fragments: {} });
    expect(() => new PageFrame('p', ['a']).body([])).toThrow('0 states for 1 fragments');
  });
});
