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

export interface InvalidationJobData {
  readonly outboxId: string;
  readonly event: WriteEvent;
  /** When the write committed (ms): post-to-visible latency starts here. */
  readonly writtenAt: number;
}
