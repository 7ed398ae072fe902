import { Module } from '@nestjs/common';
import { FragmentGatewayModule } from '@worker-pattern/fragment';
import { FragmentsController } from './fragments.controller';
import { FRAGMENT_CATALOG_DEFINITIONS } from './page-definition';
import { PagesController } from './pages.controller';

/** The gateway's read API: pages and single fragments, served from Redis only. */
@Module({
  imports: [FragmentGatewayModule.register({ fragments: FRAGMENT_CATALOG_DEFINITIONS })],
  controllers: [PagesController, FragmentsController],
})
export class PagesModule {}
