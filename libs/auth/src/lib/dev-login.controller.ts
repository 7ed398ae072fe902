import { BadRequestException, Body, Controller, HttpCode, Inject, NotFoundException, Post } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrorResponses } from '@worker-pattern/platform';
import { z } from 'zod';
import { AUTH_OPTIONS, type AuthModuleOptions } from './auth-options';
import { RateLimit } from './rate-limit/rate-limit.decorator';
import { ViewerTokens } from './viewer-tokens';

const devLoginBody = z
  .object({
    userId: z
      .number({ error: 'userId must be a number' })
      .int('userId must be an integer')
      .min(1, 'userId must be at least 1')
      .max(2_147_483_647, 'userId is too large'),
  })
  .strict();

/**
 * Development sign-in: a token for any user id, so the demo and tests need no user store.
 * Answers 404 unless dev login is enabled (never when NODE_ENV=production: config refuses it).
 */
@ApiTags('auth')
@Controller('api/auth')
@RateLimit('login')
export class DevLoginController {
  constructor(
    private readonly tokens: ViewerTokens,
    @Inject(AUTH_OPTIONS) private readonly options: AuthModuleOptions,
  ) {}

  @Post('dev-login')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Development sign-in: a token for any user id',
    description:
      'Only while dev login is enabled: on by default in development, impossible when NODE_ENV=production (404). Limited per client address.',
  })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['userId'],
      additionalProperties: false,
      properties: { userId: { type: 'integer', minimum: 1, maximum: 2_147_483_647, example: 1 } },
    },
  })
  @ApiOkResponse({
    description: 'A bearer token whose subject is the user',
    schema: {
      type: 'object',
      required: ['token', 'tokenType', 'expiresIn', 'userId'],
      properties: {
        token: { type: 'string', description: 'HS256 JWT' },
        tokenType: { type: 'string', enum: ['Bearer'] },
        expiresIn: { type: 'integer', description: 'Seconds' },
        userId: { type: 'integer' },
      },
    },
  })
  @ApiErrorResponses(400, 404, 413, 429)
  login(@Body() body: unknown): { token: string; tokenType: 'Bearer'; expiresIn: number; userId: number } {
    if (!this.options.devLogin) throw new NotFoundException('dev login is disabled');
    const parsed = devLoginBody.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const message =
        issue?.code === 'unrecognized_keys' ? `unknown field "${issue.keys[0]}"` : (issue?.message ?? 'invalid body');
      throw new BadRequestException(
        body === undefined || body === null ? 'body must be JSON: {"userId": <id>}' : message,
      );
    }
    const { token, expiresIn } = this.tokens.issue(parsed.data.userId);
    return { token, tokenType: 'Bearer', expiresIn, userId: parsed.data.userId };
  }
}
