import { WRITE_EVENT_TYPES, writeEventSchema } from './write-events';

describe('WRITE_EVENT_TYPES', () => {
  it('lists each kind the schema accepts, once', () => {
    expect(WRITE_EVENT_TYPES).toEqual([
      'post.created',
      'follow.created',
      'follow.deleted',
      'like.created',
      'like.deleted',
    ]);
  });

  it('is exactly what the schema accepts', () => {
    expect(writeEventSchema.safeParse({ type: 'follow.deleted', followerId: 1, followeeId: 2 }).success).toBe(true);
    expect(writeEventSchema.safeParse({ type: 'post.deleted', authorId: 1, postId: '1' }).success).toBe(false);
  });
});
