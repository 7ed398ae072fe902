import type { RouteRateLimit } from '@worker-pattern/auth';
import {
  type FragmentResolver,
  type FragmentState,
  FragmentStoreUnavailableError,
  type FragmentTarget,
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
  let read;
  try {
    read = await resolver.resolveCounted(targets, limit.counter, options);
  } catch (error) {
    if (error instanceof FragmentStoreUnavailableError) limit.storeFailed(error);
    throw error;
  }
  limit.apply(read.count);
  if (read.blocked) throw new Error('a blocked count was let through');
  return read.states;
}
