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
    // The window ends 5 ms early here: Redis expires it on its own clock.
    expect(taken[0]).toEqual({ hits: 38, windowLeftMs: 28_995, blocked: false, blockLeftMs: 0 });
  });

  it('lets no hit outlive its window, measured from when the count was sent', () => {
    const allowances = new CountAllowances();
    const c = counter(10_000);
    allowances.keep(c, granted(8, 8, 500), 100);
    expect(allowances.take(c, 594)).toBeDefined();
    expect(allowances.take(c, 595)).toBeUndefined();
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
    expect(allowances.take(c, 4_944)).toBeDefined();
    expect(allowances.take(c, 4_945)).toBeUndefined();
  });

  it('keeps nothing from a blocked count and asks for one hit again', () => {
    const allowances = new CountAllowances();
    const c = counter(10_000);
    for (let i = 0; i < 4; i++) allowances.keep(c, granted(i, allowances.want(c)), 0);
    while (allowances.take(c, 1)) {
      // spend what was granted
    }
    // (A blocked answer grants one hit, the refused request's; were it more, none is kept.)
    allowances.keep(c, { hits: 10_004, windowLeftMs: 1_000, blocked: true, blockLeftMs: 60_000, granted: 4 }, 2);
    expect(allowances.take(c, 3)).toBeUndefined();
    expect(allowances.want(c)).toBe(1);
  });

  it('asks for more than one hit in one count per counter at a time, so requests arriving together hold few', async () => {
    const allowances = new CountAllowances();
    const c = counter(1_000_000);
    for (let i = 0; i < 6; i++) await allowances.count(c, 0, async (want) => granted(i, want));
    while (allowances.take(c, 1)) {
      // spend what was granted
    }
    const asked: number[] = [];
    let hits = 1_000;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const counts = Array.from({ length: 20 }, () =>
      allowances.count(c, 1, async (want) => {
        asked.push(want);
        await held;
        hits += want;
        return granted(hits, want);
      }),
    );
    release();
    const answered = await Promise.all(counts);
    expect(asked).toEqual([64, ...Array(19).fill(1)]);
    // Each answer is its request's own hit: the first of the 64, then one each.
    expect(answered.map((a) => a.hits)).toEqual([1_001, ...Array.from({ length: 19 }, (_, i) => 1_065 + i)]);
    let spent = 0;
    while (allowances.take(c, 2)) spent++;
    expect(spent).toBe(63);
  });

  it('asks again for more once the count in flight has answered, or failed', async () => {
    const allowances = new CountAllowances();
    const c = counter(1_000_000);
    allowances.keep(c, granted(1, 1), 0);
    await expect(allowances.count(c, 0, () => Promise.reject(new Error('Redis away')))).rejects.toThrow('Redis away');
    const asked: number[] = [];
    await allowances.count(c, 0, async (want) => (asked.push(want), granted(10, want)));
    expect(asked).toEqual([2]);
  });

  it('holds a bounded number of counters, dropping the oldest (their hits are lost, never given twice)', () => {
    const allowances = new CountAllowances(100);
    for (let i = 0; i < 100; i++) allowances.keep(counter(10_000, `k${i}`), granted(2, 2), 0);
    expect(allowances.size).toBe(100);
    // k0 counted again: it moves behind the others, and k1 to k10 go first.
    allowances.keep(counter(10_000, 'k0'), granted(4, 2), 0);
    allowances.keep(counter(10_000, 'new'), granted(2, 2), 0);
    expect(allowances.size).toBe(91);
    expect(allowances.take(counter(10_000, 'k1'), 1)).toBeUndefined();
    expect(allowances.take(counter(10_000, 'k10'), 1)).toBeUndefined();
    expect(allowances.take(counter(10_000, 'k0'), 1)).toBeDefined();
    expect(allowances.take(counter(10_000, 'k50'), 1)).toBeDefined();
    expect(allowances.take(counter(10_000, 'new'), 1)).toBeDefined();
  });
});
