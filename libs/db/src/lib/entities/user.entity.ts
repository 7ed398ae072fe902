import { Check, Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, Unique } from 'typeorm';

/**
 * A person. Demo users are seeded with ids 1..N (so `/?userId=N` is predictable); the identity is
 * BY DEFAULT so the seed may choose ids and later inserts continue from the advanced sequence.
 */
@Entity({ name: 'users' })
@Unique('users_handle_key', ['handle'])
@Check('users_handle_format', `handle ~ '^[a-z0-9_]{1,40}$'`)
@Check('users_display_name_length', `char_length(display_name) BETWEEN 1 AND 100`)
export class User {
  @PrimaryGeneratedColumn('identity', {
    type: 'integer',
    generatedIdentity: 'BY DEFAULT',
    primaryKeyConstraintName: 'users_pkey',
  })
  id!: number;

  @Column({ type: 'text' })
  handle!: string;

  @Column({ name: 'display_name', type: 'text' })
  displayName!: string;

  @Column({ type: 'text', default: '' })
  bio!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
