import type { IScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { isWorkerApp, type WorkerApp } from '../app-facts';
import { describeDoc, type ManifestDoc } from '../k8s-docs';
import { type ApplySet, deployments, effectiveEnv, hpas, literalEnv, scaledObjects } from '../k8s-objects';
import { type HpaSettings, hpaSettingsFromManifest, hpaSettingsFromScaledObject } from './hpa-controller';
import { type SimulationStep, simulateQueueAutoscaling } from './queue-simulation';
import { queueModel, WORKLOAD } from './workload';

/**
 * The backlog metric vanishes during a backlog, for each worker autoscaler as the manifests set it up:
 *
 * - HPA + prometheus-adapter: while Prometheus has no bull_queue_jobs series, the adapter serves no
 *   series for bull_queue_backlog (its metricsQuery yields nothing) and the HPA's external metrics
 *   client calls an empty list an error; the HPA then holds its scale (ScalingActive=False) unless
 *   the CPU metric asks for more (lib/hpa/hpa-controller.ts). A rule that turns absence into a number
 *   (`… or vector(0)`) serves that number instead.
 * - KEDA (pkg/fallback/fallback.go, pkg/scaling/modifiers/formula.go): a prometheus trigger's empty
 *   result is an error with ignoreNullValues "false", else 0; a redis trigger fails when Redis cannot
 *   be reached (an empty list is a real 0). Each failed read (one per HPA sync here) counts against the
 *   metric; while the count is at most fallback.failureThreshold the HPA gets the error, past it KEDA
 *   serves fallback.replicas × the target (AverageValue), so the HPA computes fallback.replicas
 *   (behavior `static`, the default; `currentReplicas`, `currentReplicasIfHigher` and
 *   `currentReplicasIfLower` of KEDA 2.17+ use the current scale). With scalingModifiers the
 *   composite metric falls back the same way. A successful read resets the count. KEDA 2.19+ also
 *   counts failures of its own polling loop, so there the fallback can come up to twice as early.
 *
 * Two runs per worker, with the manifest's min, max, targets, behaviour and fallback:
 * - "lost mid-backlog": a 10× spike; a minute in (the worker has scaled up) the metric vanishes for
 *   15 minutes while the spike goes on; then it is back, the spike ends and the backlog drains. While
 *   it is missing the worker must keep the replicas it had (the HPA holds), or KEDA's fallback if that
 *   is lower, and never fall to its minimum; read as 0, the backlog no longer holds the pods and only
 *   CPU decides, well below what keeps up.
 * - "lost as the backlog starts" (KEDA only): the metric vanishes the moment the spike starts, with
 *   the worker at its minimum. The HPA variant has no fallback: it stays where it was (there, at its
 *   minimum) and only CPU can add pods; the ScalingActive alert (k8s/monitoring) is what tells you.
 */

export const SPIKE_FACTOR = 10;
export const SPIKE_START = 120;
/** How long after the spike starts the metric goes, in the mid-backlog run. */
export const LOST_AFTER = 60;
export const OUTAGE_SECONDS = 900;
const AFTER_RETURN = 1500;

export interface KedaFallbackModel {
  /** What a read returns while Prometheus has no series: an error, or 0 (ignoreNullValues true). */
  readonly emptyReads: 'error' | 'zero';
  readonly fallback?: { readonly failureThreshold: number; readonly replicas: number; readonly behavior: string };
}

export interface WorkerAutoscaling {
  readonly app: WorkerApp;
  readonly doc: ManifestDoc;
  readonly settings: HpaSettings;
  readonly backlogMetric: string;
  readonly target: number;
  readonly concurrency: number;
  /** KEDA's handling of a failed read; undefined for an HPA fed by prometheus-adapter. */
  readonly keda?: KedaFallbackModel;
  /** HPA + adapter: what the adapter serves while the series are absent (undefined: nothing). */
  readonly adapterServesWhenAbsent?: number;
}

/** The adapter rule's stand-in for absent series: `<query> or vector(N)` (or `or on() vector(N)`). */
export function absentValueOfQuery(metricsQuery: string): number | undefined {
  const m = metricsQuery.match(/\bor\s+(?:on\s*\(\s*\)\s*)?vector\s*\(\s*([-+]?[\d.eE+-]+)\s*\)/);
  return m ? Number(m[1]) : undefined;
}

interface AdapterRuleLike {
  readonly seriesQuery: string;
  readonly name?: { readonly as?: string };
  readonly metricsQuery: string;
}

function kedaModel(so: IScaledObject): KedaFallbackModel {
  const backlog = so.spec.triggers.filter((t) => t.type !== 'cpu' && t.type !== 'memory');
  // One failing trigger fails the metric (or the composite of scalingModifiers); all must read 0 for 0.
  const emptyReads = backlog.every((t) => t.type === 'prometheus' && t.metadata['ignoreNullValues'] !== 'false')
    ? 'zero'
    : 'error';
  const fallback = so.spec.fallback as
    { failureThreshold: number; replicas: number; behavior?: string } | null | undefined;
  return {
    emptyReads,
    fallback: fallback
      ? {
          failureThreshold: fallback.failureThreshold,
          replicas: fallback.replicas,
          behavior: fallback.behavior ?? 'static',
        }
      : undefined,
  };
}

function concurrencyIn(set: ApplySet, app: string): number {
  const deployment = deployments(set).find(({ obj }) => obj.metadata?.name === app)?.obj;
  const container = deployment?.spec?.template.spec?.containers[0];
  const literal = container ? literalEnv(effectiveEnv(container, set), 'WORKER_CONCURRENCY') : undefined;
  if (literal === undefined) throw new Error(`${set.name}: no WORKER_CONCURRENCY for ${app}`);
  return Number(literal);
}

/** Every worker autoscaler of a set, with what the simulation needs from the manifests. */
export function workerAutoscaling(set: ApplySet, adapterRules: readonly AdapterRuleLike[]): WorkerAutoscaling[] {
  const result: WorkerAutoscaling[] = [];
  const add = (app: string, doc: ManifestDoc, settings: HpaSettings, extra: Partial<WorkerAutoscaling>) => {
    if (!isWorkerApp(app)) return;
    const metric = settings.metrics.find((m) => m.type === 'External');
    if (!metric || metric.type !== 'External') return; // checkScalingSignals reports it
    result.push({
      app,
      doc,
      settings,
      backlogMetric: metric.name,
      target: metric.averageValue,
      concurrency: concurrencyIn(set, app),
      ...extra,
    });
  };
  for (const { doc, obj } of hpas(set)) {
    const settings = hpaSettingsFromManifest(obj);
    const metric = settings.metrics.find((m) => m.type === 'External');
    const rule =
      metric?.type === 'External'
        ? adapterRules.find((r) => (r.name?.as ?? r.seriesQuery.match(/^(\w+)/)?.[1]) === metric.name)
        : undefined;
    add(obj.spec?.scaleTargetRef.name ?? '', doc, settings, {
      adapterServesWhenAbsent: rule ? absentValueOfQuery(rule.metricsQuery) : undefined,
    });
  }
  for (const { doc, obj } of scaledObjects(set))
    add(obj.spec.scaleTargetRef.name, doc, hpaSettingsFromScaledObject(obj), { keda: kedaModel(obj) });
  return result;
}

/** KEDA's fallback as its metrics server applies it, one read per HPA sync. */
function kedaServe(w: WorkerAutoscaling, keda: KedaFallbackModel) {
  let failures = 0;
  return ({ scraped, replicas }: { scraped: number | undefined; replicas: number }): number | undefined => {
    const value = scraped ?? (keda.emptyReads === 'zero' ? 0 : undefined);
    if (value !== undefined) {
      failures = 0;
      return value;
    }
    failures++;
    const fallback = keda.fallback;
    if (!fallback || failures <= fallback.failureThreshold) return undefined;
    const fallbackReplicas =
      fallback.behavior === 'currentReplicas'
        ? replicas
        : fallback.behavior === 'currentReplicasIfHigher'
          ? Math.max(replicas, fallback.replicas)
          : fallback.behavior === 'currentReplicasIfLower'
            ? Math.min(replicas, fallback.replicas)
            : fallback.replicas;
    return fallbackReplicas * w.target;
  };
}

export interface OutageRun {
  readonly steps: SimulationStep[];
  readonly lostAt: number;
  readonly backAt: number;
  readonly baselineRate: number;
}

/** One run: a 10× spike from SPIKE_START until the metric is back; the metric absent in [lostAt, backAt). */
export function simulateOutage(w: WorkerAutoscaling, lostAt: number): OutageRun {
  const { buildSeconds, cpuBusyPercent } = WORKLOAD[w.app];
  // Little's law: at a steady rate λ the backlog is λ × buildSeconds. Half the target at min pods:
  const baselineRate = (0.5 * w.target * w.settings.minReplicas) / buildSeconds;
  const backAt = lostAt + OUTAGE_SECONDS;
  const serveBacklog = w.keda
    ? kedaServe(w, w.keda)
    : ({ scraped }: { scraped: number | undefined }) => scraped ?? w.adapterServesWhenAbsent;
  const steps = simulateQueueAutoscaling({
    settings: w.settings,
    backlogMetric: w.backlogMetric,
    durationSeconds: backAt + AFTER_RETURN,
    initialBacklog: baselineRate * buildSeconds,
    backlogMissing: (t) => t >= lostAt && t < backAt,
    serveBacklog,
    model: queueModel({
      concurrency: w.concurrency,
      buildSeconds,
      cpuBusyPercent,
      arrivalRate: (t) => (t >= SPIKE_START && t < backAt ? SPIKE_FACTOR : 1) * baselineRate,
    }),
  });
  return { steps, lostAt, backAt, baselineRate };
}

export interface MissingMetricVerdict {
  readonly worker: WorkerAutoscaling;
  readonly midBacklog: OutageRun;
  readonly atStart: OutageRun;
  readonly problems: string[];
}

/**
 * The fewest replicas a worker may have while its metric is missing during a backlog: those it had
 * when the metric went (the HPA holds), or KEDA's fallback if lower; above its minimum in any case.
 */
export function outageFloor(w: WorkerAutoscaling, run: OutageRun): number {
  const atLoss = run.steps[run.lostAt].replicas;
  const fallback = w.keda?.fallback;
  return Math.max(w.settings.minReplicas + 1, fallback ? Math.min(atLoss, fallback.replicas) : atLoss);
}

/** Both runs for one worker, and what went wrong in them. */
export function judgeMissingMetric(w: WorkerAutoscaling): MissingMetricVerdict {
  const { minReplicas, maxReplicas } = w.settings;
  const id = `${describeDoc(w.doc)} (${w.app})`;
  const problems: string[] = [];
  const during = (run: OutageRun) => run.steps.filter((s) => s.t >= run.lostAt && s.t < run.backAt);

  const midBacklog = simulateOutage(w, SPIKE_START + LOST_AFTER);
  const atLoss = midBacklog.steps[midBacklog.lostAt].replicas;
  const fallback = w.keda?.fallback;
  const floor = outageFloor(w, midBacklog);
  const lowest = Math.min(...during(midBacklog).map((s) => s.replicas));
  if (lowest < floor)
    problems.push(
      `${id}: with the backlog metric missing for ${OUTAGE_SECONDS / 60} min during a backlog it scaled down from ${atLoss} to ${lowest} ` +
        `(minReplicas ${minReplicas}${fallback ? `, fallback ${fallback.replicas}` : ''})` +
        (w.keda?.emptyReads === 'zero'
          ? ': an empty result reads as 0 (ignoreNullValues must be "false")'
          : w.adapterServesWhenAbsent !== undefined
            ? `: the adapter rule serves ${w.adapterServesWhenAbsent} when the series are absent`
            : ''),
    );
  const last = midBacklog.steps[midBacklog.steps.length - 1];
  if (last.replicas !== minReplicas)
    problems.push(
      `${id}: ${AFTER_RETURN / 60} min after the metric came back and the backlog drained it still runs ${last.replicas} replicas` +
        `${last.replicas === maxReplicas ? ' (its maximum)' : ''}, not minReplicas ${minReplicas}: it never scales down`,
    );

  const atStart = simulateOutage(w, SPIKE_START);
  if (w.keda) {
    const highest = Math.max(...during(atStart).map((s) => s.replicas));
    if (highest <= minReplicas)
      problems.push(
        `${id}: the backlog metric went missing as a backlog started and the worker stayed at minReplicas ${minReplicas} for ${OUTAGE_SECONDS / 60} min` +
          (w.keda.fallback ? '' : ': no fallback'),
      );
    if (during(atStart).some((s) => s.replicas >= maxReplicas) && (w.keda.fallback?.replicas ?? 0) >= maxReplicas)
      problems.push(`${id}: while the metric was missing the fallback pinned the worker at its maximum ${maxReplicas}`);
  }
  return { worker: w, midBacklog, atStart, problems };
}
