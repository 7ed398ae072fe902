import { Controller, Get, Inject, NotFoundException, Param, Query, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ViewerGuard, ViewerId } from '@worker-pattern/auth';
import { FRAGMENT_CATALOG, FragmentResolver, type FragmentDefinition } from '@worker-pattern/fragment';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { FragmentErrorsFilter } from './fragment-errors.filter';
import { sendFragment } from './fragment-http';
import { takeWaitMs, type RawQuery } from './request-query';

/** `GET /api/fragments/:name?<params>`: one fragment, with HTTP semantics a poller can follow. */
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
  async fragment(
    @Param('name') name: string,
    @Query() query: RawQuery,
    @ViewerId() viewerId: number,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const definition = this.fragments.get(name);
    if (!definition) throw new NotFoundException(`unknown fragment "${name.slice(0, 64)}"`);
    const { waitMs, rest } = takeWaitMs(query);
    const target = this.resolver.target(definition, rest, { viewerId });
    const states = await this.resolver.resolve([target], { waitMs, requestId: request.id });
    sendFragment(reply, states[0] ?? { status: 'pending' });
  }
}
