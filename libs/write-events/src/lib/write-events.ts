import { z } from 'zod';

/**
 * What a write records in the outbox, in the same transaction as the write itself: the facts, not
 * the fragments. Which cached fragments the fact affects is decided when the event is processed,
 * by each fragment's own rules (`InvalidationRules`, beside its definition), so a post by someone
 * with 50,000 followers costs one row at write time.
 */
const id = z.number().int().positive();

export const writeEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('post.created'), authorId: id, postId: z.string().regex(/^[0-9]+$/) }),
  z.object({ type: z.enum(['follow.created', 'follow.deleted']), followerId: id, followeeId: id }),
  z.object({ type: z.enum(['like.created', 'like.deleted']), userId: id, itemId: id }),
]);

export type WriteEvent = z.infer<typeof writeEventSchema>;
export type WriteEventType = WriteEvent['type'];
/** The event of one kind (`follow.created`, though the schema states follows once for both kinds). */
export type WriteEventOf<T extends WriteEventType> = WriteEvent & { readonly type: T };

/** The Bull queue the outbox relay feeds and the invalidation worker consumes. */
export const INVALIDATIONS_QUEUE = 'invalidations';

/** Every write kind, from the schema: what the rules' tests walk. */
export const WRITE_EVENT_TYPES: readonly WriteEventType[] = writeEventSchema.options.flatMap((o) =>
  o.shape.type instanceof z.ZodLiteral ? [...o.shape.type.values] : o.shape.type.options,
) as WriteEventType[];
