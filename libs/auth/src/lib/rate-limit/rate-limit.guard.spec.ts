import type { ExecutionContext } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { SkipThrottle, Throttle, ThrottlerGuard, type ThrottlerStorage } from '@nestjs/throttler';
import { ViewerTokens } from '../viewer-tokens';
import type { FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { RateLimit, RateLimitCountedByRoute } from './rate-limit.decorator';
import { ViewerRateLimitGuard } from './rate-limit.guard';
import { RateLimitMetrics } from './rate-limit.metrics';
import { RedisThrottlerStorage } from './redis-throttler.storage';
import { RouteRateLimit } from './route-rate-limit';

// Who is counted and what is skipped, with a stand-in store; counting itself is tested against
// Redis in the gateway's integration tests.

const tokens = new ViewerTokens(new JwtService({}), { secret: 's'.repeat(40), ttlSeconds: 60, devLogin: true });

class ReadController {
  read(): void {
    // a route handler stand-in: only its metadata matters
  }
}
@RateLimit('login')
class LoginController {
  login(): void {
    // a route handler stand-in: only its metadata matters
  }
}

function httpContext(
  request: object,
  controller: { new (): object; prototype: object } = ReadController,
  handler = 'read',
): ExecutionContext {
  const reply = { header: jest.fn() };
  return {
    getType: () => 'http',
    getClass: () => controller,
    getHandler: () => (controller.prototype as Record<string, unknown>)[handler],
    switchToHttp: () => ({ getRequest: () => request, getResponse: () => reply }),
  } as unknown as ExecutionContext;
}

async function guardWith() {
  const keys: string[] = [];
  const storage: ThrottlerStorage = {
    increment: async (key) => {
      keys.push(key);
      return { totalHits: 1, timeToExpire: 60, isBlocked: false, timeToBlockExpire: 0 };
    },
  };
  const guard = new ViewerRateLimitGuard(
    { throttlers: [{ name: 'default', ttl: 60_000, limit: 10 }] },
    storage,
    tokens,
    new RateLimitMetrics(),
  );
  await guard.onModuleInit();
  return { guard, keys };
}

const request = (
  headers: Record<string, string> = {},
  query: Record<string, unknown> = {},
  url = '/api/pages/:page',
) => ({
  ip: '203.0.113.7',
  headers,
  query,
  routeOptions: { url },
});

describe('ViewerRateLimitGuard', () => {
  it('counts a valid token’s viewer, or a ticket’s, and the client address for anything else', async () => {
    const { guard, keys } = await guardWith();
    const token = tokens.issue(42).token;
    await guard.canActivate(httpContext(request({ authorization: `Bearer ${token}` })));
    await guard.canActivate(httpContext(request({}, { ticket: tokens.issueTicket(43, Date.now() + 60_000).ticket })));
    await guard.canActivate(httpContext(request({ authorization: 'Bearer forged.token.here' })));
    await guard.canActivate(httpContext(request({ authorization: `Token ${token}` })));
    await guard.canActivate(httpContext(request({}, { ticket: token }))); // an API token is no ticket
    await guard.canActivate(httpContext(request()));
    expect(keys).toEqual([
      'api:v:42',
      'api:v:43',
      'api:ip:203.0.113.7',
      'api:ip:203.0.113.7',
      'api:ip:203.0.113.7',
      'api:ip:203.0.113.7',
    ]);
  });

  it('counts dev login by address even with a token, under its own scope', async () => {
    const { guard, keys } = await guardWith();
    await guard.canActivate(
      httpContext(
        request({ authorization: `Bearer ${tokens.issue(42).token}` }, {}, '/api/auth/dev-login'),
        LoginController,
        'login',
      ),
    );
    expect(keys).toEqual(['login:ip:203.0.113.7']);
  });

  it('skips every route outside /api, and the readiness events of the hybrid app', async () => {
    const { guard, keys } = await guardWith();
    for (const url of ['/', '/health/live', '/metrics', '/apix', '/api'])
      expect(await guard.canActivate(httpContext(request({}, {}, url)))).toBe(true);
    const rpc = {
      getType: () => 'rpc',
      getClass: () => ReadController,
      getHandler: () => ReadController.prototype.read,
    } as unknown as ExecutionContext;
    expect(await guard.canActivate(rpc)).toBe(true);
    expect(keys).toEqual([]);
  });
});

describe('ViewerRateLimitGuard on a route that counts in its own read', () => {
  class PageController {
    @RateLimitCountedByRoute()
    page(): void {
      // a route handler stand-in: only its metadata matters
    }
  }

  async function redisGuard(limit: number | ((context: ExecutionContext) => number) = 10) {
    const calls: unknown[][] = [];
    const client = {
      call: async (...args: unknown[]) => {
        calls.push(args);
        return [1, 60_000, 0, 0];
      },
    };
    // The storage checks `instanceof Redis` only to decide whether it owns the client.
    Object.setPrototypeOf(client, (jest.requireActual('ioredis') as { Redis: { prototype: object } }).Redis.prototype);
    const guard = new ViewerRateLimitGuard(
      { throttlers: [{ name: 'default', ttl: 60_000, limit }] },
      new RedisThrottlerStorage(client as unknown as Redis, 'wp:'),
      tokens,
      new RateLimitMetrics(),
    );
    await guard.onModuleInit();
    return { guard, calls };
  }

  it('leaves a bearer token’s count to the route, with the counter’s keys, and makes no call of its own', async () => {
    const { guard, calls } = await redisGuard();
    const req = request({ authorization: `Bearer ${tokens.issue(42).token}` });
    await guard.canActivate(httpContext(req, PageController, 'page'));
    expect(calls).toEqual([]);
    const limit = RouteRateLimit.of(req as unknown as FastifyRequest);
    expect(limit?.counter).toEqual({
      hitsKey: 'wp:ratelimit:{u42}:api:default:hits',
      blockedKey: 'wp:ratelimit:{u42}:api:default:blocked',
      windowMs: 60_000,
      limit: 10,
      blockMs: 60_000,
    });
    // Once counted, the route has nothing left to count.
    limit?.apply({ hits: 1, windowLeftMs: 60_000, blocked: false, blockLeftMs: 0 });
    expect(RouteRateLimit.of(req as unknown as FastifyRequest)).toBeUndefined();
  });

  it('counts everything else itself: a ticket, no token, a forged one', async () => {
    const { guard, calls } = await redisGuard();
    const requests = [
      request({}, { ticket: tokens.issueTicket(43, Date.now() + 60_000).ticket }),
      request(),
      request({ authorization: 'Bearer forged.token.here' }),
    ];
    for (const req of requests) {
      await guard.canActivate(httpContext(req, PageController, 'page'));
      expect(RouteRateLimit.of(req as unknown as FastifyRequest)).toBeUndefined();
    }
    expect(calls.map((call) => call[3])).toEqual([
      'wp:ratelimit:{u43}:api:default:hits',
      'wp:ratelimit:{api:ip:203.0.113.7:default}:hits',
      'wp:ratelimit:{api:ip:203.0.113.7:default}:hits',
    ]);
  });

  it("decides a bearer token on such a route without the throttler's generic pass, anything else with it", async () => {
    const { guard } = await redisGuard();
    const generic = jest.spyOn(ThrottlerGuard.prototype, 'canActivate');
    try {
      await guard.canActivate(
        httpContext(request({ authorization: `Bearer ${tokens.issue(42).token}` }), PageController, 'page'),
      );
      expect(generic).not.toHaveBeenCalled();
      await guard.canActivate(
        httpContext(request({ authorization: 'Bearer forged.token.here' }), PageController, 'page'),
      );
      await guard.canActivate(httpContext(request({ authorization: `Bearer ${tokens.issue(42).token}` })));
      expect(generic).toHaveBeenCalledTimes(2);
    } finally {
      generic.mockRestore();
    }
  });

  it('resolves the limit per request on the direct way too (a function of the route)', async () => {
    const { guard, calls } = await redisGuard((context) =>
      context.getHandler() === PageController.prototype.page ? 7 : 1,
    );
    const req = request({ authorization: `Bearer ${tokens.issue(42).token}` });
    await guard.canActivate(httpContext(req, PageController, 'page'));
    expect(calls).toEqual([]);
    expect(RouteRateLimit.of(req as unknown as FastifyRequest)?.counter.limit).toBe(7);
  });

  it('leaves throttler decorators to the throttler: @SkipThrottle skips, @Throttle sets the limit', async () => {
    class DecoratedController {
      @RateLimitCountedByRoute()
      @SkipThrottle()
      skipped(): void {
        // a route handler stand-in: only its metadata matters
      }

      @RateLimitCountedByRoute()
      @Throttle({ default: { limit: 3, ttl: 1000 } })
      throttled(): void {
        // a route handler stand-in: only its metadata matters
      }
    }
    const { guard, calls } = await redisGuard();
    const bearer = { authorization: `Bearer ${tokens.issue(42).token}` };
    const skipped = request(bearer);
    expect(await guard.canActivate(httpContext(skipped, DecoratedController, 'skipped'))).toBe(true);
    expect(RouteRateLimit.of(skipped as unknown as FastifyRequest)).toBeUndefined();
    const throttled = request(bearer);
    await guard.canActivate(httpContext(throttled, DecoratedController, 'throttled'));
    expect(RouteRateLimit.of(throttled as unknown as FastifyRequest)?.counter).toMatchObject({
      limit: 3,
      windowMs: 1000,
    });
    expect(calls).toEqual([]);
  });

  it('counts a route outside /api/ nowhere, with a valid token too', async () => {
    const { guard, calls } = await redisGuard();
    const req = request({ authorization: `Bearer ${tokens.issue(42).token}` }, {}, '/health/live');
    expect(await guard.canActivate(httpContext(req, PageController, 'page'))).toBe(true);
    expect(RouteRateLimit.of(req as unknown as FastifyRequest)).toBeUndefined();
    expect(calls).toEqual([]);
  });
});
