import { defineFragment } from '@worker-pattern/fragment';
import { z } from 'zod';

/** The viewer's own recommendations. No params: the viewer comes from the build context. */
export const recommendationsParams = z.object({}).strict();

export type RecommendationsParams = z.infer<typeof recommendationsParams>;

/** Items per recommendations fragment. */
export const RECOMMENDATIONS_SIZE = 20;

/**
 * What a recommendations worker builds: the schema is the contract's one statement of the shape,
 * giving the type and the OpenAPI schema (libs/pages/src/lib/fragment.openapi.ts).
 */
export const recommendationsData = z.object({
  items: z
    .array(
      z.object({
        id: z.number().int().min(1),
        title: z.string(),
        category: z.string(),
        score: z.number().describe('Sum of the overlaps of the similar users who like it; 0 for popular filler'),
        reason: z
          .discriminatedUnion('kind', [
            z.object({ kind: z.literal('similar-users'), similarUsers: z.number().int().min(1) }),
            z.object({ kind: z.literal('popular'), likes: z.number().int().min(0) }),
          ])
          .describe(
            'Why: liked by `similarUsers` people who share liked items with the viewer, or popular filler liked by `likes` people',
          ),
      }),
    )
    .max(RECOMMENDATIONS_SIZE)
    .describe('Best first; never an item the viewer already likes'),
});

export type RecommendationsData = z.infer<typeof recommendationsData>;
export type RecommendedItem = RecommendationsData['items'][number];
export type RecommendationReason = RecommendedItem['reason'];

export const recommendationsFragment = defineFragment<RecommendationsParams, RecommendationsData>({
  name: 'recommendations',
  queue: 'recommendations',
  scope: 'viewer',
  version: 1,
  params: recommendationsParams,
  data: recommendationsData,
  title: 'Recommended for you',
  ttlMs: 120_000,
  // Collaborative filtering is the heavy one: give it room before the harness gives up on it.
  buildTimeoutMs: 30_000,
});
