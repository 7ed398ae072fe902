import { defineFragment } from '@worker-pattern/fragment';
import { z } from 'zod';

/** The viewer's own recommendations. No params: the viewer comes from the build context. */
export const recommendationsParams = z.object({}).strict();

export type RecommendationsParams = z.infer<typeof recommendationsParams>;

/** Items per recommendations fragment. */
export const RECOMMENDATIONS_SIZE = 20;

/** Why an item is recommended. */
export type RecommendationReason =
  /** Liked by `similarUsers` people who share liked items with the viewer. */
  | { readonly kind: 'similar-users'; readonly similarUsers: number }
  /** Filler when taste alone gives too few: liked by `likes` people overall. */
  | { readonly kind: 'popular'; readonly likes: number };

export interface RecommendedItem {
  readonly id: number;
  readonly title: string;
  readonly category: string;
  /** Sum of the overlaps of the similar users who like it; 0 for popular filler. Higher first. */
  readonly score: number;
  readonly reason: RecommendationReason;
}

export interface RecommendationsData {
  /** Best first; never an item the viewer already likes. */
  readonly items: readonly RecommendedItem[];
}

export const recommendationsFragment = defineFragment<RecommendationsParams>({
  name: 'recommendations',
  queue: 'recommendations',
  scope: 'viewer',
  version: 1,
  params: recommendationsParams,
  ttlMs: 120_000,
  // Collaborative filtering is the heavy one: give it room before the harness gives up on it.
  buildTimeoutMs: 30_000,
});
