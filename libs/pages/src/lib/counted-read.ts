import type { RouteRateLimit } from '@worker-pattern/auth';
import {
  type FragmentResolver,
  type FragmentState,
  FragmentStoreUnavailableError,
  type FragmentTarget,
  type ReadCount,
} from '@worker-pattern/fragment';

/**
 * The checks a route runs before its read (a 400, a 404), counted when they refuse: the guard left
 * the viewer's count to the route's read, so a request refused before it must count on its own, and
 * past the limit its 429 still comes first.
 */
export async function beforeCountedRead<T>(limit: RouteRateLimit | undefined, check: () => T): Promise<T> {
  try {
    return check();
  } catch (error) {
    await limit?.countNow();
    throw error;
  }
}

/**
 * A route's first Redis call carrying the count the guard left it (`limit.counter`): applies the
 * count it returns (the 429 when blocked, else the rate-limit headers) and tells the limit when the
 * store failed, as the guard would have.
 */
export async function withRouteCount<T extends { readonly count: ReadCount }>(
  limit: RouteRateLimit,
  call: () => Promise<T>,
): Promise<T> {
  let result: T;
  try {
    result = await call();
  } catch (error) {
    if (error instanceof FragmentStoreUnavailableError) limit.storeFailed(error);
    throw error;
  }
  limit.apply(result.count);
  return result;
}

/**
 * Reads `targets` with the viewer's rate-limit count in the same Redis script call when the guard
 * left the count to the route (`@RateLimitCountedByRoute()`): one round trip per request. Over the
 * limit it throws the 429 and reads nothing.
 */
export async function countedRead(
  resolver: FragmentResolver,
  targets: readonly FragmentTarget[],
  limit: RouteRateLimit | undefined,
  options: { waitMs: number; requestId: string },
): Promise<FragmentState[]> {
  if (!limit) return resolver.resolve(targets, options);
  const read = await withRouteCount(limit, () => resolver.resolveCounted(targets, limit.counter, options));
  if (read.blocked) throw new Error('a blocked count was let through');
  return read.states;
}
