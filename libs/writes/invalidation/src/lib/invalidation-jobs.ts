import { isWalLsn } from '@worker-pattern/db';
import { writeEventSchema } from '@worker-pattern/write-events';
import { z } from 'zod';

// The invalidations queue's jobs: what the outbox relay adds and the invalidation consumer takes.
// The events themselves are shared with the fragments' contracts, whose invalidation rules they type.
export { INVALIDATIONS_QUEUE, type WriteEvent, writeEventSchema } from '@worker-pattern/write-events';

const id = z.number().int().positive();

/** One write (from the outbox): its own copies, and the first page of its author's followers. */
export const INVALIDATE_JOB = 'invalidate';
/** One further page of a post's followers, from a cursor (the invalidation worker adds these itself). */
export const FANOUT_CHUNK_JOB = 'fanout-chunk';

/** Retried with backoff for a while (a Redis failover, Postgres away), kept an hour so a re-add is a no-op. */
export const INVALIDATION_JOB_OPTIONS = {
  attempts: 10,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: { age: 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600 },
} as const;

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

/**
 * A page of a post's fan-out: the author's followers with ids above `after` (the cursor: the last
 * follower of the previous page), up to the page size. The cursor travels in the job, so a retried
 * chunk redoes its own page only, never the pages before it.
 */
export const fanoutChunkJobSchema = invalidationJobSchema.omit({ event: true }).extend({
  authorId: id,
  postId: z.string().regex(/^[0-9]+$/),
  after: z.number().int().nonnegative(),
});

export type FanoutChunkJobData = z.infer<typeof fanoutChunkJobSchema>;

/** One job id per page: a chunk retried after it queued the next page queues nothing twice. */
export function fanoutChunkJobId(chunk: Pick<FanoutChunkJobData, 'outboxId' | 'after'>): string {
  return `outbox.${chunk.outboxId}.after.${chunk.after}`;
}
