import { z } from 'zod';
import { defineFragment } from '../fragment-definition';
import { idParam } from '../fragment-params';

/** Small definitions for the engine's own tests (the real ones live in the domain libs). */
export const testProfileFragment = defineFragment({
  name: 'test-profile',
  queue: 'test-profile',
  scope: 'public',
  version: 1,
  params: z.object({ userId: idParam }).strict(),
  defaults: ({ viewerId }) => ({ userId: String(viewerId) }),
  locality: ({ userId }) => userId,
  ttlMs: 60_000,
});

export const testFeedFragment = defineFragment({
  name: 'test-feed',
  queue: 'test-feed',
  scope: 'viewer',
  version: 1,
  params: z.object({}).strict(),
  ttlMs: 30_000,
});
