import { isWalLsn } from '@worker-pattern/db';
import { z } from 'zod';

/**
 * What a write records in the outbox, in the same transaction as the write itself: the facts, not
 * the fragments. Which cached fragments the fact affects is decided when the event is processed
 * (`invalidationTargets`), so a post by someone with 50,000 followers costs one row at write time.
 */
const id = z.number().int().positive();

export const writeEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('post.created'), authorId: id, postId: z.string().regex(/^[0-9]+$/) }),
  z.object({ type: z.enum(['follow.created', 'follow.deleted']), followerId: id, followeeId: id }),
  z.object({ type: z.enum(['like.created', 'like.deleted']), userId: id, itemId: id }),
]);

export type WriteEvent = z.infer<typeof writeEventSchema>;

/** The Bull queue the outbox relay feeds and the invalidation worker consumes. */
export const INVALIDATIONS_QUEUE = 'invalidations';
export const INVALIDATE_JOB = 'invalidate';

export const invalidationJobSchema = z.object({
  outboxId: z.string().regex(/^[0-9]+$/),
  event: writeEventSchema,
  /** When the write was made (ms): post-to-visible latency starts here. */
  writtenAt: z.number(),
  /**
   * A WAL position (`X/Y`) at or past the write's commit: builds of the copies it invalidates read
   * a replica only once it has replayed this far. Absent in jobs queued before relays recorded it.
   */
  lsn: z.string().refine(isWalLsn, 'must be a WAL position X/Y').optional(),
});

export type InvalidationJobData = z.infer<typeof invalidationJobSchema>;
