import { Controller, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrorResponses } from '@worker-pattern/platform';
import { ViewerId } from './viewer-id.decorator';
import { ViewerGuard, type ViewerRequest } from './viewer.guard';
import { ViewerTokens } from './viewer-tokens';

/** `POST /api/auth/stream-ticket`: trades the API token for a one-minute stream ticket. */
@ApiTags('auth')
@Controller('api/auth')
export class StreamTicketController {
  constructor(private readonly tokens: ViewerTokens) {}

  @Post('stream-ticket')
  @HttpCode(200)
  @UseGuards(ViewerGuard)
  @ApiBearerAuth()
  @ApiOperation({
    summary: 'A one-minute ticket for the page stream',
    description:
      'For browsers, whose EventSource cannot send headers: the ticket goes in the stream URL (`?ticket=`), and it is useless as an API token.',
  })
  @ApiOkResponse({
    schema: {
      type: 'object',
      required: ['ticket', 'expiresIn'],
      properties: { ticket: { type: 'string' }, expiresIn: { type: 'integer', example: 60 } },
    },
  })
  @ApiErrorResponses(401, 429)
  ticket(@ViewerId() viewerId: number, @Req() request: ViewerRequest): { ticket: string; expiresIn: number } {
    // ViewerGuard recorded the token's expiry: a stream opened with the ticket ends when the token would.
    return this.tokens.issueTicket(viewerId, request.viewerSessionEndsAt ?? Date.now());
  }
}
