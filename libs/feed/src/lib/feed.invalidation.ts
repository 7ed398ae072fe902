import { UNAFFECTED, type InvalidationRules } from '@worker-pattern/write-events';
import type { FeedParams } from './feed.fragment';

const feedOf = (viewerId: number) => ({ params: {}, viewerId });

/**
 * Which feeds a write changes. A post goes to its author's followers' feeds: pushed a page of
 * followers at a time, or, for an author above the celebrity threshold, pulled by the feeds'
 * builds (feed-fanout.ts). A follow or unfollow changes whose posts the follower's feed shows.
 */
export const feedInvalidation: InvalidationRules<FeedParams> = {
  'post.created': { followersOf: (e) => e.authorId },
  'follow.created': (e) => [feedOf(e.followerId)],
  'follow.deleted': (e) => [feedOf(e.followerId)],
  'like.created': UNAFFECTED,
  'like.deleted': UNAFFECTED,
};
