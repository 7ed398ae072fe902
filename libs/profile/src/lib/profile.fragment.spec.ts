import { profileFragment } from './profile.fragment';

describe('profileFragment', () => {
  it('is a public fragment on its own queue', () => {
    expect(profileFragment).toMatchObject({
      name: 'profile',
      queue: 'profile',
      scope: 'public',
      version: 1,
      ttlMs: 60_000,
    });
    expect(profileFragment.leaseMs).toBeGreaterThan(profileFragment.buildTimeoutMs);
  });

  it('canonicalises userId from a query string or a job payload', () => {
    expect(profileFragment.params.parse({ userId: '42' })).toEqual({ userId: 42 });
    expect(profileFragment.params.parse({ userId: 42 })).toEqual({ userId: 42 });
  });

  it.each([{ userId: '042' }, { userId: '0' }, { userId: '-1' }, { userId: '1e3' }, { userId: 'abc' }, {}])(
    'rejects %p',
    (raw) => {
      expect(profileFragment.params.safeParse(raw).success).toBe(false);
    },
  );

  it('rejects unknown params, so nothing else can become part of the key', () => {
    expect(profileFragment.params.safeParse({ userId: '1', viewerId: '2' }).success).toBe(false);
  });

  it("defaults to the viewer's own profile", () => {
    expect(profileFragment.defaults?.({ viewerId: 7 })).toEqual({ userId: '7' });
    expect(profileFragment.params.parse(profileFragment.defaults?.({ viewerId: 7 }))).toEqual({ userId: 7 });
  });
});
