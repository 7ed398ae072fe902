import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { User } from './user.entity';

/**
 * A post. The id is a bigint, which `pg` returns as a string: keep it a string end to end rather
 * than lose precision in a number.
 */
@Entity({ name: 'posts' })
@Check('posts_body_length', `char_length(body) BETWEEN 1 AND 5000`)
// (author_id, created_at DESC, id DESC) serves "an author's latest posts" for the feed. TypeORM
// cannot express the DESC order, so schema sync leaves it alone; the migration owns it.
@Index('posts_author_id_created_at_id_idx', { synchronize: false })
export class Post {
  @PrimaryGeneratedColumn('identity', {
    type: 'bigint',
    generatedIdentity: 'BY DEFAULT',
    primaryKeyConstraintName: 'posts_pkey',
  })
  id!: string;

  @Column({ name: 'author_id', type: 'integer' })
  authorId!: number;

  @Column({ type: 'text' })
  body!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'author_id', foreignKeyConstraintName: 'posts_author_id_fkey' })
  author?: User;
}
