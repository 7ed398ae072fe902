import { Controller, Get, Module, type OnApplicationShutdown, Inject } from '@nestjs/common';
import { AuthModule } from '@worker-pattern/auth';
import { createDataSourceOptions, DbReader } from '@worker-pattern/db';
import { DEFAULT_FEED_FANOUT } from '@worker-pattern/feed';
import { FeedBuilder } from '@worker-pattern/feed/builder';
import { ProfileBuilder } from '@worker-pattern/profile/builder';
import { RecommendationsBuilder } from '@worker-pattern/recommendations/builder';
import { DataSource } from 'typeorm';
import { FatDashboardController } from './fat-dashboard.controller';

const env = process.env;

@Controller('health')
class HealthController {
  @Get()
  health(): { ok: true } {
    return { ok: true };
  }
}

class DataSourceCloser implements OnApplicationShutdown {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async onApplicationShutdown(): Promise<void> {
    await this.dataSource.destroy();
  }
}

/**
 * The "fat controller" app: Nest on Fastify, the gateway's own auth (ViewerGuard, same tokens), and
 * the builders wired to one TypeORM DataSource. No cache, no queue, no worker. Deliberately lean
 * otherwise (no request log, no rate limit, no metrics), so the comparison flatters version zero.
 * Env: PORT, DATABASE_URL, DATABASE_POOL_SIZE, JWT_SECRET.
 */
@Module({
  imports: [
    AuthModule.forRootAsync({
      useFactory: () => ({ secret: env['JWT_SECRET'] ?? '', ttlSeconds: 3600, devLogin: false }),
    }),
  ],
  controllers: [FatDashboardController, HealthController],
  providers: [
    {
      provide: DataSource,
      useFactory: async () => {
        const options = createDataSourceOptions({
          url: env['DATABASE_URL'] ?? '',
          poolSize: Number(env['DATABASE_POOL_SIZE'] ?? 30),
          applicationName: 'bench-fat-controller',
        });
        return new DataSource(options).initialize();
      },
    },
    DataSourceCloser,
    {
      provide: ProfileBuilder,
      inject: [DataSource],
      useFactory: (ds: DataSource) => new ProfileBuilder(DbReader.forPrimary(ds)),
    },
    {
      provide: FeedBuilder,
      inject: [DataSource],
      useFactory: (ds: DataSource) => new FeedBuilder(DbReader.forPrimary(ds), DEFAULT_FEED_FANOUT),
    },
    {
      provide: RecommendationsBuilder,
      inject: [DataSource],
      useFactory: (ds: DataSource) => new RecommendationsBuilder(DbReader.forPrimary(ds)),
    },
  ],
})
export class FatControllerModule {}
