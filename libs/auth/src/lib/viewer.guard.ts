import { type CanActivate, type ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { checkBearer } from './bearer-session';
import { InvalidTokenError, ViewerTokens } from './viewer-tokens';

/** The request after `ViewerGuard`: the authenticated viewer, taken from the token only. */
export interface ViewerRequest extends FastifyRequest {
  viewerId?: number;
  /** When the credential's session ends (the API token's expiry): long-lived streams end then. */
  viewerSessionEndsAt?: number;
}

/** Requires `Authorization: Bearer <token>` and records the token's viewer on the request. */
@Injectable()
export class ViewerGuard implements CanActivate {
  constructor(protected readonly tokens: ViewerTokens) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<ViewerRequest>();
    this.authenticate(request);
    return true;
  }

  protected authenticate(request: ViewerRequest): void {
    const check = checkBearer(request, this.tokens);
    switch (check.outcome) {
      case 'missing':
        throw new UnauthorizedException('missing Authorization header (expected "Bearer <token>")');
      case 'malformed':
        throw new UnauthorizedException('malformed Authorization header (expected "Bearer <token>")');
      case 'invalid':
        throw new UnauthorizedException(`invalid token: ${check.reason}`);
      case 'valid':
        request.viewerId = check.session.viewerId;
        request.viewerSessionEndsAt = check.session.expiresAtMs;
    }
  }
}

/**
 * For event streams: an `Authorization` header (any client that can set one), or else a
 * `?ticket=` from `POST /api/auth/stream-ticket` (browsers' EventSource cannot set headers). Never
 * the long-lived token in a URL.
 */
@Injectable()
export class StreamViewerGuard extends ViewerGuard {
  override canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<ViewerRequest>();
    const ticket = (request.query as Record<string, unknown> | undefined)?.['ticket'];
    if (request.headers.authorization || ticket === undefined) {
      this.authenticate(request);
      return true;
    }
    if (typeof ticket !== 'string') throw new UnauthorizedException('invalid ticket: give one "ticket" parameter');
    try {
      const session = this.tokens.ticketSession(ticket);
      request.viewerId = session.viewerId;
      request.viewerSessionEndsAt = session.expiresAtMs;
    } catch (error) {
      if (error instanceof InvalidTokenError) throw new UnauthorizedException(`invalid ticket: ${error.message}`);
      throw error;
    }
    return true;
  }
}
