import { defineFragment, idParam } from '@worker-pattern/fragment';
import { z } from 'zod';

/** Any user's public profile: one cached copy per user, shared by every viewer. */
export const profileParams = z.object({ userId: idParam }).strict();

export type ProfileParams = z.infer<typeof profileParams>;

/**
 * What a profile's worker builds: the schema is the contract's one statement of the shape, giving
 * the type and, through the definition's `data`, the OpenAPI schema (libs/pages/src/lib/fragment.openapi.ts).
 */
export const profileData = z.object({
  user: z.object({
    id: z.number().int().min(1),
    handle: z.string(),
    displayName: z.string(),
    bio: z.string(),
    joinedAt: z.iso.datetime(),
  }),
  counts: z.object({
    followers: z.number().int().min(0),
    following: z.number().int().min(0),
    posts: z.number().int().min(0),
    likes: z.number().int().min(0),
  }),
});

export type ProfileData = z.infer<typeof profileData>;
export type ProfileUser = ProfileData['user'];
export type ProfileCounts = ProfileData['counts'];

export const profileFragment = defineFragment<ProfileParams, ProfileData>({
  name: 'profile',
  queue: 'profile',
  scope: 'public',
  version: 1,
  params: profileParams,
  data: profileData,
  title: 'Profile',
  // Without a userId the viewer sees their own profile; the key still names the user, not the viewer.
  defaults: ({ viewerId }) => ({ userId: String(viewerId) }),
  // A profile lives in its user's Redis Cluster slot, beside that user's feed: one call per page.
  locality: ({ userId }) => userId,
  ttlMs: 60_000,
});
