import { Counter, Registry } from 'prom-client';
import {
  ensureDefaultMetrics,
  getOrCreateCounter,
  getOrCreateGauge,
  getOrCreateHistogram,
  getOrCreateSummary,
} from './metrics.registry';

describe('getOrCreate*', () => {
  let registry: Registry;
  beforeEach(() => {
    registry = new Registry();
  });

  it('returns the metric already registered under a name instead of throwing', () => {
    const first = getOrCreateCounter({ name: 'jobs_total', help: 'h', labelNames: ['queue'], registers: [registry] });
    const second = getOrCreateCounter({ name: 'jobs_total', help: 'h', labelNames: ['queue'], registers: [registry] });
    expect(second).toBe(first);
    expect(registry.getMetricsAsArray()).toHaveLength(1);
  });

  it('refuses a name already taken by another type', () => {
    getOrCreateCounter({ name: 'taken', help: 'h', registers: [registry] });
    expect(() => getOrCreateGauge({ name: 'taken', help: 'h', registers: [registry] })).toThrow(
      'metric taken is already registered as a different type than Gauge',
    );
  });

  it('creates each kind on the given registry', async () => {
    getOrCreateCounter({ name: 'c', help: 'h', registers: [registry] }).inc();
    getOrCreateGauge({ name: 'g', help: 'h', registers: [registry] }).set(2);
    getOrCreateHistogram({ name: 'h', help: 'h', buckets: [1], registers: [registry] }).observe(0.5);
    getOrCreateSummary({ name: 's', help: 'h', registers: [registry] }).observe(1);
    const text = await registry.metrics();
    expect(text).toContain('c 1');
    expect(text).toContain('g 2');
    expect(text).toContain('h_bucket{le="1"} 1');
    expect(text).toContain('s_count 1');
  });

  it('adopts a metric registered directly with prom-client', () => {
    const direct = new Counter({ name: 'direct_total', help: 'h', registers: [registry] });
    expect(getOrCreateCounter({ name: 'direct_total', help: 'h', registers: [registry] })).toBe(direct);
  });
});

describe('ensureDefaultMetrics', () => {
  it('registers the default metrics once, however often it is called, labelled with the service', async () => {
    const registry = new Registry();
    ensureDefaultMetrics('one', registry);
    const count = registry.getMetricsAsArray().length;
    expect(count).toBeGreaterThan(5);
    expect(() => ensureDefaultMetrics('two', registry)).not.toThrow();
    expect(registry.getMetricsAsArray()).toHaveLength(count);
    expect(await registry.metrics()).toMatch(/^process_cpu_user_seconds_total\{service="two"\} /m);
  });
});
