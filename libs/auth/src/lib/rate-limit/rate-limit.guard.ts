import { type ExecutionContext, HttpException, HttpStatus, Injectable, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  type ThrottlerLimitDetail,
  type ThrottlerModuleOptions,
  type ThrottlerRequest,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ViewerTokens } from '../viewer-tokens';
import { rateLimitScopeOf } from './rate-limit.decorator';
import { RateLimitMetrics } from './rate-limit.metrics';
import type { RateLimitScope } from './rate-limit.options';

const STORE_WARNING_INTERVAL_MS = 10_000;

const UNIT: Record<RateLimitScope, string> = {
  api: 'requests per minute for this viewer',
  writes: 'writes per minute for this viewer',
  login: 'dev logins per minute from this address',
};

/**
 * The gateway's rate limit, on every `/api` route (health, metrics, the demo page, static assets,
 * docs and the queue dashboard are not Nest API routes or are skipped here). Counters live in
 * Redis, so the limit holds across replicas.
 *
 * Who is counted: the viewer of a valid token (or stream ticket) — it runs before the route's own
 * guard, so it verifies the token itself (cheap: verified tokens are cached). A request without a
 * valid token, and dev login always, counts against the client address: random tokens buy nothing.
 * One counter per viewer and scope, not per route, so spreading requests over routes does not help.
 *
 * If the store fails (Redis down, or slower than its timeout) the request goes through unlimited:
 * rate limiting protects capacity, and with Redis down the read path already sheds load with 503s,
 * while writes, which need only Postgres, stay available. Each such pass is counted in a metric.
 */
@Injectable()
export class ViewerRateLimitGuard extends ThrottlerGuard {
  private lastStoreWarning = 0;

  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly tokens: ViewerTokens,
    private readonly metrics: RateLimitMetrics,
  ) {
    super(options, storage, reflector);
    this.logger = new Logger(ViewerRateLimitGuard.name);
  }

  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    // The gateway is a hybrid app whose Redis transport inherits global guards: events pass.
    if (context.getType() !== 'http') return true;
    // The matched route's pattern, not the raw URL: no encoding trick moves a request out of /api.
    const route = context.switchToHttp().getRequest<FastifyRequest>().routeOptions.url ?? '';
    return !route.startsWith('/api/');
  }

  protected override async getTracker(req: Record<string, unknown>, context?: ExecutionContext): Promise<string> {
    const request = req as unknown as FastifyRequest;
    const address = `ip:${request.ip}`;
    if (context && rateLimitScopeOf(this.reflector, context) === 'login') return address;
    const viewerId = this.viewerOf(request);
    return viewerId === undefined ? address : `v:${viewerId}`;
  }

  protected override generateKey(context: ExecutionContext, tracker: string): string {
    return `${rateLimitScopeOf(this.reflector, context)}:${tracker}`;
  }

  protected override async handleRequest(request: ThrottlerRequest): Promise<boolean> {
    try {
      return await super.handleRequest(request);
    } catch (error) {
      if (error instanceof HttpException) throw error;
      this.storeFailed(error as Error);
      return true;
    }
  }

  protected override async throwThrottlingException(
    context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    const scope = rateLimitScopeOf(this.reflector, context);
    const retryAfter = Math.max(1, detail.timeToBlockExpire);
    void context.switchToHttp().getResponse<FastifyReply>().header('retry-after', String(retryAfter));
    this.metrics.rejections.inc({ scope });
    throw new HttpException(
      {
        statusCode: 429,
        error: 'Too Many Requests',
        message: `rate limit exceeded: at most ${detail.limit} ${UNIT[scope]}; retry in ${retryAfter} s`,
      },
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }

  /** The viewer a request authenticates as, the way the route's guard will see it; else undefined. */
  private viewerOf(request: FastifyRequest): number | undefined {
    try {
      const header = request.headers.authorization;
      if (header !== undefined) {
        const match = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(header);
        return match ? this.tokens.verify(match[1] ?? '') : undefined;
      }
      const ticket = (request.query as Record<string, unknown> | undefined)?.['ticket'];
      return typeof ticket === 'string' ? this.tokens.verifyTicket(ticket) : undefined;
    } catch {
      return undefined;
    }
  }

  private storeFailed(error: Error): void {
    this.metrics.storeFailures.inc();
    const now = Date.now();
    if (now - this.lastStoreWarning < STORE_WARNING_INTERVAL_MS) return;
    this.lastStoreWarning = now;
    this.logger.warn(`rate-limit store unavailable, requests pass unlimited: ${error.message}`);
  }
}
