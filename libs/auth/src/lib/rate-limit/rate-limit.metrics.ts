import { Injectable } from '@nestjs/common';
import { Counter, register } from 'prom-client';

function counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
  const existing = register.getSingleMetric(name);
  return existing instanceof Counter
    ? (existing as Counter<L>)
    : new Counter({ name, help, labelNames, registers: [register] });
}

/** `rate_limit_rejections_total{scope}` (429s) and `rate_limit_store_failures_total` (requests let through unlimited). */
@Injectable()
export class RateLimitMetrics {
  readonly rejections = counter('rate_limit_rejections_total', 'Requests refused with 429, by rate-limit scope', [
    'scope',
  ]);
  readonly storeFailures = counter(
    'rate_limit_store_failures_total',
    'Requests let through unlimited because the rate-limit store failed',
    [],
  );
}
