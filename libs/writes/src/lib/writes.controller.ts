import { Body, Controller, Delete, HttpCode, Param, Post, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { RateLimit, ViewerGuard, ViewerId } from '@worker-pattern/auth';
import { MAX_ID } from '@worker-pattern/fragment';
import { ApiErrorResponses, openApiSchemaOf } from '@worker-pattern/platform';
import type { FastifyReply } from 'fastify';
import { SocialWrites } from './social-writes';
import { WriteErrorsFilter } from './write-errors.filter';
import { followBody, parseFollowBody, parseIdParam, parsePostBody, postBody } from './write-input';

const ID = { type: 'integer', minimum: 1, maximum: MAX_ID } as const;
const RELATION = (ids: Record<string, object>) => ({
  type: 'object',
  properties: {
    ...ids,
    created: { type: 'boolean', description: 'false: it already existed' },
    createdAt: { type: 'string', format: 'date-time' },
  },
});

/**
 * The social graph's write API. Every write acts as the authenticated viewer; repeats are
 * idempotent (201 the first time, 200 after; deletes 204 either way) and never add a row.
 */
@ApiTags('writes')
@ApiBearerAuth()
@Controller('api')
@UseGuards(ViewerGuard)
@UseFilters(WriteErrorsFilter)
@RateLimit('writes')
export class WritesController {
  constructor(private readonly writes: SocialWrites) {}

  @Post('posts')
  @HttpCode(201)
  @ApiOperation({
    summary: 'Post as the viewer',
    description: 'Followers’ feeds are invalidated durably (outbox) in the same transaction.',
  })
  @ApiBody({ schema: openApiSchemaOf(postBody, 'input') })
  @ApiResponse({
    status: 201,
    schema: {
      type: 'object',
      properties: {
        id: { type: 'string' },
        authorId: ID,
        body: { type: 'string' },
        createdAt: { type: 'string', format: 'date-time' },
      },
    },
  })
  @ApiErrorResponses(400, 401, 404, 413, 429, 503)
  createPost(@ViewerId() viewerId: number, @Body() body: unknown) {
    return this.writes.createPost(viewerId, parsePostBody(body));
  }

  @Post('follows')
  @ApiOperation({
    summary: 'Follow a user',
    description: '201 when new, 200 when already following (never a second row); 400 for yourself.',
  })
  @ApiBody({ schema: openApiSchemaOf(followBody, 'input') })
  @ApiResponse({ status: 201, description: 'Now following', schema: RELATION({ followerId: ID, followeeId: ID }) })
  @ApiResponse({ status: 200, description: 'Already following', schema: RELATION({ followerId: ID, followeeId: ID }) })
  @ApiErrorResponses(400, 401, 404, 413, 429, 503)
  async follow(@ViewerId() viewerId: number, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    const followeeId = parseFollowBody(body);
    const result = await this.writes.follow(viewerId, followeeId);
    void reply.code(result.created ? 201 : 200);
    return { followerId: viewerId, followeeId, ...result };
  }

  @Delete('follows/:userId')
  @HttpCode(204)
  @ApiOperation({ summary: 'Unfollow a user', description: '204 also when not following.' })
  @ApiParam({ name: 'userId', schema: ID })
  @ApiResponse({ status: 204, description: 'Not following (any more)' })
  @ApiErrorResponses(400, 401, 404, 429, 503)
  async unfollow(@ViewerId() viewerId: number, @Param('userId') userId: string): Promise<void> {
    await this.writes.unfollow(viewerId, parseIdParam('userId', userId));
  }

  @Post('items/:id/likes')
  @ApiOperation({ summary: 'Like an item', description: '201 when new, 200 when already liked.' })
  @ApiParam({ name: 'id', schema: ID })
  @ApiResponse({ status: 201, description: 'Liked', schema: RELATION({ userId: ID, itemId: ID }) })
  @ApiResponse({ status: 200, description: 'Already liked', schema: RELATION({ userId: ID, itemId: ID }) })
  @ApiErrorResponses(400, 401, 404, 429, 503)
  async like(@ViewerId() viewerId: number, @Param('id') id: string, @Res({ passthrough: true }) reply: FastifyReply) {
    const itemId = parseIdParam('id', id);
    const result = await this.writes.like(viewerId, itemId);
    void reply.code(result.created ? 201 : 200);
    return { userId: viewerId, itemId, ...result };
  }

  @Delete('items/:id/likes')
  @HttpCode(204)
  @ApiOperation({ summary: 'Unlike an item', description: '204 also when not liked.' })
  @ApiParam({ name: 'id', schema: ID })
  @ApiResponse({ status: 204, description: 'Not liked (any more)' })
  @ApiErrorResponses(400, 401, 404, 429, 503)
  async unlike(@ViewerId() viewerId: number, @Param('id') id: string): Promise<void> {
    await this.writes.unlike(viewerId, parseIdParam('id', id));
  }
}
