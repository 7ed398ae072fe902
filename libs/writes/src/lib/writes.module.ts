import { type DynamicModule, Module } from '@nestjs/common';
import { DB_ENV_KEYS, DbModule, dbOptionsFromEnv } from '@worker-pattern/db';
import { fromEnv } from '@worker-pattern/platform';
import { SocialWrites } from './social-writes';
import { WritesController } from './writes.controller';

/**
 * The gateway's write API, with the Postgres connection only it needs: made lazily
 * (`DbModule.forRootLazyAsync`), so the gateway starts and answers pages while Postgres is down. The
 * gateway itself never touches the data layer (its `scope:gateway` tag forbids it).
 */
@Module({})
export class WritesModule {
  /** `service` names the connection in `pg_stat_activity`. */
  static forRootLazy(service: string): DynamicModule {
    return {
      module: WritesModule,
      imports: [DbModule.forRootLazyAsync(fromEnv(DB_ENV_KEYS, (env) => dbOptionsFromEnv(env, service)))],
      controllers: [WritesController],
      providers: [SocialWrites],
    };
  }
}
