import { WRITE_EVENT_TYPES, type WriteEvent } from '@worker-pattern/write-events';
import { followerFragments, invalidationPlan } from './invalidation-plan';

/** A plan as `fragment(params)@viewer` lines, and the followers walk as `followers of N: fragments`. */
function summary(event: WriteEvent) {
  const plan = invalidationPlan(event);
  return {
    copies: plan.copies.map((c) => `${c.fragment.name}(${JSON.stringify(c.params)})@${c.viewerId}`),
    followers: plan.followers
      ? `followers of ${plan.followers.authorId}: ${plan.followers.fragments.map((f) => f.name).join(',')}`
      : undefined,
  };
}

// The fan-out per write kind: user 1 writes; 2 is the followee, 9 the item, 77 the post.
const EXPECTED: Record<WriteEvent['type'], { event: WriteEvent; copies: string[]; followers?: string }> = {
  'post.created': {
    event: { type: 'post.created', authorId: 1, postId: '77' },
    copies: ['profile({"userId":1})@1'],
    followers: 'followers of 1: feed',
  },
  'follow.created': {
    event: { type: 'follow.created', followerId: 1, followeeId: 2 },
    copies: ['profile({"userId":1})@1', 'profile({"userId":2})@2', 'feed({})@1'],
  },
  'follow.deleted': {
    event: { type: 'follow.deleted', followerId: 1, followeeId: 2 },
    copies: ['profile({"userId":1})@1', 'profile({"userId":2})@2', 'feed({})@1'],
  },
  'like.created': {
    event: { type: 'like.created', userId: 1, itemId: 9 },
    copies: ['profile({"userId":1})@1', 'recommendations({})@1'],
  },
  'like.deleted': {
    event: { type: 'like.deleted', userId: 1, itemId: 9 },
    copies: ['profile({"userId":1})@1', 'recommendations({})@1'],
  },
};

describe('invalidationPlan', () => {
  it('covers every write kind of the event schema', () => {
    expect([...WRITE_EVENT_TYPES].sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(Object.entries(EXPECTED))('%s invalidates exactly its copies', (_type, { event, copies, followers }) => {
    expect(summary(event)).toEqual({ copies, followers });
  });

  it('walks followers only for a post, and only the feed’s', () => {
    expect(followerFragments('post.created').map((f) => f.name)).toEqual(['feed']);
    for (const type of WRITE_EVENT_TYPES.filter((t) => t !== 'post.created'))
      expect(followerFragments(type)).toEqual([]);
  });
});
