import { Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ViewerId } from './viewer-id.decorator';
import { ViewerGuard } from './viewer.guard';
import { ViewerTokens } from './viewer-tokens';

/** `POST /api/auth/stream-ticket`: trades the API token for a one-minute stream ticket. */
@Controller('api/auth')
export class StreamTicketController {
  constructor(private readonly tokens: ViewerTokens) {}

  @Post('stream-ticket')
  @HttpCode(200)
  @UseGuards(ViewerGuard)
  ticket(@ViewerId() viewerId: number): { ticket: string; expiresIn: number } {
    return this.tokens.issueTicket(viewerId);
  }
}
