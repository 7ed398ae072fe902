import { Inject, Injectable } from '@nestjs/common';
import { DbReader, type SqlQuery } from '@worker-pattern/db';
import {
  FragmentBuildContext,
  FragmentBuilder,
  FragmentNotFoundError,
  PermanentFragmentError,
} from '@worker-pattern/fragment';
import { FEED_FANOUT_OPTIONS, type FeedFanoutOptions, pullFromFollowers } from '@worker-pattern/feed';
import { FEED_SIZE, FeedData, FeedParams, FeedPost, feedFragment } from '@worker-pattern/feed';

interface FeedRow {
  id: string;
  body: string;
  created_at: Date;
  author_id: number;
  handle: string;
  display_name: string;
}

/**
 * Fan-in on read: for each followee, take at most FEED_SIZE of their newest posts straight off
 * the (author_id, created_at DESC, id DESC) index, then merge. The cost grows with the number of
 * followees, never with how much they have ever posted. `id` breaks ties between equal timestamps.
 */
const FEED_SQL = `
  SELECT p.id, p.body, p.created_at, u.id AS author_id, u.handle, u.display_name
    FROM follows f
   CROSS JOIN LATERAL (
           SELECT p.id, p.author_id, p.body, p.created_at
             FROM posts p
            WHERE p.author_id = f.followee_id
            ORDER BY p.created_at DESC, p.id DESC
            LIMIT $2
         ) AS p
    JOIN users u ON u.id = p.author_id
   WHERE f.follower_id = $1
   ORDER BY p.created_at DESC, p.id DESC
   LIMIT $2`;

/**
 * Does the viewer follow an author whose posts are pulled (hybrid fan-out, `feed-fanout.ts`)? One
 * probe of the followee index per followee, each reading at most `$2 + 1` entries.
 */
const FOLLOWS_PULLED_AUTHOR_SQL = `
  SELECT EXISTS (
           SELECT 1
             FROM follows f
            WHERE f.follower_id = $1
              AND EXISTS (SELECT 1 FROM follows g WHERE g.followee_id = f.followee_id OFFSET $2)
         ) AS pulls`;

/**
 * Builds the viewer's feed: the newest posts of the people they follow. Reads through `DbReader` (a
 * replica once it has replayed the post that invalidated the feed), within the build timeout. A feed
 * that follows an author too big to push to is kept fresh only briefly (`celebrityFeedTtlMs`): no
 * write invalidates it for that author's posts, so its next build pulls them in.
 */
@Injectable()
export class FeedBuilder implements FragmentBuilder<FeedParams, FeedData> {
  constructor(
    private readonly db: DbReader,
    @Inject(FEED_FANOUT_OPTIONS) private readonly fanout: FeedFanoutOptions,
  ) {}

  async build(_params: FeedParams, ctx: FragmentBuildContext): Promise<FeedData> {
    const viewerId = requireViewer(ctx);
    const { feed, pulls } = await this.db.read({ ...ctx, timeoutMs: feedFragment.buildTimeoutMs }, async (query) => {
      const feed = await query<FeedRow>(FEED_SQL, [viewerId, FEED_SIZE]);
      // Only an empty feed costs the extra lookup that tells "follows nobody" from "no such user".
      if (feed.length === 0 && !(await userExists(query, viewerId))) {
        throw new FragmentNotFoundError(`user ${viewerId} not found`);
      }
      const [row] = await query<{ pulls: boolean }>(FOLLOWS_PULLED_AUTHOR_SQL, [
        viewerId,
        pullFromFollowers(this.fanout),
      ]);
      return { feed, pulls: row?.pulls === true };
    });
    if (pulls) ctx.limitTtl?.(this.fanout.celebrityFeedTtlMs);
    return { posts: feed.map(toFeedPost) };
  }
}

async function userExists(query: SqlQuery, id: number): Promise<boolean> {
  return (await query('SELECT 1 FROM users WHERE id = $1', [id])).length > 0;
}

/** The engine always passes the viewer for a viewer-scoped fragment; without one no retry can help. */
function requireViewer(ctx: FragmentBuildContext): number {
  if (ctx.viewerId === null) {
    throw new PermanentFragmentError('the feed is viewer-scoped but the build has no viewer', 'no_viewer');
  }
  return ctx.viewerId;
}

function toFeedPost(row: FeedRow): FeedPost {
  return {
    id: row.id,
    body: row.body,
    createdAt: row.created_at.toISOString(),
    author: { id: row.author_id, handle: row.handle, displayName: row.display_name },
  };
}
