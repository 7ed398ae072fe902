import { Counter, Gauge, Histogram, type Registry, register } from 'prom-client';

function getOrCreate<M>(registry: Registry, name: string, create: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? create();
}

/**
 * Where builder reads went and why. Registered idempotently on prom-client's default registry (the
 * one `/metrics` serves), so a module created twice in one process (tests) does not throw.
 */
export class DbReadMetrics {
  readonly reads = getOrCreate(
    register,
    'db_reads_total',
    () =>
      new Counter({
        name: 'db_reads_total',
        help: 'Builder reads (one transaction each), by the server that answered: primary or replica-N',
        labelNames: ['server'],
        registers: [register],
      }),
  );
  readonly fallbacks = getOrCreate(
    register,
    'db_read_fallbacks_total',
    () =>
      new Counter({
        name: 'db_read_fallbacks_total',
        help: 'Reads that replicas could not serve, by reason: no_healthy_replica, fence_timeout (no replica replayed the write in time), replica_failed (retried elsewhere)',
        labelNames: ['reason'],
        registers: [register],
      }),
  );
  readonly fenceWaitSeconds = getOrCreate(
    register,
    'db_fence_wait_seconds',
    () =>
      new Histogram({
        name: 'db_fence_wait_seconds',
        help: 'Time a read waited for a replica to replay the write it must see, by outcome: replica or timeout',
        labelNames: ['outcome'],
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
        registers: [register],
      }),
  );
  readonly replicaUp = getOrCreate(
    register,
    'db_replica_up',
    () =>
      new Gauge({
        name: 'db_replica_up',
        help: '1 while the replica answers its health check, is a standby and lags within the bound; else 0',
        labelNames: ['replica'],
        registers: [register],
      }),
  );
  readonly replicaLagSeconds = getOrCreate(
    register,
    'db_replica_lag_seconds',
    () =>
      new Gauge({
        name: 'db_replica_lag_seconds',
        help: 'How long the primary has had WAL the replica has not replayed (0 when caught up), to within one health check',
        labelNames: ['replica'],
        registers: [register],
      }),
  );
}
