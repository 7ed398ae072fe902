import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { cappedTransaction, DB_CONNECTION_OPTIONS, type ResolvedDbConnectionOptions } from '@worker-pattern/db';
import { FEED_FANOUT_OPTIONS, type FeedFanoutOptions, HAS_MORE_FOLLOWERS_THAN_SQL } from '@worker-pattern/feed';
import { type FragmentTarget, FragmentTargets } from '@worker-pattern/fragment';
import { followerFragments, invalidationPlan } from '@worker-pattern/registry';
import type { DataSource } from 'typeorm';
import { FOLLOWER_PAGE_SQL, followerPageParams, toFollowerPage } from './follower-pages';
import type { WriteEvent } from './invalidation-jobs';

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
 * Which cached fragments a write changes, as each registered fragment's rules say (libs/registry
 * `invalidationPlan`; the rules live beside each definition, e.g. libs/profile/src/lib/profile.invalidation.ts):
 * the copies the write names are invalidated at once; the followers' copies of a post's author are
 * pushed a page at a time (`feedsAfter`), unless the author has more than `celebrityFollowers`
 * followers: then none is touched, and the feed builder pulls the post (libs/feed/src/lib/feed-fanout.ts).
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
    const plan = invalidationPlan(event);
    const targets = plan.copies.map((c) => this.targets.of(c.fragment, c.params, { viewerId: c.viewerId }));
    if (!plan.followers) return { targets };
    const { authorId } = plan.followers;
    const pull = await this.hasMoreFollowersThan(authorId, this.fanout.celebrityFollowers);
    return { targets, followers: { authorId, mode: pull ? 'pull' : 'push' } };
  }

  /**
   * The followers' copies (the feeds: each fragment whose rule for a post walks the followers) of
   * `authorId`'s followers with ids above `cursor` (0: from the first), one page of them.
   */
  async feedsAfter(authorId: number, cursor: number): Promise<FeedPage> {
    const params = followerPageParams(authorId, cursor, this.fanout.pageSize);
    const rows = (await cappedTransaction(this.dataSource, this.db.statementTimeoutMs, (em) =>
      em.query(FOLLOWER_PAGE_SQL, params),
    )) as Array<{ id: number }>;
    const page = toFollowerPage(rows, this.fanout.pageSize);
    const fragments = followerFragments('post.created');
    const targets = page.ids.flatMap((viewerId) => fragments.map((f) => this.targets.of(f, {}, { viewerId })));
    return { targets, next: page.next };
  }

  /** Reads at most `n + 1` index entries, however many followers the author has. */
  private async hasMoreFollowersThan(authorId: number, n: number): Promise<boolean> {
    const [row] = (await cappedTransaction(this.dataSource, this.db.statementTimeoutMs, (em) =>
      em.query(HAS_MORE_FOLLOWERS_THAN_SQL, [authorId, n]),
    )) as Array<{ more: boolean }>;
    return row?.more === true;
  }
}
