import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The transactional outbox: a write and the record of what it invalidates commit together, so no
 * crash between the two can lose an invalidation (the guarantee queue_classic gave by enqueueing
 * inside the transaction). A relay moves rows to a Bull queue and stamps `dispatched_at`.
 */
export class Outbox1764288000000 implements MigrationInterface {
  readonly name = 'Outbox1764288000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`CREATE TABLE outbox (
       id bigint GENERATED ALWAYS AS IDENTITY,
       topic text NOT NULL,
       payload jsonb NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now(),
       dispatched_at timestamptz,
       CONSTRAINT outbox_pkey PRIMARY KEY (id)
     )`);
    // The relay's only question: which rows are not dispatched yet, oldest first.
    await runner.query(`CREATE INDEX outbox_pending_idx ON outbox (id) WHERE dispatched_at IS NULL`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query(`DROP TABLE outbox`);
  }
}
