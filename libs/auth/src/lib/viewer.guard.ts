import { type CanActivate, type ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { InvalidTokenError, ViewerTokens } from './viewer-tokens';

/** The request after `ViewerGuard`: the authenticated viewer, taken from the token only. */
export interface ViewerRequest extends FastifyRequest {
  viewerId?: number;
}

/** Requires `Authorization: Bearer <token>` and records the token's viewer on the request. */
@Injectable()
export class ViewerGuard implements CanActivate {
  constructor(private readonly tokens: ViewerTokens) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<ViewerRequest>();
    const header = request.headers.authorization;
    if (!header) throw new UnauthorizedException('missing Authorization header (expected "Bearer <token>")');
    const match = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(header);
    if (!match) throw new UnauthorizedException('malformed Authorization header (expected "Bearer <token>")');
    try {
      request.viewerId = this.tokens.verify(match[1] ?? '');
    } catch (error) {
      if (error instanceof InvalidTokenError) throw new UnauthorizedException(`invalid token: ${error.message}`);
      throw error;
    }
    return true;
  }
}
