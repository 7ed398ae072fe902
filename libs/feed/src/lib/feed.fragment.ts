import { defineFragment } from '@worker-pattern/fragment';
import { z } from 'zod';

/** The viewer's own feed. No params at all: the viewer comes from the build context, never the query string. */
export const feedParams = z.object({}).strict();

export type FeedParams = z.infer<typeof feedParams>;

/** Posts per feed. */
export const FEED_SIZE = 20;

/**
 * What a feed's worker builds: the schema is the contract's one statement of the shape, giving the
 * type and the OpenAPI schema (libs/pages/src/lib/fragment.openapi.ts).
 */
export const feedData = z.object({
  posts: z
    .array(
      z.object({
        id: z
          .string()
          .regex(/^[1-9][0-9]*$/)
          .describe('A bigint id, as a string'),
        body: z.string(),
        createdAt: z.iso.datetime(),
        author: z.object({ id: z.number().int().min(1), handle: z.string(), displayName: z.string() }),
      }),
    )
    .max(FEED_SIZE)
    .describe('Newest first: the latest posts of the people the viewer follows'),
});

export type FeedData = z.infer<typeof feedData>;
export type FeedPost = FeedData['posts'][number];
export type FeedAuthor = FeedPost['author'];

export const feedFragment = defineFragment<FeedParams, FeedData>({
  name: 'feed',
  queue: 'feed',
  scope: 'viewer',
  version: 1,
  params: feedParams,
  data: feedData,
  title: 'Feed',
  ttlMs: 30_000,
});
