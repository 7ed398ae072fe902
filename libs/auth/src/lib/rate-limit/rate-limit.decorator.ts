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
