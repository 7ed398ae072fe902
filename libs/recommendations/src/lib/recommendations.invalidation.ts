import { UNAFFECTED, type InvalidationRules } from '@worker-pattern/write-events';
import type { RecommendationsParams } from './recommendations.fragment';

const recommendationsOf = (viewerId: number) => ({ params: {}, viewerId });

/**
 * Which recommendations a write changes: the liker's own (never an item they already like). Other
 * viewers' recommendations shift too, slightly, with every like; their ttl covers that.
 */
export const recommendationsInvalidation: InvalidationRules<RecommendationsParams> = {
  'post.created': UNAFFECTED,
  'follow.created': UNAFFECTED,
  'follow.deleted': UNAFFECTED,
  'like.created': (e) => [recommendationsOf(e.userId)],
  'like.deleted': (e) => [recommendationsOf(e.userId)],
};
