import type { InvalidationRules } from '@worker-pattern/write-events';
import type { ProfileParams } from './profile.fragment';

const profileOf = (userId: number) => ({ params: { userId }, viewerId: userId });

/**
 * Which profiles a write changes: the counts they show. A profile is public (one copy per user), so
 * the viewer given is the user themself, as when they look at their own.
 */
export const profileInvalidation: InvalidationRules<ProfileParams> = {
  // The author's post count.
  'post.created': (e) => [profileOf(e.authorId)],
  // The follower's `following`, the followee's `followers`.
  'follow.created': (e) => [profileOf(e.followerId), profileOf(e.followeeId)],
  'follow.deleted': (e) => [profileOf(e.followerId), profileOf(e.followeeId)],
  // The liker's like count.
  'like.created': (e) => [profileOf(e.userId)],
  'like.deleted': (e) => [profileOf(e.userId)],
};
