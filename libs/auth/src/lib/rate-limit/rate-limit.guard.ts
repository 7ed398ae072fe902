import { type ExecutionContext, HttpException, HttpStatus, Injectable, Logger } from '@nestjs/common';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  type Resolvable,
  type ThrottlerModuleOptions,
  type ThrottlerOptions,
  type ThrottlerRequest,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ReadCount } from '@worker-pattern/fragment';
import { checkBearer } from '../bearer-session';
import { ViewerTokens } from '../viewer-tokens';
import { MemoizedReflector } from './memoized-reflector';
import { isRateLimitCountedByRoute, rateLimitScopeOf } from './rate-limit.decorator';
import { RateLimitMetrics } from './rate-limit.metrics';
import type { RateLimitScope } from './rate-limit.options';
import { blockedKeyOf, RedisThrottlerStorage, type ThrottlerStorageRecord } from './redis-throttler.storage';
import { type RateLimitVerdict, RouteRateLimit } from './route-rate-limit';

interface CountDetail {
  readonly limit: number;
  readonly ttl: number;
  readonly key: string;
  readonly tracker: string;
  readonly blockDuration: number;
  readonly name: string;
}

const STORE_WARNING_INTERVAL_MS = 10_000;

/** `canActivate`'s answer when the count is left to the route: one settled promise, shared. */
const LEFT_TO_ROUTE = Promise.resolve(true);

/** A throttler setting resolved synchronously, or undefined (asynchronous, or not a number). */
function resolvedNow(value: Resolvable<number> | undefined, context: ExecutionContext): number | undefined {
  const resolved = typeof value === 'function' ? value(context) : value;
  // Anything else (a promise, NaN) takes the throttler's own pass, which awaits it or refuses it.
  return typeof resolved === 'number' && Number.isFinite(resolved) ? resolved : undefined;
}

/** The matched route's pattern, not the raw URL, is under /api/: no encoding trick moves a request out. */
function isApiRoute(request: FastifyRequest): boolean {
  return (request.routeOptions.url ?? '').startsWith('/api/');
}

/** Whether `target` carries any of `@nestjs/throttler`'s route decorators (`@Throttle`, `@SkipThrottle`, …). */
function hasThrottlerMetadata(target: object): boolean {
  return Reflect.getMetadataKeys(target).some((key) => typeof key === 'string' && key.startsWith('THROTTLER:'));
}

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
  /** Per route handler (and the controller it was read for): whether `leftToRouteDirectly` may decide its requests. */
  private readonly direct = new WeakMap<object, { readonly controller: object; readonly direct: boolean }>();

  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    private readonly tokens: ViewerTokens,
    private readonly metrics: RateLimitMetrics,
  ) {
    // Route metadata read once per route, not on every request (the guard runs on every /api call).
    super(options, storage, new MemoizedReflector());
    this.logger = new Logger(ViewerRateLimitGuard.name);
  }

  /**
   * A valid bearer token on a route that counts in its own read (the warm page) is decided here,
   * without the throttler's generic pass (six metadata reads, three awaited settings, the awaited
   * tracker: 7 % of a warm page's allocations). Everything else takes that pass, which decides the
   * same for this case (`handleRequest`).
   */
  override canActivate(context: ExecutionContext): Promise<boolean> {
    return this.leftToRouteDirectly(context) ? LEFT_TO_ROUTE : super.canActivate(context);
  }

  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    // The gateway is a hybrid app whose Redis transport inherits global guards: events pass.
    if (context.getType() !== 'http') return true;
    return !isApiRoute(context.switchToHttp().getRequest<FastifyRequest>());
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
    const { context, limit, ttl, blockDuration, throttler, getTracker, generateKey } = request;
    const req = context.switchToHttp().getRequest<FastifyRequest>();
    const tracker = await getTracker(req as unknown as Record<string, unknown>, context);
    const key = generateKey(context, tracker, throttler.name ?? 'default');
    const detail = { limit, ttl, key, tracker, blockDuration, name: throttler.name ?? 'default' };
    // A viewer known from the bearer token, on a route that reads Redis anyway: counted in that read.
    if (this.storageService instanceof RedisThrottlerStorage && isRateLimitCountedByRoute(this.reflector, context)) {
      const viewer = checkBearer(req, this.tokens);
      if (viewer.outcome === 'valid' && tracker === `v:${viewer.session.viewerId}`) {
        this.leaveToRoute(req, context, detail);
        return true;
      }
    }
    await this.count(context, detail);
    return true;
  }

  /** `handleRequest`'s first case, decided synchronously where nothing else could apply; else false. */
  private leftToRouteDirectly(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return false;
    const handler = context.getHandler();
    const controller = context.getClass();
    let memo = this.direct.get(handler);
    // A handler two controllers inherit is read again for each: their decorators may differ.
    if (memo?.controller !== controller)
      this.direct.set(handler, (memo = { controller, direct: this.countsDirectly(context) }));
    if (!memo.direct) return false;
    const req = context.switchToHttp().getRequest<FastifyRequest>();
    if (!isApiRoute(req)) return false;
    const viewer = checkBearer(req, this.tokens);
    if (viewer.outcome !== 'valid') return false;
    const throttler = this.throttlers[0];
    const limit = resolvedNow(throttler.limit, context);
    const ttl = resolvedNow(throttler.ttl, context);
    const blockDuration = throttler.blockDuration === undefined ? ttl : resolvedNow(throttler.blockDuration, context);
    if (limit === undefined || ttl === undefined || blockDuration === undefined) return false;
    const name = throttler.name ?? 'default';
    const tracker = `v:${viewer.session.viewerId}`;
    this.leaveToRoute(req, context, {
      limit,
      ttl,
      key: this.generateKey(context, tracker),
      tracker,
      blockDuration,
      name,
    });
    return true;
  }

  /**
   * A route whose every decision `handleRequest` would make the way `leftToRouteDirectly` does: it
   * counts in its own read on the Redis store, counts viewers (not `login`'s addresses), under the
   * one throttler, with no throttler decorator, skip rule, user-agent rule or custom tracker or key.
   */
  private countsDirectly(context: ExecutionContext): boolean {
    const options: Partial<ThrottlerOptions> = Array.isArray(this.options) ? {} : this.options;
    const throttler = this.throttlers.length === 1 ? this.throttlers[0] : undefined;
    return (
      throttler !== undefined &&
      this.storageService instanceof RedisThrottlerStorage &&
      isRateLimitCountedByRoute(this.reflector, context) &&
      rateLimitScopeOf(this.reflector, context) !== 'login' &&
      !hasThrottlerMetadata(context.getHandler()) &&
      !hasThrottlerMetadata(context.getClass()) &&
      !(throttler.skipIf ?? options.skipIf) &&
      !(throttler.ignoreUserAgents ?? options.ignoreUserAgents) &&
      !(throttler.getTracker ?? options.getTracker) &&
      !(throttler.generateKey ?? options.generateKey)
    );
  }

  /** Leaves the viewer's count to the route's read (`RouteRateLimit`), with this guard's verdicts. */
  private leaveToRoute(req: FastifyRequest, context: ExecutionContext, detail: CountDetail): void {
    const verdict: RateLimitVerdict = {
      apply: (count) => this.apply(context, detail, count),
      countNow: () => this.count(context, detail),
      storeFailed: (error) => this.storeFailed(error),
    };
    const hitsKey = (this.storageService as RedisThrottlerStorage).hitsKey(detail.key, detail.name);
    new RouteRateLimit(
      {
        hitsKey,
        blockedKey: blockedKeyOf(hitsKey),
        windowMs: detail.ttl,
        limit: detail.limit,
        blockMs: detail.blockDuration,
      },
      verdict,
    ).attachTo(req);
  }

  /** One count through the store (its own round trip); a store that fails lets the request through. */
  private async count(context: ExecutionContext, detail: CountDetail): Promise<void> {
    let record: ThrottlerStorageRecord;
    try {
      record = await this.storageService.increment(
        detail.key,
        detail.ttl,
        detail.limit,
        detail.blockDuration,
        detail.name,
      );
    } catch (error) {
      this.storeFailed(error as Error);
      return;
    }
    this.apply(context, detail, {
      hits: record.totalHits,
      windowLeftMs: record.timeToExpire * 1000,
      blocked: record.isBlocked,
      blockLeftMs: record.timeToBlockExpire * 1000,
    });
  }

  /** What @nestjs/throttler's guard does with a count: the 429 when blocked, else the headers. */
  private apply(context: ExecutionContext, detail: CountDetail, count: ReadCount): void {
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    const windowLeft = Math.ceil(count.windowLeftMs / 1000);
    if (count.blocked) throw this.refusal(context, detail.limit, Math.ceil(count.blockLeftMs / 1000));
    void reply.header(`${this.headerPrefix}-Limit`, detail.limit);
    void reply.header(`${this.headerPrefix}-Remaining`, Math.max(0, detail.limit - count.hits));
    void reply.header(`${this.headerPrefix}-Reset`, windowLeft);
  }

  private refusal(context: ExecutionContext, limit: number, blockLeftSeconds: number): HttpException {
    const scope = rateLimitScopeOf(this.reflector, context);
    const retryAfter = Math.max(1, blockLeftSeconds);
    // The budget headers too (none left until the block lapses), which @nestjs/throttler leaves off a 429.
    void context
      .switchToHttp()
      .getResponse<FastifyReply>()
      .header('retry-after', String(retryAfter))
      .header(`${this.headerPrefix}-Limit`, limit)
      .header(`${this.headerPrefix}-Remaining`, 0)
      .header(`${this.headerPrefix}-Reset`, retryAfter);
    this.metrics.rejections.inc({ scope });
    return new HttpException(
      {
        statusCode: 429,
        error: 'Too Many Requests',
        message: `rate limit exceeded: at most ${limit} ${UNIT[scope]}; retry in ${retryAfter} s`,
      },
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }

  /** The viewer a request authenticates as, the way the route's guard will see it; else undefined. */
  private viewerOf(request: FastifyRequest): number | undefined {
    try {
      if (request.headers.authorization !== undefined) {
        const check = checkBearer(request, this.tokens);
        return check.outcome === 'valid' ? check.session.viewerId : undefined;
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
