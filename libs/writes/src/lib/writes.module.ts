import { Module } from '@nestjs/common';
import { SocialWrites } from './social-writes';
import { WritesController } from './writes.controller';

/** The gateway's write API; needs a `LazyDataSource` (DbModule.forRootLazyAsync) in the app. */
@Module({
  controllers: [WritesController],
  providers: [SocialWrites],
})
export class WritesModule {}
