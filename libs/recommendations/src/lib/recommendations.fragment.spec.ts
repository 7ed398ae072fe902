import { recommendationsFragment } from './recommendations.fragment';

describe('recommendationsFragment', () => {
  it('is a viewer-scoped fragment on its own queue, with a longer build timeout than the default', () => {
    expect(recommendationsFragment).toMatchObject({
      name: 'recommendations',
      queue: 'recommendations',
      scope: 'viewer',
      version: 1,
      ttlMs: 120_000,
    });
    expect(recommendationsFragment.buildTimeoutMs).toBeGreaterThan(10_000);
    expect(recommendationsFragment.leaseMs).toBeGreaterThan(recommendationsFragment.buildTimeoutMs);
    expect(recommendationsFragment.defaults).toBeUndefined();
  });

  it('takes no params', () => {
    expect(recommendationsFragment.params.parse({})).toEqual({});
  });

  it.each([{ userId: '2' }, { viewerId: '2' }, { limit: '5' }])(
    'rejects %p: whose recommendations they are never comes from the request',
    (raw) => {
      expect(recommendationsFragment.params.safeParse(raw).success).toBe(false);
    },
  );
});
