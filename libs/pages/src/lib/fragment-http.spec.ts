import { fragmentHttpStatus, renderPageJson, retryAfterSeconds } from './fragment-http';
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
    const json = renderPageJson(
      'dashboard',
      ['profile', 'feed'],
      [
        { status: 'ready', dataJson: '{"a":1}', builtAt: 't' },
        { status: 'pending', retryAfterMs: 500 },
      ],
    );
    expect(JSON.parse(json)).toEqual({
      page: 'dashboard',
      fragments: {
        profile: { status: 'ready', data: { a: 1 }, builtAt: 't' },
        feed: { status: 'pending', retryAfterMs: 500 },
      },
    });
  });
});
