import { defineFragment } from '@worker-pattern/fragment';
import { z } from 'zod';

/** The viewer's own feed. No params at all: the viewer comes from the build context, never the query string. */
export const feedParams = z.object({}).strict();

export type FeedParams = z.infer<typeof feedParams>;

/** Posts per feed. */
export const FEED_SIZE = 20;

export interface FeedAuthor {
  readonly id: number;
  readonly handle: string;
  readonly displayName: string;
}

export interface FeedPost {
  /** A bigint id, kept a string so no precision is lost on its way through JSON. */
  readonly id: string;
  readonly body: string;
  /** ISO 8601. */
  readonly createdAt: string;
  readonly author: FeedAuthor;
}

export interface FeedData {
  /** Newest first. */
  readonly posts: readonly FeedPost[];
}

export const feedFragment = defineFragment<FeedParams>({
  name: 'feed',
  queue: 'feed',
  scope: 'viewer',
  version: 1,
  params: feedParams,
  ttlMs: 30_000,
});
