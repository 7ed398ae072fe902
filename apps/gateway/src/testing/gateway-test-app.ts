import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ViewerTokens } from '@worker-pattern/auth';
import { LazyDataSource, type SeedOptions } from '@worker-pattern/db';
import { createTestDatabase, type TestDatabase } from '@worker-pattern/db/testing';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueTestPrefix } from '@worker-pattern/fragment/testing';
import { createHttpApp } from '@worker-pattern/platform';
import { Redis } from 'ioredis';
import { gatewayHttpOptions } from '../gateway.http';
import { GatewayModule } from '../gateway.module';

export const TEST_JWT_SECRET = 'gateway-test-secret-0123456789abcdef0123';

export interface GatewayTestAppOptions {
  /** Added to (and over) the test defaults. */
  readonly env?: Record<string, string>;
  /** Seed for a database of the app's own; false: migrated but empty. Ignored with `database`. */
  readonly seed?: SeedOptions | false;
  /** A database another test app already uses. */
  readonly database?: TestDatabase;
}

/**
 * The gateway in-process, exactly as main.ts builds it (`createHttpApp` + `gatewayHttpOptions`),
 * minus listening: driven with `app.inject()`. Real Redis under a key prefix no other run uses,
 * and a throwaway Postgres database of its own for writes.
 */
export class GatewayTestApp {
  private constructor(
    readonly app: NestFastifyApplication,
    readonly database: TestDatabase,
    private readonly ownsDatabase: boolean,
    readonly keyPrefix: string,
    readonly redis: Redis,
  ) {}

  static async start(options: GatewayTestAppOptions = {}): Promise<GatewayTestApp> {
    const database =
      options.database ??
      (await createTestDatabase({
        seed: options.seed ?? { users: 50, posts: 200, follows: 300, likes: 300, items: 40 },
      }));
    const keyPrefix = uniqueTestPrefix('gw');
    const env = {
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: keyPrefix,
      BULL_PREFIX: `${keyPrefix}bull`,
      DATABASE_URL: database.url,
      DATABASE_POOL_SIZE: '4',
      JWT_SECRET: TEST_JWT_SECRET,
      ...options.env,
    };
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const app = await createHttpApp(GatewayModule.register({ env }), gatewayHttpOptions());
      await app.init();
      // As listen() does in main.ts: readiness events flow (waitMs and streams wake on them).
      await app.startAllMicroservices();
      await app.getHttpAdapter().getInstance().ready();
      const testApp = new GatewayTestApp(app, database, options.database === undefined, keyPrefix, redis);
      await testApp.waitForDatabase();
      return testApp;
    } catch (error) {
      redis.disconnect();
      if (options.database === undefined) await database.drop();
      throw error;
    }
  }

  /** A valid API token for a user, as dev login would issue (without spending the login budget). */
  token(userId: number): string {
    return this.app.get(ViewerTokens).issue(userId).token;
  }

  /** A stream ticket for `userId`, for a session that ends at `sessionEndsAt` (default: in an hour). */
  ticket(userId: number, sessionEndsAt = Date.now() + 3_600_000): string {
    return this.app.get(ViewerTokens).issueTicket(userId, sessionEndsAt).ticket;
  }

  async close(): Promise<void> {
    await this.app.close();
    await deleteKeysWithPrefix(this.redis, this.keyPrefix).catch(() => undefined);
    this.redis.disconnect();
    if (this.ownsDatabase) await this.database.drop();
  }

  /** Writes connect to Postgres in the background; a test that writes waits for it. */
  private async waitForDatabase(): Promise<void> {
    const lazy = this.app.get(LazyDataSource, { strict: false });
    for (let i = 0; i < 100; i++) {
      try {
        lazy.get();
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    throw new Error('the gateway did not connect to Postgres within 5 s');
  }
}
