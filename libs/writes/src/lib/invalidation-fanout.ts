import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { cappedTransaction, DB_CONNECTION_OPTIONS, type ResolvedDbConnectionOptions } from '@worker-pattern/db';
import {
  FEED_FANOUT_OPTIONS,
  type FeedFanoutOptions,
  feedFragment,
  HAS_MORE_FOLLOWERS_THAN_SQL,
} from '@worker-pattern/feed';
import { type FragmentTarget, FragmentTargets } from '@worker-pattern/fragment';
import { profileFragment } from '@worker-pattern/profile';
import { recommendationsFragment } from '@worker-pattern/recommendations';
import type { DataSource } from 'typeorm';
import { FOLLOWER_PAGE_SQL, followerPageParams, toFollowerPage } from './follower-pages';
import type { WriteEvent } from './write-events';

/** What a write invalidates. */
export interface WriteFanout {
  /** Copies the write itself changes, invalidated at once (a handful). */
  readonly targets: FragmentTarget[];
  /**
   * A post pushed to its author's followers' feeds: the author whose followers are walked page by
   * page. `pull`: the author has too many followers to push to; their feeds pull the post.
   */
  readonly followers?: { readonly authorId: number; readonly mode: 'push' | 'pull' };
}

/** One page of a post's followers, as the feed copies to invalidate. */
export interface FeedPage {
  readonly targets: FragmentTarget[];
  /** The cursor of the next page, or null when this was the last. */
  readonly next: number | null;
}

/**
 * Which cached fragments a write changes:
 * - a post: the author's profile (post count), and the feeds of the author's followers — pushed a
 *   page at a time (`feedsAfter`), unless the author has more than `celebrityFollowers` followers:
 *   then no feed is touched, and the feed builder pulls the post (libs/feed/src/lib/feed-fanout.ts);
 * - a follow or unfollow: the follower's feed, and both profiles (follower / following counts);
 * - a like or unlike: the liker's recommendations, and the liker's profile (like count).
 * Other viewers' recommendations shift too, slightly; their ttl covers that.
 * Reads the primary (never a replica: a follow made just now must fan out too).
 */
@Injectable()
export class InvalidationFanout {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly targets: FragmentTargets,
    @Inject(DB_CONNECTION_OPTIONS) private readonly db: Pick<ResolvedDbConnectionOptions, 'statementTimeoutMs'>,
    @Inject(FEED_FANOUT_OPTIONS) private readonly fanout: FeedFanoutOptions,
  ) {}

  async of(event: WriteEvent): Promise<WriteFanout> {
    switch (event.type) {
      case 'post.created': {
        const pull = await this.hasMoreFollowersThan(event.authorId, this.fanout.celebrityFollowers);
        return {
          targets: [this.profile(event.authorId)],
          followers: { authorId: event.authorId, mode: pull ? 'pull' : 'push' },
        };
      }
      case 'follow.created':
      case 'follow.deleted':
        return {
          targets: [this.feed(event.followerId), this.profile(event.followerId), this.profile(event.followeeId)],
        };
      case 'like.created':
      case 'like.deleted':
        return { targets: [this.recommendations(event.userId), this.profile(event.userId)] };
    }
  }

  /** The feeds of `authorId`'s followers with ids above `cursor` (0: from the first), one page of them. */
  async feedsAfter(authorId: number, cursor: number): Promise<FeedPage> {
    const params = followerPageParams(authorId, cursor, this.fanout.pageSize);
    const rows = (await cappedTransaction(this.dataSource, this.db.statementTimeoutMs, (em) =>
      em.query(FOLLOWER_PAGE_SQL, params),
    )) as Array<{ id: number }>;
    const page = toFollowerPage(rows, this.fanout.pageSize);
    return { targets: page.ids.map((id) => this.feed(id)), next: page.next };
  }

  /** Reads at most `n + 1` index entries, however many followers the author has. */
  private async hasMoreFollowersThan(authorId: number, n: number): Promise<boolean> {
    const [row] = (await cappedTransaction(this.dataSource, this.db.statementTimeoutMs, (em) =>
      em.query(HAS_MORE_FOLLOWERS_THAN_SQL, [authorId, n]),
    )) as Array<{ more: boolean }>;
    return row?.more === true;
  }

  private profile(userId: number): FragmentTarget {
    return this.targets.of(profileFragment, { userId }, { viewerId: userId });
  }

  private feed(viewerId: number): FragmentTarget {
    return this.targets.of(feedFragment, {}, { viewerId });
  }

  private recommendations(viewerId: number): FragmentTarget {
    return this.targets.of(recommendationsFragment, {}, { viewerId });
  }
}
