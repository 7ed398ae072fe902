import {
  Controller,
  Get,
  Inject,
  NotFoundException,
  Param,
  Query,
  Req,
  Res,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { RateLimitCountedByRoute, RouteRateLimit, ViewerGuard, ViewerId } from '@worker-pattern/auth';
import { FRAGMENT_CATALOG, FragmentResolver, MAX_ID, type FragmentDefinition } from '@worker-pattern/fragment';
import { ApiErrorResponses } from '@worker-pattern/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { beforeCountedRead, countedRead } from './counted-read';
import { FragmentErrorsFilter } from './fragment-errors.filter';
import { sendFragment } from './fragment-http';
import { API_RETRY_AFTER_HEADER, API_WAIT_MS_QUERY, fragmentSchemaRef } from './fragment.openapi';
import { FRAGMENT_CATALOG_DEFINITIONS } from './page-definition';
import { takeWaitMs, type RawQuery } from './request-query';

/**
 * `GET /api/fragments/:name?<params>`: one fragment, with HTTP semantics a poller can follow; the
 * fragment and the viewer's rate limit in one Redis round trip, as a page (`RouteRateLimit`).
 */
@ApiTags('fragments')
@ApiBearerAuth()
@Controller('api/fragments')
@UseGuards(ViewerGuard)
@UseFilters(FragmentErrorsFilter)
export class FragmentsController {
  private readonly fragments: Map<string, FragmentDefinition>;

  constructor(
    private readonly resolver: FragmentResolver,
    @Inject(FRAGMENT_CATALOG) catalog: readonly FragmentDefinition[],
  ) {
    this.fragments = new Map(catalog.map((f) => [f.name, f]));
  }

  @Get(':name')
  @RateLimitCountedByRoute()
  @ApiOperation({
    summary: 'One fragment, with HTTP semantics a poller can follow',
    description:
      '`profile` is any user’s public profile (`userId`, default the viewer); `feed` and `recommendations` are the viewer’s own and take no parameter. Unknown parameters are a 400, so nothing unvalidated reaches a cache key.',
  })
  @ApiParam({ name: 'name', enum: FRAGMENT_CATALOG_DEFINITIONS.map((f) => f.name), description: 'The fragment' })
  @ApiQuery({
    name: 'userId',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: MAX_ID },
    description: '`profile` only: whose profile (default the viewer)',
  })
  @ApiQuery(API_WAIT_MS_QUERY)
  @ApiResponse({ status: 200, description: 'Ready or stale', schema: fragmentSchemaRef('Fragment') })
  @ApiResponse({
    status: 202,
    description: 'Pending: a build is queued or running',
    schema: fragmentSchemaRef('Fragment'),
    headers: API_RETRY_AFTER_HEADER,
  })
  @ApiResponse({
    status: 404,
    description:
      'Unknown fragment (ApiError), or a failed fragment of a thing that does not exist (F with `errorCode: not_found`)',
    schema: { oneOf: [fragmentSchemaRef('Fragment'), fragmentSchemaRef('ApiError')] },
  })
  @ApiResponse({
    status: 502,
    description: 'Failed: the build failed behind the gateway',
    schema: fragmentSchemaRef('Fragment'),
    headers: API_RETRY_AFTER_HEADER,
  })
  @ApiErrorResponses(400, 401, 429, 503)
  async fragment(
    @Param('name') name: string,
    @Query() query: RawQuery,
    @ViewerId() viewerId: number,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const limit = RouteRateLimit.of(request);
    const { target, waitMs } = await beforeCountedRead(limit, () => {
      const definition = this.fragments.get(name);
      if (!definition) throw new NotFoundException(`unknown fragment "${name.slice(0, 64)}"`);
      const taken = takeWaitMs(query);
      return { target: this.resolver.target(definition, taken.rest, { viewerId }), waitMs: taken.waitMs };
    });
    const states = await countedRead(this.resolver, [target], limit, { waitMs, requestId: request.id });
    sendFragment(reply, states[0] ?? { status: 'pending' });
  }
}
