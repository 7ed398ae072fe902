import { CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Item } from './item.entity';
import { User } from './user.entity';

/**
 * `user` likes `item`. The primary key serves "what do I like"; (item_id, user_id) serves "who else
 * likes it", the first hop of collaborative filtering, as an index-only scan.
 */
@Entity({ name: 'likes' })
@Index('likes_item_id_user_id_idx', ['itemId', 'userId'])
export class Like {
  @PrimaryColumn({ name: 'user_id', type: 'integer', primaryKeyConstraintName: 'likes_pkey' })
  userId!: number;

  @PrimaryColumn({ name: 'item_id', type: 'integer', primaryKeyConstraintName: 'likes_pkey' })
  itemId!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'likes_user_id_fkey' })
  user?: User;

  @ManyToOne(() => Item, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'item_id', foreignKeyConstraintName: 'likes_item_id_fkey' })
  item?: Item;
}
