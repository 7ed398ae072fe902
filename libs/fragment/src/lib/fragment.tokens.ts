/** Injection tokens of the engine. */
export const FRAGMENT_OPTIONS = Symbol('FRAGMENT_OPTIONS');
/** The engine's ioredis client (commands fail fast while Redis is down: no offline queue). */
export const FRAGMENT_REDIS = Symbol('FRAGMENT_REDIS');
/** The fragment definitions the gateway serves. */
export const FRAGMENT_CATALOG = Symbol('FRAGMENT_CATALOG');
/** The one fragment a worker process builds, and its builder. */
export const WORKER_FRAGMENT = Symbol('WORKER_FRAGMENT');
export const WORKER_BUILDER = Symbol('WORKER_BUILDER');

/** The only job name on a fragment queue; a worker refuses to start unless it handles exactly this. */
export const FRAGMENT_BUILD_JOB = 'build';
