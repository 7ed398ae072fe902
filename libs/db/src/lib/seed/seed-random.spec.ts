import { gcd, ringStep, sqlPick, sqlRandom, sqlRandom2 } from './seed-random';

describe('ringStep', () => {
  it.each([4, 5, 7, 10, 12, 200, 2_000, 2_310, 65_536])(
    'gives 4 distinct ring items in a row for %p items',
    (items) => {
      const step = ringStep(items);
      expect(gcd(step, items)).toBe(1);
      expect(step).toBeGreaterThan(0);
      expect(step).toBeLessThan(items);
      const ring = (k: number) => 1 + ((k * step) % items);
      for (let k = 0; k < Math.min(items, 5_000); k += 1) {
        const window = [ring(k), ring(k + 1), ring(k + 2), ring(k + 3)];
        expect(new Set(window).size).toBe(4);
        expect(Math.min(...window)).toBeGreaterThanOrEqual(1);
        expect(Math.max(...window)).toBeLessThanOrEqual(items);
      }
    },
  );

  it('refuses fewer than 4 items', () => {
    expect(() => ringStep(3)).toThrow(/at least 4 items/);
  });
});

describe('gcd', () => {
  it.each([
    [12, 18, 6],
    [7, 5, 1],
    [0, 9, 9],
    [-4, 6, 2],
  ])('gcd(%p, %p) = %p', (a, b, expected) => {
    expect(gcd(a, b)).toBe(expected);
  });
});

describe('SQL random expressions', () => {
  it('hash key and salt into [0, 1) with a mantissa-sized mask, so the value can never round up to 1', () => {
    const sql = sqlRandom('g', '$2');
    expect(sql).toContain('hashint8extended((g)::bigint, ($2)::bigint)');
    expect(sql).toContain('& (9007199254740992::bigint - 1)');
    expect(sql).toContain('/ 9007199254740992::float8');
  });

  it('nest the hash for pairs, and index arrays from 1', () => {
    expect(sqlRandom2('u', 'j', '$3')).toContain(
      'hashint8extended((j)::bigint, (hashint8extended((u)::bigint, ($3)::bigint))::bigint)',
    );
    expect(sqlPick('$4', 'id', '$1')).toMatch(/^\(\$4::text\[\]\)\[1 \+ floor\(cardinality\(\$4::text\[\]\) \* /);
  });
});
