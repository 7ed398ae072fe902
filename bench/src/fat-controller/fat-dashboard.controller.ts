import { Controller, Get, Inject, Res, UseGuards } from '@nestjs/common';
import { ViewerGuard, ViewerId } from '@worker-pattern/auth';
import { FeedBuilder } from '@worker-pattern/feed/builder';
import { renderFragmentJson } from '@worker-pattern/fragment';
import { ProfileBuilder } from '@worker-pattern/profile/builder';
import { RecommendationsBuilder } from '@worker-pattern/recommendations/builder';
import type { FastifyReply } from 'fastify';

/**
 * Version zero: the dashboard built inline, in the request, every time — the same three builders
 * the workers run, on the same database, in parallel, and answered in the gateway's page shape.
 */
@Controller('api/pages')
@UseGuards(ViewerGuard)
export class FatDashboardController {
  constructor(
    @Inject(ProfileBuilder) private readonly profile: ProfileBuilder,
    @Inject(FeedBuilder) private readonly feed: FeedBuilder,
    @Inject(RecommendationsBuilder) private readonly recommendations: RecommendationsBuilder,
  ) {}

  @Get('dashboard')
  async dashboard(@ViewerId() viewerId: number, @Res() reply: FastifyReply): Promise<void> {
    const signal = new AbortController().signal;
    const [profile, feed, recommendations] = await Promise.all([
      this.profile.build({ userId: viewerId }, { viewerId: null, signal, attempt: 1 }),
      this.feed.build({}, { viewerId, signal, attempt: 1 }),
      this.recommendations.build({}, { viewerId, signal, attempt: 1 }),
    ]);
    const builtAt = new Date().toISOString();
    const parts = [
      ['profile', profile],
      ['feed', feed],
      ['recommendations', recommendations],
    ].map(
      ([name, data]) =>
        `"${String(name)}":${renderFragmentJson({ status: 'ready', dataJson: JSON.stringify(data), builtAt })}`,
    );
    void reply
      .code(200)
      .header('content-type', 'application/json; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(`{"page":"dashboard","fragments":{${parts.join(',')}}}`);
  }
}
