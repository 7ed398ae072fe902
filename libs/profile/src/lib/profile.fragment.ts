import { defineFragment, idParam } from '@worker-pattern/fragment';
import { z } from 'zod';

/** Any user's public profile: one cached copy per user, shared by every viewer. */
export const profileParams = z.object({ userId: idParam }).strict();

export type ProfileParams = z.infer<typeof profileParams>;

export interface ProfileUser {
  readonly id: number;
  readonly handle: string;
  readonly displayName: string;
  readonly bio: string;
  /** ISO 8601. */
  readonly joinedAt: string;
}

export interface ProfileCounts {
  readonly followers: number;
  readonly following: number;
  readonly posts: number;
  readonly likes: number;
}

export interface ProfileData {
  readonly user: ProfileUser;
  readonly counts: ProfileCounts;
}

export const profileFragment = defineFragment<ProfileParams>({
  name: 'profile',
  queue: 'profile',
  scope: 'public',
  version: 1,
  params: profileParams,
  // Without a userId the viewer sees their own profile; the key still names the user, not the viewer.
  defaults: ({ viewerId }) => ({ userId: String(viewerId) }),
  // A profile lives in its user's Redis Cluster slot, beside that user's feed: one call per page.
  locality: ({ userId }) => userId,
  ttlMs: 60_000,
});
