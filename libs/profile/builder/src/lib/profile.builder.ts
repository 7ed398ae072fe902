import { Injectable } from '@nestjs/common';
import { DbReader } from '@worker-pattern/db';
import { FragmentBuildContext, FragmentBuilder, FragmentNotFoundError } from '@worker-pattern/fragment';
import { ProfileData, ProfileParams, profileFragment } from '@worker-pattern/profile';

interface ProfileRow {
  id: number;
  handle: string;
  display_name: string;
  bio: string;
  created_at: Date;
  followers: number;
  following: number;
  posts: number;
  likes: number;
}

/**
 * One round trip: the user and four counts, each served by an index (followee index, follows and
 * likes primary keys, the posts author index), index-only once the tables are vacuumed.
 */
const PROFILE_SQL = `
  SELECT u.id, u.handle, u.display_name, u.bio, u.created_at,
         (SELECT count(*) FROM follows f WHERE f.followee_id = u.id)::int AS followers,
         (SELECT count(*) FROM follows f WHERE f.follower_id = u.id)::int AS following,
         (SELECT count(*) FROM posts p WHERE p.author_id = u.id)::int AS posts,
         (SELECT count(*) FROM likes l WHERE l.user_id = u.id)::int AS likes
    FROM users u
   WHERE u.id = $1`;

/**
 * Builds a user's public profile. Public scope: the result must not depend on who asks. Reads through
 * `DbReader` (a replica when one has the data the build must see), within the fragment's build timeout.
 */
@Injectable()
export class ProfileBuilder implements FragmentBuilder<ProfileParams, ProfileData> {
  constructor(private readonly db: DbReader) {}

  async build(params: ProfileParams, ctx: FragmentBuildContext): Promise<ProfileData> {
    const [row] = await this.db.read({ ...ctx, timeoutMs: profileFragment.buildTimeoutMs }, (query) =>
      query<ProfileRow>(PROFILE_SQL, [params.userId]),
    );
    if (!row) {
      throw new FragmentNotFoundError(`user ${params.userId} not found`);
    }
    return toProfileData(row);
  }
}

function toProfileData(row: ProfileRow): ProfileData {
  return {
    user: {
      id: row.id,
      handle: row.handle,
      displayName: row.display_name,
      bio: row.bio,
      joinedAt: row.created_at.toISOString(),
    },
    counts: { followers: row.followers, following: row.following, posts: row.posts, likes: row.likes },
  };
}
