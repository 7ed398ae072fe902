import type { ReadCount, ReadCounter } from '@worker-pattern/fragment';
import type { FastifyRequest } from 'fastify';

const PENDING = Symbol('route rate limit');

type RequestWithLimit = FastifyRequest & { [PENDING]?: RouteRateLimit };

/** How the guard answers a count: headers on the reply, or the 429 it throws. */
export interface RateLimitVerdict {
  /** Sets the `X-RateLimit-*` headers, or throws the 429 (with `Retry-After`) when blocked. */
  apply(count: ReadCount): void;
  /** Counts through the guard's own store call (a route that reads nothing). */
  countNow(): Promise<void>;
  /** The route's counted read failed on Redis: recorded as the guard records a store failure. */
  storeFailed(error: Error): void;
}

/**
 * A viewer's rate-limit count that the guard left to a `@RateLimitCountedByRoute()` route: the route
 * passes `counter` to its Redis read (`FragmentResolver.resolveCounted`), which counts it in the same
 * script call, then hands the count to `apply`. A route that answers without that read (a 400, a
 * 404) must call `countNow()` first, so every request is counted and a 429 still comes first.
 */
export class RouteRateLimit {
  private settled = false;

  constructor(
    readonly counter: ReadCounter,
    private readonly verdict: RateLimitVerdict,
  ) {}

  /** The count left to this request's route, if the guard left one. */
  static of(request: FastifyRequest): RouteRateLimit | undefined {
    const limit = (request as RequestWithLimit)[PENDING];
    return limit?.settled === false ? limit : undefined;
  }

  attachTo(request: FastifyRequest): void {
    (request as RequestWithLimit)[PENDING] = this;
  }

  apply(count: ReadCount): void {
    this.settled = true;
    this.verdict.apply(count);
  }

  async countNow(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    await this.verdict.countNow();
  }

  storeFailed(error: Error): void {
    this.settled = true;
    this.verdict.storeFailed(error);
  }
}
