import { feedFragment } from './feed.fragment';

describe('feedFragment', () => {
  it('is a viewer-scoped fragment on its own queue', () => {
    expect(feedFragment).toMatchObject({ name: 'feed', queue: 'feed', scope: 'viewer', version: 1, ttlMs: 30_000 });
    expect(feedFragment.defaults).toBeUndefined();
  });

  it('takes no params', () => {
    expect(feedFragment.params.parse({})).toEqual({});
  });

  it.each([{ userId: '2' }, { viewerId: '2' }, { limit: '100' }])(
    'rejects %p: whose feed it is never comes from the request',
    (raw) => {
      expect(feedFragment.params.safeParse(raw).success).toBe(false);
    },
  );
});
