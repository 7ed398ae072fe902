import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * "Who follows X", in follower order: the fan-out of a post walks an author's followers in pages
 * (`follower_id > cursor ORDER BY follower_id LIMIT n`), each page one range of this index, and the
 * bounded "more than N followers?" probes read it index-only. It replaces the followee-only index,
 * of which it is a superset. A plain CREATE INDEX: migrations run in a transaction, which CONCURRENTLY
 * cannot (on a big live table, build it CONCURRENTLY by hand first; IF NOT EXISTS then skips it).
 */
export class FollowsByFollowee1764979200000 implements MigrationInterface {
  readonly name = 'FollowsByFollowee1764979200000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(
      `CREATE INDEX IF NOT EXISTS follows_followee_id_follower_id_idx ON follows (followee_id, follower_id)`,
    );
    await runner.query(`DROP INDEX follows_followee_id_idx`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query(`CREATE INDEX follows_followee_id_idx ON follows (followee_id)`);
    await runner.query(`DROP INDEX follows_followee_id_follower_id_idx`);
  }
}
