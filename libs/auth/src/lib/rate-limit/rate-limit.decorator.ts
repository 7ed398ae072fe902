import { type ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import type { RateLimitScope } from './rate-limit.options';

const RATE_LIMIT_SCOPE = 'worker-pattern:rate-limit-scope';

/** Puts a controller or a route in a rate-limit scope other than `api` (see `RateLimitScope`). */
export const RateLimit = (scope: RateLimitScope): ClassDecorator & MethodDecorator =>
  SetMetadata(RATE_LIMIT_SCOPE, scope);

/** The route's scope: its own, else its controller's, else `api`. */
export function rateLimitScopeOf(reflector: Reflector, context: ExecutionContext): RateLimitScope {
  return (
    reflector.getAllAndOverride<RateLimitScope | undefined>(RATE_LIMIT_SCOPE, [
      context.getHandler(),
      context.getClass(),
    ]) ?? 'api'
  );
}

const COUNTED_BY_ROUTE = 'worker-pattern:rate-limit-counted-by-route';

/**
 * The route counts its viewer's rate limit itself, in the same Redis call as its read
 * (`RouteRateLimit`), instead of the guard spending a round trip on it. Requests without a valid
 * bearer token are still counted by the guard.
 */
export const RateLimitCountedByRoute = (): MethodDecorator => SetMetadata(COUNTED_BY_ROUTE, true);

export function isRateLimitCountedByRoute(reflector: Reflector, context: ExecutionContext): boolean {
  return reflector.get<boolean | undefined>(COUNTED_BY_ROUTE, context.getHandler()) === true;
}
