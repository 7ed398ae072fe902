import { Body, Controller, Delete, HttpCode, Param, Post, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ViewerGuard, ViewerId } from '@worker-pattern/auth';
import type { FastifyReply } from 'fastify';
import { SocialWrites } from './social-writes';
import { WriteErrorsFilter } from './write-errors.filter';
import { parseFollowBody, parseIdParam, parsePostBody } from './write-input';

/**
 * The social graph's write API. Every write acts as the authenticated viewer; repeats are
 * idempotent (201 the first time, 200 after; deletes 204 either way) and never add a row.
 */
@Controller('api')
@UseGuards(ViewerGuard)
@UseFilters(WriteErrorsFilter)
export class WritesController {
  constructor(private readonly writes: SocialWrites) {}

  @Post('posts')
  @HttpCode(201)
  createPost(@ViewerId() viewerId: number, @Body() body: unknown) {
    return this.writes.createPost(viewerId, parsePostBody(body));
  }

  @Post('follows')
  async follow(@ViewerId() viewerId: number, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    const followeeId = parseFollowBody(body);
    const result = await this.writes.follow(viewerId, followeeId);
    void reply.code(result.created ? 201 : 200);
    return { followerId: viewerId, followeeId, ...result };
  }

  @Delete('follows/:userId')
  @HttpCode(204)
  async unfollow(@ViewerId() viewerId: number, @Param('userId') userId: string): Promise<void> {
    await this.writes.unfollow(viewerId, parseIdParam('userId', userId));
  }

  @Post('items/:id/likes')
  async like(@ViewerId() viewerId: number, @Param('id') id: string, @Res({ passthrough: true }) reply: FastifyReply) {
    const itemId = parseIdParam('id', id);
    const result = await this.writes.like(viewerId, itemId);
    void reply.code(result.created ? 201 : 200);
    return { userId: viewerId, itemId, ...result };
  }

  @Delete('items/:id/likes')
  @HttpCode(204)
  async unlike(@ViewerId() viewerId: number, @Param('id') id: string): Promise<void> {
    await this.writes.unlike(viewerId, parseIdParam('id', id));
  }
}
