import { z } from 'zod';
import { defineFragment } from './fragment-definition';

const base = {
  name: 'x',
  queue: 'x',
  scope: 'public' as const,
  version: 1,
  params: z.object({}).strict(),
  ttlMs: 1000,
};

describe('defineFragment', () => {
  it('fills defaults that keep the lease longer than a build', () => {
    const def = defineFragment(base);
    expect(def.staleMs).toBe(10_000);
    expect(def.leaseMs).toBeGreaterThan(def.buildTimeoutMs);
    expect(def.attempts).toBe(5);
    expect(Object.isFrozen(def)).toBe(true);
  });

  it.each([
    [{ name: 'Bad Name' }, /name/],
    [{ name: 'a:b' }, /name/],
    [{ version: 0 }, /version/],
    [{ ttlMs: -1 }, /ttlMs/],
    [{ attempts: 0 }, /attempts/],
    [{ leaseMs: 1000, buildTimeoutMs: 5000 }, /leaseMs must exceed buildTimeoutMs/],
  ])('refuses %j', (override, message) => {
    expect(() => defineFragment({ ...base, ...override })).toThrow(message);
  });
});
