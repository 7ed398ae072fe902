import { HpaController, type HpaSettings, type MetricSample, type ReconcileResult } from './hpa-controller';

/**
 * A worker Deployment under an HPA, fed by a Bull queue, second by second.
 *
 * The queue is a fluid model: jobs arrive at `arrivalRate(t)` per second; a ready pod runs up to
 * `concurrency` builds at once, each taking `buildSeconds`, so the backlog B (waiting + active, the
 * autoscaling signal) drains at min(B, readyPods × concurrency) / buildSeconds per second, i.e. each
 * pod drains up to concurrency / buildSeconds jobs/s. Prometheus scrapes every `scrapeIntervalSeconds`
 * and the HPA reads the last scrape at each sync (`syncPeriodSeconds`, 15 s); a pod added by a scale-up
 * takes `podStartupSeconds` to become ready; a pod removed by a scale-down stops taking jobs at once.
 * CPU per pod is `cpuIdlePercent + busy slots / concurrency × cpuBusyPercent` of its request.
 */

export interface QueueModel {
  readonly concurrency: number;
  readonly buildSeconds: number;
  readonly arrivalRate: (t: number) => number;
  readonly podStartupSeconds: number;
  readonly scrapeIntervalSeconds: number;
  readonly syncPeriodSeconds: number;
  /** Seconds after each scrape at which the HPA syncs (the two clocks are not aligned). */
  readonly syncOffsetSeconds: number;
  readonly cpuIdlePercent: number;
  readonly cpuBusyPercent: number;
}

export interface SimulationStep {
  readonly t: number;
  readonly arrivalRate: number;
  /** Waiting + active jobs at this second. */
  readonly backlog: number;
  readonly waiting: number;
  /** Jobs completed per second at this moment. */
  readonly throughput: number;
  /** The scale's replicas (pods created, ready or not). */
  readonly replicas: number;
  readonly readyPods: number;
  /** Set at the seconds the HPA synced; seenBacklog is undefined when the HPA could not get the metric. */
  readonly sync?: ReconcileResult & { readonly seenBacklog: number | undefined };
}

export interface SimulationOptions {
  readonly settings: HpaSettings;
  readonly model: QueueModel;
  readonly durationSeconds: number;
  /** Name of the External metric the model's backlog feeds. */
  readonly backlogMetric: string;
  readonly initialReplicas?: number;
  readonly initialBacklog?: number;
  /**
   * What the HPA gets for the backlog metric at a sync, from the last scrape (`scraped`, undefined
   * while Prometheus has no series for it): the metrics adapter or KEDA in between. By default the
   * scraped value itself.
   */
  readonly serveBacklog?: (sync: { t: number; scraped: number | undefined; replicas: number }) => number | undefined;
  /** Seconds at which Prometheus has no backlog series (the exporter's scrape fails, the series went away). */
  readonly backlogMissing?: (t: number) => boolean;
}

export function simulateQueueAutoscaling(options: SimulationOptions): SimulationStep[] {
  const { settings, model, durationSeconds, backlogMetric } = options;
  const hpa = new HpaController(settings);
  // Ready times of the pods, oldest first; new pods are appended, scale-down removes the newest.
  let pods: number[] = Array<number>(options.initialReplicas ?? settings.minReplicas).fill(-Infinity);
  let backlog = options.initialBacklog ?? 0;
  let scraped: { backlog: number | undefined; pods: MetricSample['pods'] } = { backlog, pods: [] };
  const serve = options.serveBacklog ?? ((sync) => sync.scraped);
  const steps: SimulationStep[] = [];
  // Integrate the queue finely: a build may be much shorter than a second.
  const substeps = Math.max(10, Math.ceil(4 / model.buildSeconds));
  const dt = 1 / substeps;

  for (let t = 0; t <= durationSeconds; t++) {
    const readyPods = pods.filter((readyAt) => readyAt <= t).length;
    const capacity = readyPods * model.concurrency;

    if (t % model.scrapeIntervalSeconds === 0) {
      const busy = Math.min(backlog, capacity);
      const perPodCpu = model.cpuIdlePercent + (capacity > 0 ? busy / capacity : 0) * model.cpuBusyPercent;
      scraped = {
        // Bull's counts are whole jobs.
        backlog: options.backlogMissing?.(t) ? undefined : Math.round(backlog),
        pods: pods.map((readyAt) => ({
          ready: readyAt <= t,
          utilization: { cpu: readyAt <= t ? perPodCpu : model.cpuIdlePercent },
        })),
      };
    }

    let sync: SimulationStep['sync'];
    if (t % model.syncPeriodSeconds === model.syncOffsetSeconds) {
      const served = serve({ t, scraped: scraped.backlog, replicas: pods.length });
      const result = hpa.reconcile(t, pods.length, { external: { [backlogMetric]: served }, pods: scraped.pods });
      sync = { ...result, seenBacklog: served };
      if (result.desired > pods.length) {
        pods = [...pods, ...Array<number>(result.desired - pods.length).fill(t + model.podStartupSeconds)];
      } else if (result.desired < pods.length) {
        // The ReplicaSet deletes pods that are not ready first, then the newest.
        const sorted = [...pods].sort((a, b) => a - b);
        pods = sorted.slice(0, result.desired);
      }
    }

    const arrivalRate = model.arrivalRate(t);
    let completed = 0;
    for (let i = 0; i < substeps; i++) {
      const done = (Math.min(backlog, capacity) / model.buildSeconds) * dt;
      backlog = Math.max(0, backlog + arrivalRate * dt - done);
      completed += done;
    }
    steps.push({
      t,
      arrivalRate,
      backlog,
      waiting: Math.max(0, backlog - capacity),
      throughput: completed,
      replicas: pods.length,
      readyPods,
      sync,
    });
  }
  return steps;
}

/** A compact, quotable timeline: every sync that changed something, and one line a minute. */
export function formatTimeline(
  title: string,
  steps: readonly SimulationStep[],
  spikeStart: number,
  spikeEnd: number,
  marks: Readonly<Record<number, string>> = {
    [spikeStart]: '  <- spike starts (10x arrivals)',
    [spikeEnd]: '  <- spike ends',
  },
): string {
  // Past the last change, one line a minute adds nothing.
  const lastChange = steps.reduce(
    (last, s, i) =>
      i > 0 && (s.replicas !== steps[i - 1].replicas || s.readyPods !== steps[i - 1].readyPods) ? s.t : last,
    0,
  );
  const rows = [
    title,
    '    t(s)  arrivals/s  backlog  waiting  HPA sees  recommends  replicas  ready',
    ...steps
      .filter((s, i) => {
        const changed = i > 0 && (s.replicas !== steps[i - 1].replicas || s.readyPods !== steps[i - 1].readyPods);
        return changed || s.t in marks || (s.t % 60 === 0 && s.t <= lastChange + 60);
      })
      .map((s) => {
        const mark = marks[s.t] ?? '';
        return (
          [
            String(s.t).padStart(8),
            s.arrivalRate.toFixed(1).padStart(11),
            Math.round(s.backlog).toString().padStart(8),
            Math.round(s.waiting).toString().padStart(8),
            (s.sync ? String(s.sync.seenBacklog ?? 'none') : '').padStart(9),
            (s.sync ? String(s.sync.recommendation) : '').padStart(11),
            String(s.replicas).padStart(9),
            String(s.readyPods).padStart(6),
          ].join(' ') + mark
        );
      }),
  ];
  return rows.join('\n');
}
