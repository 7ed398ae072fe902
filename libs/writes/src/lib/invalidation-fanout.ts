import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { cappedTransaction, DB_CONNECTION_OPTIONS, type ResolvedDbConnectionOptions } from '@worker-pattern/db';
import { feedFragment } from '@worker-pattern/feed';
import { type FragmentTarget, FragmentTargets } from '@worker-pattern/fragment';
import { profileFragment } from '@worker-pattern/profile';
import { recommendationsFragment } from '@worker-pattern/recommendations';
import type { DataSource } from 'typeorm';
import type { WriteEvent } from './write-events';

/**
 * Which cached fragments a write changes:
 * - a post: the feeds of the author's followers, and the author's profile (post count);
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
  ) {}

  async targetsOf(event: WriteEvent): Promise<FragmentTarget[]> {
    switch (event.type) {
      case 'post.created': {
        const followers = (await cappedTransaction(this.dataSource, this.db.statementTimeoutMs, (em) =>
          em.query(`SELECT follower_id AS id FROM follows WHERE followee_id = $1`, [event.authorId]),
        )) as Array<{ id: number }>;
        return [this.profile(event.authorId), ...followers.map((f) => this.feed(f.id))];
      }
      case 'follow.created':
      case 'follow.deleted':
        return [this.feed(event.followerId), this.profile(event.followerId), this.profile(event.followeeId)];
      case 'like.created':
      case 'like.deleted':
        return [this.recommendations(event.userId), this.profile(event.userId)];
    }
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
