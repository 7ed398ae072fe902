import { retryDelayMs } from './retry-delay';

const noJitter = () => 0.5;

describe('retryDelayMs', () => {
  it('honours Retry-After, never coming back earlier than it says', () => {
    expect(retryDelayMs({ retryAfterHeader: '2' }, 0, noJitter)).toBe(2000);
    expect(retryDelayMs({ retryAfterHeader: '1', retryAfterMs: 1500 }, 0, noJitter)).toBe(1500);
  });

  it('uses the body hint without a header, else backs off exponentially', () => {
    expect(retryDelayMs({ retryAfterMs: 300 }, 3, noJitter)).toBe(300);
    expect([0, 1, 2, 3].map((a) => retryDelayMs({}, a, noJitter))).toEqual([500, 1000, 2000, 4000]);
    expect(retryDelayMs({}, 20, noJitter)).toBe(15_000);
  });

  it('spreads clients by ±25 %', () => {
    expect(retryDelayMs({ retryAfterHeader: '2' }, 0, () => 0)).toBe(1500);
    expect(retryDelayMs({ retryAfterHeader: '2' }, 0, () => 0.999999)).toBe(2500);
  });

  it('ignores a malformed header', () => {
    expect(retryDelayMs({ retryAfterHeader: 'soon' }, 0, noJitter)).toBe(500);
  });
});
