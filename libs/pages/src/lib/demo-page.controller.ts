import { BadRequestException, Controller, Get, Inject, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AUTH_OPTIONS, type AuthModuleOptions } from '@worker-pattern/auth';
import { MAX_ID } from '@worker-pattern/fragment';
import { ApiErrorResponses } from '@worker-pattern/platform';
import type { FastifyReply } from 'fastify';
import { renderDemoPage } from './demo-page.html';
import { dashboardPage } from './page-definition';
import type { RawQuery } from './request-query';

// The page loads its own script and stylesheet and talks only to this origin.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** `GET /[?userId=N]`: the demo dashboard, signed in as demo user N (default 1) by dev login. */
@ApiTags('demo')
@Controller()
export class DemoPageController {
  constructor(@Inject(AUTH_OPTIONS) private readonly auth: AuthModuleOptions) {}

  @Get()
  @ApiOperation({
    summary: 'The demo dashboard page',
    description:
      'The shell renders at once; fragments fill in from the stream (or by polling). Signs in by dev login, so it works only where dev login is enabled.',
  })
  @ApiProduces('text/html')
  @ApiQuery({
    name: 'userId',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: MAX_ID, default: 1 },
    description: 'View the page as this demo user',
  })
  @ApiResponse({ status: 200, description: 'The page', content: { 'text/html': { schema: { type: 'string' } } } })
  @ApiErrorResponses(400)
  page(@Query() query: RawQuery, @Res() reply: FastifyReply): void {
    const unknown = Object.keys(query).find((name) => name !== 'userId');
    if (unknown !== undefined) throw new BadRequestException(`unknown parameter "${unknown.slice(0, 64)}"`);
    const raw = query['userId'] ?? '1';
    if (typeof raw !== 'string' || !/^[1-9][0-9]{0,9}$/.test(raw) || Number(raw) > 2_147_483_647) {
      throw new BadRequestException('invalid parameter "userId": must be a positive integer (1 to 2147483647)');
    }
    void reply
      .code(200)
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .send(renderDemoPage(dashboardPage, Number(raw), this.auth.devLogin));
  }
}
