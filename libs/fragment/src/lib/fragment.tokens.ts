/** Injection tokens of the engine. */
export const FRAGMENT_OPTIONS = Symbol('FRAGMENT_OPTIONS');
/**
 * The engine's connection to the cache role's Redis: fragment copies, leases, events, rate limits
 * (commands fail fast while Redis is down: no offline queue).
 */
export const FRAGMENT_REDIS = Symbol('FRAGMENT_REDIS');
/** A command connection to the queue role's Redis (Bull's), for health checks. */
export const FRAGMENT_QUEUE_REDIS = Symbol('FRAGMENT_QUEUE_REDIS');
/** Optional: pins the store's clock (the model-based test); absent in apps. */
export const FRAGMENT_CLOCK = Symbol('FRAGMENT_CLOCK');
/** The fragment definitions the gateway serves. */
export const FRAGMENT_CATALOG = Symbol('FRAGMENT_CATALOG');
/** The one fragment a worker process builds, and its builder. */
export const WORKER_FRAGMENT = Symbol('WORKER_FRAGMENT');
export const WORKER_BUILDER = Symbol('WORKER_BUILDER');

/** The only job name on a fragment queue; a worker refuses to start unless it handles exactly this. */
export const FRAGMENT_BUILD_JOB = 'build';
/** Where `FragmentEvents` subscribes to the copies it watches (the event transport). */
export const FRAGMENT_EVENT_SUBSCRIBER = Symbol('FRAGMENT_EVENT_SUBSCRIBER');

/** The engine's Redis connections as readiness checks: the cache role (`redis`) and the queue role. */
export const FRAGMENT_REDIS_READINESS = { redis: FRAGMENT_REDIS, redis_queue: FRAGMENT_QUEUE_REDIS } as const;
