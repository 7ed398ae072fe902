import { Injectable } from '@nestjs/common';
import { DatabaseUnavailableError, isDatabaseConnectionError, LazyDataSource } from '@worker-pattern/db';
import type { WriteEvent } from '@worker-pattern/write-events';
import type { EntityManager } from 'typeorm';

/** The referenced user or item does not exist: the HTTP layer answers 404. */
export class WriteNotFoundError extends Error {}
/** The write makes no sense (following yourself): 400. */
export class WriteRefusedError extends Error {}

export interface PostCreated {
  readonly id: string;
  readonly authorId: number;
  readonly body: string;
  readonly createdAt: string;
}

/** `created` false: the relation already existed (repeats are idempotent, never a second row). */
export interface RelationResult {
  readonly created: boolean;
  readonly createdAt: string;
}

interface PgError {
  code?: string;
  constraint?: string;
}

/**
 * The social graph's writes. Each is one transaction that also records the write's event in the
 * outbox and notifies the relay, so the write and its invalidation commit together or not at all.
 * A write that changes nothing (a repeated follow, an unlike of something not liked) records
 * nothing.
 */
@Injectable()
export class SocialWrites {
  constructor(private readonly db: LazyDataSource) {}

  createPost(authorId: number, body: string): Promise<PostCreated> {
    return this.transaction(async (em) => {
      const [row] = (await em.query(`INSERT INTO posts (author_id, body) VALUES ($1, $2) RETURNING id, created_at`, [
        authorId,
        body,
      ])) as Array<{
        id: string;
        created_at: Date;
      }>;
      await this.record(em, { type: 'post.created', authorId, postId: String(row!.id) });
      return { id: String(row!.id), authorId, body, createdAt: row!.created_at.toISOString() };
    });
  }

  follow(followerId: number, followeeId: number): Promise<RelationResult> {
    if (followerId === followeeId) return Promise.reject(new WriteRefusedError('you cannot follow yourself'));
    return this.transaction(
      (em) =>
        this.insertOnce(
          em,
          `INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING created_at`,
          `SELECT created_at FROM follows WHERE follower_id = $1 AND followee_id = $2`,
          [followerId, followeeId],
          { type: 'follow.created', followerId, followeeId },
        ),
      { follows_followee_id_fkey: `user ${followeeId} not found` },
    );
  }

  unfollow(followerId: number, followeeId: number): Promise<boolean> {
    return this.transaction(async (em) => {
      await this.requireUser(em, followeeId);
      const [, deleted] = (await em.query(`DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2`, [
        followerId,
        followeeId,
      ])) as [unknown, number];
      if (deleted > 0) await this.record(em, { type: 'follow.deleted', followerId, followeeId });
      return deleted > 0;
    });
  }

  like(userId: number, itemId: number): Promise<RelationResult> {
    return this.transaction(
      (em) =>
        this.insertOnce(
          em,
          `INSERT INTO likes (user_id, item_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING created_at`,
          `SELECT created_at FROM likes WHERE user_id = $1 AND item_id = $2`,
          [userId, itemId],
          { type: 'like.created', userId, itemId },
        ),
      { likes_item_id_fkey: `item ${itemId} not found` },
    );
  }

  unlike(userId: number, itemId: number): Promise<boolean> {
    return this.transaction(async (em) => {
      const [item] = (await em.query(`SELECT 1 FROM items WHERE id = $1`, [itemId])) as unknown[];
      if (!item) throw new WriteNotFoundError(`item ${itemId} not found`);
      const [, deleted] = (await em.query(`DELETE FROM likes WHERE user_id = $1 AND item_id = $2`, [
        userId,
        itemId,
      ])) as [unknown, number];
      if (deleted > 0) await this.record(em, { type: 'like.deleted', userId, itemId });
      return deleted > 0;
    });
  }

  /**
   * Inserts a relation row unless it exists (then reports the existing one), recording the event
   * only for a new row. A concurrent delete can remove the row between the conflicting insert and
   * the read (each statement sees the latest commits): then the insert is simply tried again.
   */
  private async insertOnce(
    em: EntityManager,
    insert: string,
    find: string,
    params: readonly unknown[],
    event: WriteEvent,
  ): Promise<RelationResult> {
    for (let attempt = 1; ; attempt++) {
      const [inserted] = (await em.query(insert, [...params])) as Array<{ created_at: Date }>;
      if (inserted) {
        await this.record(em, event);
        return { created: true, createdAt: inserted.created_at.toISOString() };
      }
      const [existing] = (await em.query(find, [...params])) as Array<{ created_at: Date }>;
      if (existing) return { created: false, createdAt: existing.created_at.toISOString() };
      // Only a row deleted again on every try gets here; never seen, but not a loop without end.
      if (attempt === 10) throw new Error(`relation kept changing under ${event.type}: gave up after 10 tries`);
    }
  }

  /** `missing` names, per foreign key, what a violation means ("user 9 not found"). */
  private async transaction<T>(
    work: (em: EntityManager) => Promise<T>,
    missing: Record<string, string> = {},
  ): Promise<T> {
    try {
      return await this.db.transaction(work);
    } catch (error) {
      if (isDatabaseConnectionError(error)) throw new DatabaseUnavailableError((error as Error).message);
      const pg = error as PgError & Error;
      if (pg.code !== '23503') throw error;
      // Any other key is the writer's own row (posts/follows/likes → users): a token for no user.
      throw new WriteNotFoundError((pg.constraint && missing[pg.constraint]) || 'your user does not exist');
    }
  }

  private async requireUser(em: EntityManager, userId: number): Promise<void> {
    const [user] = (await em.query(`SELECT 1 FROM users WHERE id = $1`, [userId])) as unknown[];
    if (!user) throw new WriteNotFoundError(`user ${userId} not found`);
  }

  /** The outbox row and a wake-up for the relay; NOTIFY is delivered only if the transaction commits. */
  private async record(em: EntityManager, event: WriteEvent): Promise<void> {
    await em.query(`INSERT INTO outbox (topic, payload) VALUES ($1, $2)`, [event.type, JSON.stringify(event)]);
    await em.query(`SELECT pg_notify('outbox', '')`);
  }
}
