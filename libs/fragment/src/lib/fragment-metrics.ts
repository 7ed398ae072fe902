import { Counter, Gauge, Histogram, type Registry, register } from 'prom-client';

/**
 * Metric names are part of the contract (ARCHITECTURE.md): dashboards and the autoscaler read them.
 * Metrics are registered idempotently on prom-client's default registry, which the platform's
 * /metrics serves, so a Nest module created twice in one process (tests) does not throw.
 */
function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

function histogram<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  buckets: number[],
): Histogram<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Histogram<L>;
  return new Histogram({ name, help, labelNames, buckets, registers: [registry] });
}

/** Gateway side: what requests saw and what they enqueued. */
export class FragmentRequestMetrics {
  readonly requests = counter(register, 'fragment_requests_total', 'Fragments resolved, by status seen', [
    'fragment',
    'status',
  ]);
  readonly enqueues = counter(register, 'fragment_enqueues_total', 'Build jobs enqueued (one per lease taken)', [
    'fragment',
  ]);
  readonly suppressed = counter(
    register,
    'fragment_duplicates_suppressed_total',
    'Requests that needed a build already leased by another request: no job enqueued (the pending marker at work)',
    ['fragment'],
  );
  readonly repaired = counter(
    register,
    'fragment_jobs_repaired_total',
    'Queued builds whose job was lost (a failover, an evicted queue) and that a request enqueued again',
    ['fragment'],
  );
  readonly waits = counter(
    register,
    'fragment_waits_total',
    'Pending fragments a request waited for (waitMs), by how the wait ended: event, recheck, timeout, missed',
    ['fragment', 'outcome'],
  );
  readonly nearCache = counter(
    register,
    'fragment_near_cache_reads_total',
    "Counted page reads by the gateway's near cache: hit (every copy from memory), miss (read from Redis while the cache is on)",
    ['outcome'],
  );
  readonly nearCacheCounts = counter(
    register,
    'fragment_near_cache_counts_total',
    'Rate-limit counts of pages served from the near cache: from hits this gateway took from Redis ahead (memory), or by a count sent to Redis (redis)',
    ['where'],
  );
}

/** Writes' effect on cached fragments. */
export class FragmentInvalidationMetrics {
  readonly invalidations = counter(
    register,
    'fragment_invalidations_total',
    'Cached copies a write touched: absent (nothing cached), stale (rebuilt on next request), rebuild (rebuilt now)',
    ['fragment', 'outcome'],
  );
}

/** Live readiness listeners (waitMs waits and streams) of this gateway: a leak shows here first. */
export function registerListenerGauge(count: () => number): void {
  if (register.getSingleMetric('fragment_event_listeners')) register.removeSingleMetric('fragment_event_listeners');
  new Gauge({
    name: 'fragment_event_listeners',
    help: 'Readiness-event listeners alive in this gateway (waits and streams)',
    registers: [register],
    collect() {
      this.set(count());
    },
  });
}

/**
 * Gateway side: readiness events this process received, and the sharded channels (watched copies)
 * it is subscribed to. Event traffic per gateway grows with what it watches, not with all builds.
 */
export class FragmentEventMetrics {
  readonly received = counter(
    register,
    'fragment_events_received_total',
    'Readiness events this gateway received (one sharded channel per watched copy)',
    [],
  );
}

export function registerChannelGauge(count: () => number): void {
  if (register.getSingleMetric('fragment_event_channels')) register.removeSingleMetric('fragment_event_channels');
  new Gauge({
    name: 'fragment_event_channels',
    help: 'Sharded pub/sub channels this gateway is subscribed to: the copies its streams and waits watch',
    registers: [register],
    collect() {
      this.set(count());
    },
  });
}

/** Worker side: what builds did and how long they took. */
export class FragmentBuildMetrics {
  readonly builds = counter(register, 'fragment_builds_total', 'Build attempts by outcome', ['fragment', 'outcome']);
  readonly buildSeconds = histogram(
    register,
    'fragment_build_seconds',
    'Time spent in the builder per attempt',
    ['fragment'],
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  );
  readonly queueLatencySeconds = histogram(
    register,
    'fragment_queue_wait_seconds',
    'Time from enqueue to the start of the first attempt',
    ['fragment'],
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  );
}
