import { CountAllowances, maxWant } from './count-allowances';
import type { ReadCounter } from './fragment-store';

const counter = (limit: number, hitsKey = 'hits'): ReadCounter => ({
  hitsKey,
  blockedKey: `${hitsKey}:blocked`,
  windowMs: 60_000,
  limit,
  blockMs: 60_000,
});

const granted = (hits: number, granted: number, windowLeftMs = 60_000) => ({
  hits,
  windowLeftMs,
  blocked: false,
  blockLeftMs: 0,
  granted,
});

describe('CountAllowances', () => {
  it('asks for one hit first, then twice as many per count, up to 1/64 of the limit and 64', () => {
    const allowances = new CountAllowances();
    const c = counter(1_000_000);
    const asked: number[] = [];
    for (let i = 0; i < 9; i++) {
      const want = allowances.want(c);
      asked.push(want);
      allowances.keep(c, granted(i + 1, want), 0);
    }
    expect(asked).toEqual([1, 2, 4, 8, 16, 32, 64, 64, 64]);
    expect(maxWant(1200)).toBe(18);
    expect(maxWant(127)).toBe(1);
    expect(maxWant(40)).toBe(1);
  });

  it('never asks a small limit for more than one hit: every request is counted in Redis', () => {
    const allowances = new CountAllowances();
    const c = counter(100);
    for (let i = 0; i < 5; i++) {
      expect(allowances.want(c)).toBe(1);
      allowances.keep(c, granted(i + 1, 1), 0);
      expect(allowances.take(c, 1)).toBeUndefined();
    }
  });

  it('spends the hits granted beyond the request, counting up to the hits Redis holds', () => {
    const allowances = new CountAllowances();
    const c = counter(10_000);
    allowances.keep(c, granted(40, 4, 30_000), 1_000);
    const taken = [1, 2, 3, 4].map(() => allowances.take(c, 2_000));
    expect(taken.map((t) => t?.hits)).toEqual([38, 39, 40, undefined]);
    expect(taken[0]).toEqual({ hits: 38, windowLeftMs: 29_000, blocked: false, blockLeftMs: 0 });
  });

  it('lets no hit outlive its window, measured from when the count was sent', () => {
    const allowances = new CountAllowances();
    const c = counter(10_000);
    allowances.keep(c, granted(8, 8, 500), 100);
    expect(allowances.take(c, 599)).toBeDefined();
    expect(allowances.take(c, 600)).toBeUndefined();
    // A count in the next window replaces what is left of the last one.
    allowances.keep(c, granted(3, 3), 700);
    expect([allowances.take(c, 701)?.hits, allowances.take(c, 701)?.hits, allowances.take(c, 701)]).toEqual([
      2,
      3,
      undefined,
    ]);
  });

  it('adds up two counts of one window that were in flight together, ending at the earlier end', () => {
    const allowances = new CountAllowances();
    const c = counter(10_000);
    allowances.keep(c, granted(10, 2, 5_000), 0);
    allowances.keep(c, granted(14, 4, 4_900), 50);
    const hits = [];
    for (let t = allowances.take(c, 100); t; t = allowances.take(c, 100)) hits.push(t.hits);
    expect(hits).toHaveLength(4);
    expect(allowances.take(c, 100)).toBeUndefined();
    allowances.keep(c, granted(20, 3, 5_000), 4_000);
    expect(allowances.take(c, 4_949)).toBeDefined();
    expect(allowances.take(c, 4_950)).toBeUndefined();
  });

  it('keeps nothing from a blocked count and asks for one hit again', () => {
    const allowances = new CountAllowances();
    const c = counter(10_000);
    for (let i = 0; i < 4; i++) allowances.keep(c, granted(i, allowances.want(c)), 0);
    while (allowances.take(c, 1)) {
      // spend what was granted
    }
    allowances.keep(c, { hits: 10_001, windowLeftMs: 1_000, blocked: true, blockLeftMs: 60_000, granted: 1 }, 2);
    expect(allowances.take(c, 3)).toBeUndefined();
    expect(allowances.want(c)).toBe(1);
  });

  it('holds a bounded number of counters, dropping the oldest (their hits are lost, never given twice)', () => {
    const allowances = new CountAllowances(100);
    for (let i = 0; i < 100; i++) allowances.keep(counter(10_000, `k${i}`), granted(2, 2), 0);
    expect(allowances.size).toBe(100);
    allowances.keep(counter(10_000, 'new'), granted(2, 2), 0);
    expect(allowances.size).toBe(91);
    expect(allowances.take(counter(10_000, 'k0'), 1)).toBeUndefined();
    expect(allowances.take(counter(10_000, 'k50'), 1)).toBeDefined();
    expect(allowances.take(counter(10_000, 'new'), 1)).toBeDefined();
  });
});
