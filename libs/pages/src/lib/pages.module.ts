import { Module } from '@nestjs/common';
import { FragmentGatewayModule } from '@worker-pattern/fragment';
import { DemoPageController } from './demo-page.controller';
import { FragmentsController } from './fragments.controller';
import { FRAGMENT_CATALOG_DEFINITIONS } from './page-definition';
import { PageCatalog } from './page-catalog';
import { PageStreamController } from './page-stream.controller';
import { PageStreamMetrics } from './page-stream.metrics';
import { PagesController } from './pages.controller';
import { ViewerStreamSlots } from './viewer-stream-slots';

/** The gateway's read API: pages and single fragments, served from Redis only. */
@Module({
  imports: [FragmentGatewayModule.register({ fragments: FRAGMENT_CATALOG_DEFINITIONS })],
  controllers: [DemoPageController, PagesController, PageStreamController, FragmentsController],
  providers: [PageCatalog, PageStreamMetrics, ViewerStreamSlots],
})
export class PagesModule {}
