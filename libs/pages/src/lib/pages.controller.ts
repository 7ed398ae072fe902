import { Controller, Get, Param, Query, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { RateLimitCountedByRoute, RouteRateLimit, ViewerGuard, ViewerId } from '@worker-pattern/auth';
import { FragmentResolver } from '@worker-pattern/fragment';
import { ApiErrorResponses } from '@worker-pattern/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { beforeCountedRead, countedRead } from './counted-read';
import { FragmentErrorsFilter } from './fragment-errors.filter';
import { sendJson } from './fragment-http';
import { API_WAIT_MS_QUERY, fragmentSchemaRef } from './fragment.openapi';
import { PageCatalog } from './page-catalog';
import { PAGES } from './page-definition';
import { refuseUnknownParams, takeWaitMs, type RawQuery } from './request-query';

/**
 * `GET /api/pages/:page`: every fragment of a page, and the viewer's rate limit, in one Redis round
 * trip (the rate-limit guard leaves the count to this route: `RouteRateLimit`).
 */
@ApiTags('pages')
@ApiBearerAuth()
@Controller('api/pages')
@UseGuards(ViewerGuard)
@UseFilters(FragmentErrorsFilter)
export class PagesController {
  constructor(
    private readonly resolver: FragmentResolver,
    private readonly catalog: PageCatalog,
  ) {}

  @Get(':page')
  @RateLimitCountedByRoute()
  @ApiOperation({
    summary: 'A page: every fragment at once',
    description:
      'Answers from Redis in one round trip. Fragments not built yet are `pending` (their builds are enqueued once, however many ask) unless `waitMs` lets the request wait for them. Any parameter other than `waitMs` is a 400.',
  })
  @ApiParam({ name: 'page', enum: PAGES.map((p) => p.name), description: 'The page' })
  @ApiQuery(API_WAIT_MS_QUERY)
  @ApiOkResponse({ description: 'Each fragment with its own status', schema: fragmentSchemaRef('DashboardPage') })
  @ApiErrorResponses(400, 401, 404, 429, 503)
  async page(
    @Param('page') name: string,
    @Query() query: RawQuery,
    @ViewerId() viewerId: number,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const limit = RouteRateLimit.of(request);
    const { page, targets, waitMs } = await beforeCountedRead(limit, () => {
      const definition = this.catalog.get(name);
      const taken = takeWaitMs(query);
      refuseUnknownParams(taken.rest, definition.name);
      return { page: definition, targets: this.catalog.targets(definition, viewerId), waitMs: taken.waitMs };
    });
    const states = await countedRead(this.resolver, targets, limit, { waitMs, requestId: request.id });
    sendJson(reply, 200, this.catalog.body(page, states));
  }
}
