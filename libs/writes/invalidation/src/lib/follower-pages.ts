/**
 * Keyset pagination over an author's followers, in follower id order: a page is the followers with
 * ids above a cursor, and the next page starts after the page's last id. Unlike OFFSET, each page
 * costs one range of the (followee_id, follower_id) index whatever its position, and a page's
 * cursor stays valid while people follow and unfollow.
 */
export interface FollowerPage {
  /** Follower ids, ascending, at most the page size. */
  readonly ids: readonly number[];
  /** The cursor of the next page (this page's last id), or null when this is the last page. */
  readonly next: number | null;
}

/**
 * One query per page. It asks for one row more than the page holds, so the last page is known to be
 * the last without an extra (empty) page: `$1` author, `$2` cursor, `$3` page size + 1.
 */
export const FOLLOWER_PAGE_SQL = `
  SELECT follower_id AS id
    FROM follows
   WHERE followee_id = $1 AND follower_id > $2
   ORDER BY follower_id
   LIMIT $3`;

/** The query's parameters for the page after `cursor` (0: the first page; ids are positive). */
export function followerPageParams(authorId: number, cursor: number, pageSize: number): [number, number, number] {
  if (!Number.isSafeInteger(pageSize) || pageSize < 1) throw new RangeError(`page size must be ≥ 1, got ${pageSize}`);
  if (!Number.isSafeInteger(cursor) || cursor < 0) throw new RangeError(`cursor must be ≥ 0, got ${cursor}`);
  return [authorId, cursor, pageSize + 1];
}

/** The page from the query's rows (ascending ids, up to page size + 1 of them). */
export function toFollowerPage(rows: ReadonlyArray<{ id: number }>, pageSize: number): FollowerPage {
  const ids = rows.slice(0, pageSize).map((row) => Number(row.id));
  const more = rows.length > pageSize;
  return { ids, next: more ? ids[ids.length - 1] : null };
}
