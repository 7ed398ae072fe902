import {
  Counter,
  type CounterConfiguration,
  Gauge,
  type GaugeConfiguration,
  Histogram,
  type HistogramConfiguration,
  type Registry,
  type RegistryContentType,
  Summary,
  type SummaryConfiguration,
  collectDefaultMetrics,
  register,
} from 'prom-client';

/**
 * Metrics live on prom-client's default registry, which `GET /metrics` serves. A Nest module can be
 * created more than once in one process (tests do it all the time) while prom-client refuses a second
 * metric of the same name, so registration goes through get-or-create.
 */

// A metric every `collectDefaultMetrics` call registers: present means the defaults are already on.
const DEFAULT_METRIC_PROBE = 'process_cpu_user_seconds_total';

/** Default process metrics once per registry, and `service` as a label on every series. */
export function ensureDefaultMetrics(service: string, registry: AnyRegistry = register): void {
  registry.setDefaultLabels({ service });
  if (!registry.getSingleMetric(DEFAULT_METRIC_PROBE)) collectDefaultMetrics({ register: registry });
}

type MetricClass<M> = abstract new (...args: never[]) => M;

type AnyRegistry = Registry<RegistryContentType>;

function getOrCreate<M>(kind: MetricClass<M>, name: string, registry: AnyRegistry, create: () => M): M {
  const existing = registry.getSingleMetric(name);
  if (existing === undefined) return create();
  if (existing instanceof kind) return existing;
  throw new Error(`metric ${name} is already registered as a different type than ${kind.name}`);
}

function registryOf(config: { registers?: AnyRegistry[] }): AnyRegistry {
  return config.registers?.[0] ?? register;
}

export function getOrCreateCounter<L extends string>(config: CounterConfiguration<L>): Counter<L> {
  const registry = registryOf(config);
  return getOrCreate<Counter<L>>(
    Counter,
    config.name,
    registry,
    () => new Counter({ ...config, registers: [registry] }),
  );
}

export function getOrCreateGauge<L extends string>(config: GaugeConfiguration<L>): Gauge<L> {
  const registry = registryOf(config);
  return getOrCreate<Gauge<L>>(Gauge, config.name, registry, () => new Gauge({ ...config, registers: [registry] }));
}

export function getOrCreateHistogram<L extends string>(config: HistogramConfiguration<L>): Histogram<L> {
  const registry = registryOf(config);
  return getOrCreate<Histogram<L>>(
    Histogram,
    config.name,
    registry,
    () => new Histogram({ ...config, registers: [registry] }),
  );
}

export function getOrCreateSummary<L extends string>(config: SummaryConfiguration<L>): Summary<L> {
  const registry = registryOf(config);
  return getOrCreate<Summary<L>>(
    Summary,
    config.name,
    registry,
    () => new Summary({ ...config, registers: [registry] }),
  );
}
