import { Check, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { User } from './user.entity';

/**
 * `follower` follows `followee`. The primary key (follower_id, followee_id) serves "whom do I follow"
 * (the feed); the (followee_id, follower_id) index serves "who follows me" (follower counts, and the
 * fan-out's pages of followers in id order).
 */
@Entity({ name: 'follows' })
@Check('follows_no_self_follow', `follower_id <> followee_id`)
@Index('follows_followee_id_follower_id_idx', ['followeeId', 'followerId'])
export class Follow {
  @PrimaryColumn({ name: 'follower_id', type: 'integer', primaryKeyConstraintName: 'follows_pkey' })
  followerId!: number;

  @PrimaryColumn({ name: 'followee_id', type: 'integer', primaryKeyConstraintName: 'follows_pkey' })
  followeeId!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'follower_id', foreignKeyConstraintName: 'follows_follower_id_fkey' })
  follower?: User;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'followee_id', foreignKeyConstraintName: 'follows_followee_id_fkey' })
  followee?: User;
}
