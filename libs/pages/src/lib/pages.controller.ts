import { Controller, Get, Param, Query, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { RateLimitCountedByRoute, RouteRateLimit, ViewerGuard, ViewerId } from '@worker-pattern/auth';
import {
  FragmentResolver,
  type FragmentState,
  FragmentStoreUnavailableError,
  type FragmentTarget,
} from '@worker-pattern/fragment';
import { ApiErrorResponses } from '@worker-pattern/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { FragmentErrorsFilter } from './fragment-errors.filter';
import { renderPageJson, sendJson } from './fragment-http';
import { API_WAIT_MS_QUERY, fragmentSchemaRef } from './fragment.openapi';
import { PageCatalog } from './page-catalog';
import { PAGES, type PageDefinition } from './page-definition';
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
    let page: PageDefinition;
    let targets: readonly FragmentTarget[];
    let waitMs: number;
    try {
      page = this.catalog.get(name);
      const taken = takeWaitMs(query);
      refuseUnknownParams(taken.rest, page.name);
      waitMs = taken.waitMs;
      targets = this.catalog.targets(page, viewerId);
    } catch (error) {
      // Refused before any read: counted on its own, so a 429 still comes first.
      await limit?.countNow();
      throw error;
    }
    const options = { waitMs, requestId: request.id };
    const states = limit
      ? await this.resolveCounted(targets, limit, options)
      : await this.resolver.resolve(targets, options);
    sendJson(
      reply,
      200,
      renderPageJson(
        page.name,
        page.fragments.map((f) => f.name),
        states,
      ),
    );
  }

  /** The page's read with the viewer's rate-limit count in it: over the limit, the 429 and nothing read. */
  private async resolveCounted(
    targets: readonly FragmentTarget[],
    limit: RouteRateLimit,
    options: { waitMs: number; requestId: string },
  ): Promise<FragmentState[]> {
    let read;
    try {
      read = await this.resolver.resolveCounted(targets, limit.counter, options);
    } catch (error) {
      if (error instanceof FragmentStoreUnavailableError) limit.storeFailed(error);
      throw error;
    }
    limit.apply(read.count);
    if (read.blocked) throw new Error('a blocked count was let through');
    return read.states;
  }
}
