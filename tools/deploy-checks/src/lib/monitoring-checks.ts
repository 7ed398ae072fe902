import type { IPodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import type { IPrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { parser } from '@prometheus-io/lezer-promql';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DEPLOY_DOC, HELM_VALUES_DIR } from './apply-sets';
import { describeDoc, WORKSPACE_ROOT } from './k8s-docs';
import { type ApplySet, mainContainer, ofKind, workloads } from './k8s-objects';
import type { AdapterExternalRule, Check } from './k8s-checks';
import { SCRAPE_INTERVAL_SECONDS } from './hpa/workload';

/**
 * The optional monitoring folder (k8s/monitoring: a PodMonitor and the alert rules, for the Prometheus
 * Operator) and the Helm values of Prometheus and prometheus-adapter (k8s/prometheus-adapter/helm):
 * every alert expression parses as PromQL (the Prometheus project's own parser, @prometheus-io/lezer-promql),
 * every app metric it reads is one the code exports, every alert has a runbook section in
 * docs/deploy.md, and the scrape interval and the adapter's setup are the ones the autoscaling
 * simulations assume.
 */

/** Metrics an alert may read that the apps do not export, and who does. */
export const EXTERNAL_METRICS: Readonly<Record<string, string>> = {
  kube_horizontalpodautoscaler_status_current_replicas: 'kube-state-metrics',
  kube_horizontalpodautoscaler_spec_max_replicas: 'kube-state-metrics',
  kube_horizontalpodautoscaler_status_condition: 'kube-state-metrics',
  aggregator_unavailable_apiservice: 'kube-apiserver',
};

const SOURCE_ROOTS = ['libs', 'apps'];

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else if (/\.ts$/.test(name) && !/\.(spec|int-spec|e2e-spec)\.ts$/.test(name)) out.push(path);
  }
  return out;
}

let exported: ReadonlySet<string> | undefined;

/**
 * The metric names the apps register: string literals passed as a prom-client metric's name
 * (`name: 'x'`, or the name argument of the repo's counter()/histogram() helpers) in non-test sources.
 */
export function exportedMetricNames(): ReadonlySet<string> {
  if (exported) return exported;
  const names = new Set<string>();
  for (const root of SOURCE_ROOTS) {
    for (const file of sourceFiles(join(WORKSPACE_ROOT, root))) {
      const text = readFileSync(file, 'utf8');
      if (!text.includes('prom-client') && !text.includes('fragment-metrics')) continue;
      for (const m of text.matchAll(/\bname:\s*'([a-z_:][a-z0-9_:]*)'/g)) names.add(m[1]);
      // The repo's helpers: counter(register, 'x', …) and counter('x', …).
      for (const m of text.matchAll(/\b(?:counter|histogram|gauge)\(\s*(?:\w+,\s*)?'([a-z_:][a-z0-9_:]*)'/g))
        names.add(m[1]);
    }
  }
  exported = names;
  return names;
}

export interface ParsedExpr {
  readonly errors: string[];
  readonly metrics: string[];
}

/** Parses PromQL with Prometheus' grammar: syntax errors, and the metric names of its selectors. */
export function parsePromQL(expr: string): ParsedExpr {
  const errors: string[] = [];
  const metrics: string[] = [];
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError)
        errors.push(`syntax error at ${node.from}: "${expr.slice(Math.max(0, node.from - 20), node.to + 20).trim()}"`);
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector')
        metrics.push(expr.slice(node.from, node.to));
    },
  });
  return { errors, metrics };
}

/** A histogram's or summary's series name → the metric the code registers. */
const baseMetric = (name: string) => name.replace(/_(bucket|sum|count)$/, '');

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
export function headingAnchors(markdown: string): Set<string> {
  return new Set(
    [...markdown.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) =>
      m[1]
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-'),
    ),
  );
}

/**
 * The alert rules: every expression parses, reads only metrics the apps export (or EXTERNAL_METRICS),
 * every alert has `for`, a severity, a summary and a runbook_url pointing at a section of
 * docs/deploy.md that exists.
 */
export function checkAlertRules(doc = readFileSync(join(WORKSPACE_ROOT, DEPLOY_DOC), 'utf8')): Check {
  const anchors = headingAnchors(doc);
  return (set) => {
    const problems: string[] = [];
    const rules = ofKind<IPrometheusRule>(set, 'PrometheusRule');
    if (!rules.length) problems.push(`${set.name}: no PrometheusRule`);
    const known = exportedMetricNames();
    for (const { doc: manifest, obj } of rules) {
      for (const group of obj.spec?.groups ?? []) {
        for (const rule of group.rules ?? []) {
          const id = `${describeDoc(manifest)} ${rule.alert ?? rule.record ?? '(unnamed rule)'}`;
          const expr = String(rule.expr ?? '');
          const parsed = parsePromQL(expr);
          problems.push(...parsed.errors.map((e) => `${id}: expr does not parse: ${e}`));
          for (const metric of parsed.metrics) {
            if (!known.has(baseMetric(metric)) && !(metric in EXTERNAL_METRICS))
              problems.push(
                `${id}: ${metric} is exported by no app (libs/, apps/) and is not a known cluster metric: a typo, or a metric that was renamed`,
              );
          }
          if (!rule.alert) continue;
          if (!rule.for) problems.push(`${id}: no \`for\`: one bad scrape would page`);
          if (!rule.labels?.['severity']) problems.push(`${id}: no severity label`);
          if (!rule.annotations?.['summary']) problems.push(`${id}: no summary annotation`);
          const url = rule.annotations?.['runbook_url'] ?? '';
          const anchor = url.match(/docs\/deploy\.md#([\w-]+)$/)?.[1];
          if (!anchor) problems.push(`${id}: runbook_url "${url}" does not point at a section of ${DEPLOY_DOC}`);
          else if (!anchors.has(anchor))
            problems.push(`${id}: runbook_url points at #${anchor}, but ${DEPLOY_DOC} has no such section`);
          else if (anchor !== `alert-${rule.alert.toLowerCase()}`)
            problems.push(`${id}: runbook_url should point at #alert-${rule.alert.toLowerCase()}`);
        }
      }
    }
    return problems;
  };
}

/** A Prometheus duration ("15s", "1m30s") in seconds. */
export function durationSeconds(text: string | undefined): number {
  const unit: Readonly<Record<string, number>> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  const parts = [...String(text ?? '').matchAll(/(\d+)(ms|s|m|h|d|w)/g)];
  if (!parts.length || parts.map((p) => p[0]).join('') !== text) return NaN;
  return parts.reduce((sum, p) => sum + Number(p[1]) * unit[p[2]], 0);
}

/** The PodMonitor scrapes the app pods at the interval the autoscaling simulations assume. */
export const checkPodMonitor: Check = (set) => {
  const problems: string[] = [];
  const monitors = ofKind<IPodMonitor>(set, 'PodMonitor');
  if (!monitors.length) problems.push(`${set.name}: no PodMonitor for the app pods`);
  for (const { doc, obj } of monitors) {
    for (const endpoint of obj.spec.podMetricsEndpoints ?? []) {
      if (durationSeconds(endpoint.interval) !== SCRAPE_INTERVAL_SECONDS)
        problems.push(
          `${describeDoc(doc)}: scrapes every ${endpoint.interval ?? "(Prometheus' global interval)"}, the autoscaling simulations assume ${SCRAPE_INTERVAL_SECONDS}s (lib/hpa/workload.ts)`,
        );
      if ((endpoint.path ?? '/metrics') !== '/metrics') problems.push(`${describeDoc(doc)}: path must be /metrics`);
    }
  }
  return problems;
};

/**
 * The PodMonitor scrapes, on every app Deployment it selects, the named container port its
 * `prometheus.io/port` annotation says /metrics is served on (the management port when set).
 */
export function checkPodMonitorPort(apps: ApplySet): Check {
  return (set) => {
    const problems: string[] = [];
    for (const { doc, obj } of ofKind<IPodMonitor>(set, 'PodMonitor')) {
      const selector = obj.spec.selector.matchLabels ?? {};
      const selected = workloads(apps).filter(
        (w) =>
          w.kind === 'Deployment' && Object.entries(selector).every(([k, v]) => w.template.metadata?.labels?.[k] === v),
      );
      if (!selected.length) problems.push(`${describeDoc(doc)}: selects no Deployment of ${apps.name}`);
      for (const endpoint of obj.spec.podMetricsEndpoints ?? []) {
        for (const w of selected) {
          const annotated = Number(w.template.metadata?.annotations?.['prometheus.io/port']);
          const port = mainContainer(w)?.ports?.find((p) => p.name === endpoint.port);
          if (!port)
            problems.push(
              `${describeDoc(doc)}: scrapes port ${endpoint.port ?? '(unnamed)'}, which ${w.name} does not declare`,
            );
          else if (port.containerPort !== annotated)
            problems.push(
              `${describeDoc(doc)}: scrapes ${w.name} on ${endpoint.port} (${port.containerPort}), but it serves /metrics on ${annotated} (prometheus.io/port)`,
            );
        }
      }
    }
    return problems;
  };
}

export interface HelmValues {
  readonly file: string;
  readonly values: Record<string, unknown>;
}

export const PROMETHEUS_VALUES = `${HELM_VALUES_DIR}/prometheus.values.yaml`;
export const ADAPTER_VALUES = `${HELM_VALUES_DIR}/prometheus-adapter.values.yaml`;

export function readHelmValues(file: string): HelmValues {
  return { file, values: parseYaml(readFileSync(join(WORKSPACE_ROOT, file), 'utf8')) as Record<string, unknown> };
}

const at = (values: Record<string, unknown>, path: string): unknown =>
  path.split('.').reduce<unknown>((v, key) => (v as Record<string, unknown> | undefined)?.[key], values);

/**
 * The Prometheus the adapter reads scrapes at the interval the simulations assume; the adapter runs
 * two replicas behind a PDB, re-lists no faster than that interval, and serves exactly the rule of
 * k8s/prometheus-adapter/10-adapter-config.yaml.
 */
export function checkAdapterInstall(
  prometheus: HelmValues,
  adapter: HelmValues,
  adapterRules: readonly AdapterExternalRule[],
): string[] {
  const problems: string[] = [];
  const scrape = at(prometheus.values, 'server.global.scrape_interval') as string | undefined;
  if (durationSeconds(scrape) !== SCRAPE_INTERVAL_SECONDS)
    problems.push(
      `${prometheus.file}: server.global.scrape_interval is ${scrape ?? "(unset: the chart's 1m)"}, the autoscaling simulations assume ${SCRAPE_INTERVAL_SECONDS}s (lib/hpa/workload.ts)`,
    );
  const replicas = Number(at(adapter.values, 'replicas') ?? 1);
  if (!(replicas >= 2))
    problems.push(
      `${adapter.file}: replicas ${replicas}: with one adapter, its restart makes the external metrics API unavailable`,
    );
  if (at(adapter.values, 'podDisruptionBudget.enabled') !== true)
    problems.push(`${adapter.file}: podDisruptionBudget.enabled must be true (a drain must leave one adapter)`);
  const relist = durationSeconds(at(adapter.values, 'metricsRelistInterval') as string | undefined);
  if (!(relist >= SCRAPE_INTERVAL_SECONDS))
    problems.push(
      `${adapter.file}: metricsRelistInterval must be at least the scrape interval (${SCRAPE_INTERVAL_SECONDS}s), or the adapter lists series between scrapes`,
    );
  const external = at(adapter.values, 'rules.external');
  if (JSON.stringify(external) !== JSON.stringify(adapterRules))
    problems.push(
      `${adapter.file}: rules.external differs from the externalRules of k8s/prometheus-adapter/10-adapter-config.yaml: keep the two the same`,
    );
  return problems;
}

export function monitoringSetChecks(): Array<[string, Check]> {
  return [
    ['alert rules', checkAlertRules()],
    ['pod monitor', checkPodMonitor],
  ];
}
