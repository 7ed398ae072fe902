import { Injectable } from '@nestjs/common';
import { DbReader, type SqlQuery } from '@worker-pattern/db';
import {
  FragmentBuildContext,
  FragmentBuilder,
  FragmentNotFoundError,
  PermanentFragmentError,
} from '@worker-pattern/fragment';
import {
  RECOMMENDATIONS_SIZE,
  RecommendationsData,
  RecommendationsParams,
  RecommendedItem,
  recommendationsFragment,
} from '@worker-pattern/recommendations';

/**
 * How many of the most similar users vote. Popular items make almost everyone "similar" by one
 * shared like; capping the neighbourhood bounds the work (and keeps the closest tastes in charge).
 */
export const MAX_NEIGHBOURS = 1_000;

interface SimilarRow {
  id: number;
  title: string;
  category: string;
  score: string;
  similar_users: number;
}

interface PopularRow {
  id: number;
  title: string;
  category: string;
  likes: number;
}

/**
 * User-based collaborative filtering in one statement:
 *  1. mine: what the viewer likes (likes primary key);
 *  2. neighbours: users sharing liked items, weighted by how many they share (the (item_id,
 *     user_id) index, index-only), the MAX_NEIGHBOURS closest;
 *  3. what the neighbours like and the viewer does not, scored by the sum of their overlaps.
 */
const SIMILAR_SQL = `
  WITH mine AS (
    SELECT item_id FROM likes WHERE user_id = $1
  ), neighbours AS (
    SELECT l.user_id, count(*) AS overlap
      FROM mine
      JOIN likes l ON l.item_id = mine.item_id
     WHERE l.user_id <> $1
     GROUP BY l.user_id
     ORDER BY overlap DESC, l.user_id
     LIMIT $3
  ), candidates AS (
    SELECT l.item_id, sum(n.overlap) AS score, count(*)::int AS similar_users
      FROM neighbours n
      JOIN likes l ON l.user_id = n.user_id
     WHERE NOT EXISTS (SELECT 1 FROM mine WHERE mine.item_id = l.item_id)
     GROUP BY l.item_id
  )
  SELECT i.id, i.title, i.category, c.score, c.similar_users
    FROM candidates c
    JOIN items i ON i.id = c.item_id
   ORDER BY c.score DESC, c.similar_users DESC, i.id
   LIMIT $2`;

/** Filler: the most liked items the viewer does not like and was not already offered. */
const POPULAR_SQL = `
  SELECT i.id, i.title, i.category, count(l.user_id)::int AS likes
    FROM items i
    LEFT JOIN likes l ON l.item_id = i.id
   WHERE NOT EXISTS (SELECT 1 FROM likes own WHERE own.user_id = $1 AND own.item_id = i.id)
     AND i.id <> ALL ($3::int[])
   GROUP BY i.id
   ORDER BY likes DESC, i.id
   LIMIT $2`;

/**
 * Builds the viewer's recommendations: what people with similar likes like. Its statements are the
 * heaviest of all builders: one snapshot through `DbReader`, each statement stopped on the server
 * when the build's time is up.
 */
@Injectable()
export class RecommendationsBuilder implements FragmentBuilder<RecommendationsParams, RecommendationsData> {
  constructor(private readonly db: DbReader) {}

  async build(_params: RecommendationsParams, ctx: FragmentBuildContext): Promise<RecommendationsData> {
    const viewerId = requireViewer(ctx);
    const items = await this.db.read({ ...ctx, timeoutMs: recommendationsFragment.buildTimeoutMs }, (query) =>
      recommend(query, viewerId),
    );
    return { items };
  }
}

async function recommend(query: SqlQuery, viewerId: number): Promise<RecommendedItem[]> {
  if ((await query('SELECT 1 FROM users WHERE id = $1', [viewerId])).length === 0) {
    throw new FragmentNotFoundError(`user ${viewerId} not found`);
  }
  const similar = await query<SimilarRow>(SIMILAR_SQL, [viewerId, RECOMMENDATIONS_SIZE, MAX_NEIGHBOURS]);
  const items: RecommendedItem[] = similar.map((row) => ({
    id: row.id,
    title: row.title,
    category: row.category,
    score: Number(row.score),
    reason: { kind: 'similar-users', similarUsers: row.similar_users },
  }));
  if (items.length < RECOMMENDATIONS_SIZE) {
    // A new user, or one whose taste nobody shares: fill up so the fragment is never empty.
    const popular = await query<PopularRow>(POPULAR_SQL, [
      viewerId,
      RECOMMENDATIONS_SIZE - items.length,
      items.map((item) => item.id),
    ]);
    for (const row of popular) {
      items.push({
        id: row.id,
        title: row.title,
        category: row.category,
        score: 0,
        reason: { kind: 'popular', likes: row.likes },
      });
    }
  }
  return items;
}

/** The engine always passes the viewer for a viewer-scoped fragment; without one no retry can help. */
function requireViewer(ctx: FragmentBuildContext): number {
  if (ctx.viewerId === null) {
    throw new PermanentFragmentError('recommendations are viewer-scoped but the build has no viewer', 'no_viewer');
  }
  return ctx.viewerId;
}
