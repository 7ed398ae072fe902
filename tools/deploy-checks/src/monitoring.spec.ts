import type { IPodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import type { IPrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadApplySets } from './lib/apply-sets';
import { WORKSPACE_ROOT } from './lib/k8s-docs';
import { adapterExternalRules, checkLabels, checkNames, checkNamespace } from './lib/k8s-checks';
import type { ApplySet } from './lib/k8s-objects';
import {
  ADAPTER_VALUES,
  checkAdapterInstall,
  checkAlertRules,
  checkPodMonitor,
  checkPodMonitorPort,
  exportedMetricNames,
  monitoringSetChecks,
  parsePromQL,
  PROMETHEUS_VALUES,
  readHelmValues,
} from './lib/monitoring-checks';

/**
 * k8s/monitoring (PodMonitor and alert rules, for the Prometheus Operator) and the Helm values the
 * adapter is installed with: the real files pass, and each check fails on what it is for.
 */

const sets = loadApplySets();
const monitoring = sets.monitoring;
const adapterRules = adapterExternalRules(sets.adapter);
const prometheusValues = readHelmValues(PROMETHEUS_VALUES);
const adapterValues = readHelmValues(ADAPTER_VALUES);

function editRules(edit: (rule: IPrometheusRule) => void): ApplySet {
  return {
    name: `${monitoring.name} (broken)`,
    docs: monitoring.docs.map((doc) => {
      if (doc.body.kind !== 'PrometheusRule') return doc;
      const body = structuredClone(doc.body);
      edit(body as unknown as IPrometheusRule);
      return { ...doc, body };
    }),
  };
}
const alert = (r: IPrometheusRule, name: string) =>
  r.spec!.groups!.flatMap((g) => g.rules ?? []).find((x) => x.alert === name)!;

describe('apply set `kubectl apply -f k8s/monitoring`', () => {
  it.each([
    ['names', checkNames],
    ['labels', checkLabels],
    ['namespace', checkNamespace('worker-pattern')],
    ...monitoringSetChecks(),
    ['pod monitor port (against kubectl apply -f k8s)', checkPodMonitorPort(sets.top)],
  ] as const)('%s: no problems', (_name, check) => {
    expect(check(monitoring)).toEqual([]);
  });

  it('alerts on what issue 15 asks for', () => {
    const rules = monitoring.docs
      .filter((d) => d.body.kind === 'PrometheusRule')
      .flatMap((d) => (d.body as unknown as IPrometheusRule).spec!.groups!.flatMap((g) => g.rules ?? []));
    const exprOf = (name: string) => String(rules.find((r) => r.alert === name)?.expr ?? '');
    expect(exprOf('WorkerQueueJobWaitingTooLong')).toContain('bull_queue_oldest_waiting_seconds');
    expect(exprOf('WorkerAutoscalerAtMaximum')).toContain('kube_horizontalpodautoscaler_spec_max_replicas');
    expect(exprOf('WorkerAutoscalerScalingInactive')).toContain('condition="ScalingActive",status="false"');
    expect(exprOf('ExternalMetricsAPIUnavailable')).toContain('aggregator_unavailable_apiservice');
    expect(exprOf('FragmentBuildFailureRatioHigh')).toMatch(/fragment_builds_total.*\/.*fragment_builds_total/s);
  });
});

describe('the metric names the code exports', () => {
  it("are every metric of the README's metrics table", () => {
    const readme = readFileSync(join(WORKSPACE_ROOT, 'README.md'), 'utf8');
    const documented = [...readme.matchAll(/^\| `([a-z_]+)[{`]/gm)].map((m) => m[1]);
    expect(documented.length).toBeGreaterThan(10);
    expect(documented.filter((name) => !exportedMetricNames().has(name))).toEqual([]);
  });

  it('include the queue, build and request metrics (docs/architecture.md, "Metrics")', () => {
    expect([...exportedMetricNames()]).toEqual(
      expect.arrayContaining([
        'bull_queue_jobs',
        'bull_queue_oldest_waiting_seconds',
        'fragment_builds_total',
        'fragment_build_seconds',
        'fragment_requests_total',
      ]),
    );
  });
});

describe('PromQL parsing (@prometheus-io/lezer-promql)', () => {
  it('names the metrics of every selector, not functions or labels', () => {
    expect(parsePromQL('sum by (queue) (rate(a_total{x="y"}[5m])) / on() group_left max(b_seconds_bucket)')).toEqual({
      errors: [],
      metrics: ['a_total', 'b_seconds_bucket'],
    });
  });

  it('reports a syntax error', () => {
    expect(parsePromQL('sum by (queue (a_total').errors).not.toEqual([]);
  });
});

describe('the adapter install (k8s/prometheus-adapter/helm)', () => {
  it('scrapes at the interval the simulations assume, two adapters, the same rule as the ConfigMap', () => {
    expect(checkAdapterInstall(prometheusValues, adapterValues, adapterRules)).toEqual([]);
  });
});

describe('each monitoring check catches what it is for', () => {
  const withValues = (v: typeof adapterValues, edit: (x: Record<string, unknown>) => void) => {
    const values = structuredClone(v.values);
    edit(values);
    return { ...v, values };
  };
  it.each<[string, () => string[], RegExp]>([
    [
      'a typo in an app metric name',
      () =>
        checkAlertRules()(
          editRules((r) => {
            const a = alert(r, 'WorkerQueueJobWaitingTooLong');
            a.expr = String(a.expr).replace('bull_queue_oldest_waiting_seconds', 'bull_queue_oldest_wait_seconds');
          }),
        ),
      /WorkerQueueJobWaitingTooLong: bull_queue_oldest_wait_seconds is exported by no app/,
    ],
    [
      'an expression that does not parse',
      () =>
        checkAlertRules()(
          editRules((r) => {
            const a = alert(r, 'FragmentBuildFailureRatioHigh');
            a.expr = String(a.expr).replace('[10m]', '[10m');
          }),
        ),
      /FragmentBuildFailureRatioHigh: expr does not parse/,
    ],
    [
      'a runbook_url to a section docs/deploy.md does not have',
      () =>
        checkAlertRules('# Deploy\n### Alert: WorkerQueueJobWaitingTooLong\n')(
          editRules((r) => (alert(r, 'WorkerAutoscalerAtMaximum').for = '15m')),
        ),
      /WorkerAutoscalerAtMaximum: runbook_url points at #alert-workerautoscaleratmaximum, but docs\/deploy.md has no such section/,
    ],
    [
      'an alert without `for`',
      () => checkAlertRules()(editRules((r) => delete alert(r, 'ExternalMetricsAPIUnavailable').for)),
      /ExternalMetricsAPIUnavailable: no `for`/,
    ],
    [
      'a PodMonitor scraping every 30 s',
      () =>
        checkPodMonitor({
          name: 'broken',
          docs: monitoring.docs.map((doc) => {
            if (doc.body.kind !== 'PodMonitor') return doc;
            const body = structuredClone(doc.body) as unknown as IPodMonitor;
            body.spec.podMetricsEndpoints![0].interval = '30s';
            return { ...doc, body: body as unknown as typeof doc.body };
          }),
        }),
      /scrapes every 30s, the autoscaling simulations assume 15s/,
    ],
    [
      'a PodMonitor scraping the http port while /metrics is on the management port',
      () =>
        checkPodMonitorPort(sets.top)({
          name: 'broken',
          docs: monitoring.docs.map((doc) => {
            if (doc.body.kind !== 'PodMonitor') return doc;
            const body = structuredClone(doc.body) as unknown as IPodMonitor;
            body.spec.podMetricsEndpoints![0].port = 'http';
            return { ...doc, body: body as unknown as typeof doc.body };
          }),
        }),
      /scrapes gateway on http \(3000\), but it serves \/metrics on 9464/,
    ],
    [
      "Prometheus at the chart's default interval",
      () =>
        checkAdapterInstall(
          withValues(
            prometheusValues,
            (v) => delete (v['server'] as { global: Record<string, unknown> }).global['scrape_interval'],
          ),
          adapterValues,
          adapterRules,
        ),
      /server.global.scrape_interval is \(unset: the chart's 1m\), the autoscaling simulations assume 15s/,
    ],
    [
      'one adapter replica',
      () =>
        checkAdapterInstall(
          prometheusValues,
          withValues(adapterValues, (v) => (v['replicas'] = 1)),
          adapterRules,
        ),
      /replicas 1: with one adapter/,
    ],
    [
      'Helm values whose rule drifted from the ConfigMap',
      () =>
        checkAdapterInstall(
          prometheusValues,
          withValues(adapterValues, (v) => {
            const [rule] = (v['rules'] as { external: Array<{ metricsQuery: string }> }).external;
            rule.metricsQuery = rule.metricsQuery.replace('waiting|active', 'waiting');
          }),
          adapterRules,
        ),
      /rules.external differs from the externalRules/,
    ],
  ])('%s', (_, run, expected) => {
    expect(run()).toEqual(expect.arrayContaining([expect.stringMatching(expected)]));
  });
});
