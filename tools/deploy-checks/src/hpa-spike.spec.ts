import { loadApplySets } from './lib/apply-sets';
import { WORKER_APPS, type WorkerApp } from './lib/app-facts';
import { deployments, effectiveEnv, hpas, literalEnv } from './lib/k8s-objects';
import { type HpaSettings, hpaSettingsFromManifest } from './lib/hpa/hpa-controller';
import {
  formatTimeline,
  type QueueModel,
  type SimulationStep,
  simulateQueueAutoscaling,
} from './lib/hpa/queue-simulation';
import { POD_STARTUP_SECONDS, queueModel, WORKLOAD } from './lib/hpa/workload';

/**
 * A 10× backlog spike against each worker's own HPA, with the settings read from
 * k8s/61-hpa-workers.yaml and the pod's WORKER_CONCURRENCY from its Deployment: nothing about the
 * autoscaler is copied into this file. What is assumed (the workload, not the manifests) is listed in
 * WORKLOAD and in docs/deploy.md:
 *
 * - a job takes `buildSeconds` (lib/hpa/workload.ts, with the scrape, sync and pod start-up times);
 * - before the spike, jobs arrive at the rate that keeps minReplicas pods at half their backlog
 *   target; the spike multiplies the arrival rate by 10 for 10 minutes.
 */

const SPIKE_FACTOR = 10;
const SPIKE_START = 120;
const SPIKE_SECONDS = 600;
const SPIKE_END = SPIKE_START + SPIKE_SECONDS;
const DURATION = 2100;

const sets = loadApplySets();

interface Scenario {
  readonly app: WorkerApp;
  readonly settings: HpaSettings;
  readonly concurrency: number;
  readonly target: number;
  readonly baselineRate: number;
  readonly model: QueueModel;
}

function scenario(app: WorkerApp, tweak: (s: HpaSettings) => HpaSettings = (s) => s): Scenario {
  const hpa = hpas(sets.top).find(({ obj }) => obj.spec?.scaleTargetRef.name === app);
  if (!hpa) throw new Error(`no HPA for ${app}`);
  const settings = tweak(hpaSettingsFromManifest(hpa.obj));
  const deployment = deployments(sets.top).find(({ obj }) => obj.metadata?.name === app)!.obj;
  const concurrency = Number(
    literalEnv(effectiveEnv(deployment.spec!.template.spec!.containers[0], sets.top), 'WORKER_CONCURRENCY'),
  );
  const backlogMetric = settings.metrics.find((m) => m.type === 'External');
  if (!backlogMetric || backlogMetric.type !== 'External') throw new Error(`${app}: no backlog metric`);
  const { buildSeconds, cpuBusyPercent } = WORKLOAD[app];
  // Little's law: at a steady rate λ the backlog is λ × buildSeconds. Half the target at min pods:
  const baselineRate = (0.5 * backlogMetric.averageValue * settings.minReplicas) / buildSeconds;
  return {
    app,
    settings,
    concurrency,
    target: backlogMetric.averageValue,
    baselineRate,
    model: queueModel({
      concurrency,
      buildSeconds,
      cpuBusyPercent,
      arrivalRate: (t) => (t >= SPIKE_START && t < SPIKE_END ? SPIKE_FACTOR : 1) * baselineRate,
    }),
  };
}

function run(s: Scenario): SimulationStep[] {
  const metric = s.settings.metrics.find((m) => m.type === 'External');
  return simulateQueueAutoscaling({
    settings: s.settings,
    model: s.model,
    durationSeconds: DURATION,
    backlogMetric: metric?.type === 'External' ? metric.name : '',
    initialBacklog: s.baselineRate * s.model.buildSeconds,
  });
}

interface Summary {
  readonly app: string;
  readonly keepUp: number;
  readonly atTarget: number;
  readonly firstScaleUp: number;
  readonly reachedKeepUp: number;
  readonly peakReplicas: number;
  readonly peakWaiting: number;
  /** The longest a job waited for a build slot (waiting jobs / throughput of the ready pods). */
  readonly worstDelay: number;
  readonly drained: number;
  readonly firstScaleDownAfterSpike: number;
  readonly backToMin: number;
}

function summarize(s: Scenario, steps: readonly SimulationStep[]): Summary {
  const spikeRate = SPIKE_FACTOR * s.baselineRate;
  const keepUp = Math.ceil((spikeRate * s.model.buildSeconds) / s.concurrency);
  const atTarget = Math.min(s.settings.maxReplicas, Math.ceil((spikeRate * s.model.buildSeconds) / s.target));
  const after = (t: number) => steps.filter((x) => x.t >= t);
  const peak = steps.reduce((best, x) => (x.waiting > best.waiting ? x : best), steps[0]);
  const find = (list: readonly SimulationStep[], p: (x: SimulationStep) => boolean) => list.find(p)?.t ?? Infinity;
  return {
    app: s.app,
    keepUp,
    atTarget,
    firstScaleUp: find(after(SPIKE_START), (x) => x.replicas > s.settings.minReplicas) - SPIKE_START,
    reachedKeepUp: find(after(SPIKE_START), (x) => x.readyPods >= keepUp) - SPIKE_START,
    peakReplicas: Math.max(...steps.map((x) => x.replicas)),
    peakWaiting: Math.round(peak.waiting),
    worstDelay: Math.round(longestWait(steps, s.baselineRate * s.model.buildSeconds)),
    drained: find(after(peak.t), (x) => x.waiting < 0.5) - SPIKE_START,
    firstScaleDownAfterSpike: find(after(SPIKE_END), (x) => x.replicas < steps[SPIKE_END].replicas) - SPIKE_END,
    backToMin: find(after(SPIKE_END), (x) => x.replicas === s.settings.minReplicas) - SPIKE_END,
  };
}

/** First in, first out: how long the job that arrived at t waited until it was done, at worst. */
function longestWait(steps: readonly SimulationStep[], initialBacklog: number): number {
  let arrived = initialBacklog;
  let done = 0;
  const cumArrived: number[] = [];
  const cumDone: number[] = [];
  for (const x of steps) {
    arrived += x.arrivalRate;
    done += x.throughput;
    cumArrived.push(arrived);
    cumDone.push(done);
  }
  let worst = 0;
  let j = 0;
  for (let i = 0; i < steps.length; i++) {
    while (j < steps.length && cumDone[j] < cumArrived[i] - 1) j++;
    if (j < steps.length) worst = Math.max(worst, j - i);
  }
  return worst;
}

const summaries: Summary[] = [];

describe.each(WORKER_APPS)('%s: a 10× backlog spike against its own HPA (k8s/61-hpa-workers.yaml)', (app) => {
  const s = scenario(app);
  const steps = run(s);
  const summary = summarize(s, steps);
  summaries.push(summary);
  const { minReplicas, maxReplicas, scaleDown } = s.settings;

  beforeAll(() => {
    console.log(
      [
        `${app}: HPA min ${minReplicas} max ${maxReplicas}, backlog target ${s.target}/pod, WORKER_CONCURRENCY ${s.concurrency}, ` +
          `build ${s.model.buildSeconds} s → ${(s.concurrency / s.model.buildSeconds).toFixed(1)} jobs/s per pod; ` +
          `arrivals ${s.baselineRate.toFixed(1)}/s, ${SPIKE_FACTOR}× = ${(SPIKE_FACTOR * s.baselineRate).toFixed(1)}/s from t=${SPIKE_START} to t=${SPIKE_END} s`,
        formatTimeline(
          `${app} timeline (new pods ready ${POD_STARTUP_SECONDS} s after the HPA adds them):`,
          steps,
          SPIKE_START,
          SPIKE_END,
        ),
        `${app} summary: first scale-up ${summary.firstScaleUp} s after the spike; ${summary.keepUp} ready pods (enough to keep up) after ${summary.reachedKeepUp} s; ` +
          `peak ${summary.peakReplicas} replicas, ${summary.peakWaiting} jobs waiting (the longest a job waited: ~${summary.worstDelay} s); backlog drained ${summary.drained} s after the spike started; ` +
          `first scale-down ${summary.firstScaleDownAfterSpike} s after the spike ended; back to ${minReplicas} replicas after ${summary.backToMin} s`,
      ].join('\n'),
    );
  });

  it('holds minReplicas while the load is steady', () => {
    expect(steps.filter((x) => x.t < SPIKE_START).every((x) => x.replicas === minReplicas)).toBe(true);
  });

  it('scales up within two metric/sync periods of the spike', () => {
    expect(summary.firstScaleUp).toBeLessThanOrEqual(30);
  });

  it('has enough ready pods to keep up within 90 s', () => {
    expect(summary.keepUp).toBeGreaterThan(minReplicas);
    expect(summary.reachedKeepUp).toBeLessThanOrEqual(90);
  });

  it('drains the backlog built up meanwhile within 3 minutes, and never drops below what keeps up during the spike', () => {
    expect(summary.drained).toBeLessThanOrEqual(180);
    const duringSpike = steps.filter((x) => x.t >= SPIKE_START + summary.drained && x.t < SPIKE_END);
    expect(Math.min(...duringSpike.map((x) => x.replicas))).toBeGreaterThanOrEqual(summary.keepUp);
    expect(
      steps.filter((x) => x.t > SPIKE_START + summary.drained && x.t < SPIKE_END).every((x) => x.waiting < 1),
    ).toBe(true);
  });

  it('stays within minReplicas..maxReplicas', () => {
    expect(Math.max(...steps.map((x) => x.replicas))).toBeLessThanOrEqual(maxReplicas);
    expect(Math.min(...steps.map((x) => x.replicas))).toBeGreaterThanOrEqual(minReplicas);
  });

  it('scales down only after a full stabilization window without a higher recommendation', () => {
    expect(summary.firstScaleDownAfterSpike).toBeGreaterThanOrEqual(scaleDown.stabilizationWindowSeconds);
    steps.forEach((x, i) => {
      if (i === 0 || x.replicas >= steps[i - 1].replicas) return;
      const window = steps.filter((y) => y.sync && y.t > x.t - scaleDown.stabilizationWindowSeconds && y.t <= x.t);
      expect({ t: x.t, highest: Math.max(...window.map((y) => y.sync!.recommendation)) }).toEqual({
        t: x.t,
        highest: expect.any(Number),
      });
      expect(Math.max(...window.map((y) => y.sync!.recommendation))).toBeLessThanOrEqual(x.replicas);
    });
  });

  it('scales down no faster than its scale-down policies allow, back to minReplicas', () => {
    for (const x of steps.filter((y) => y.t >= SPIKE_END)) {
      const limits = scaleDown.policies.map((p) => {
        const start = steps[Math.max(0, x.t - p.periodSeconds)].replicas;
        return p.type === 'Pods' ? start - p.value : Math.trunc(start * (1 - p.value / 100));
      });
      const bound = scaleDown.selectPolicy === 'Min' ? Math.max(...limits) : Math.min(...limits);
      expect({ t: x.t, replicas: Math.max(x.replicas, bound) }).toEqual({ t: x.t, replicas: x.replicas });
    }
    expect(steps[steps.length - 1].replicas).toBe(minReplicas);
  });

  it("is driven by the manifest's settings: a shorter window scales down earlier", () => {
    const halved = scenario(app, (x) => ({
      ...x,
      scaleDown: { ...x.scaleDown, stabilizationWindowSeconds: x.scaleDown.stabilizationWindowSeconds / 2 },
    }));
    const earlier = summarize(halved, run(halved));
    expect(earlier.firstScaleDownAfterSpike).toBeLessThan(summary.firstScaleDownAfterSpike);
    expect(summary.firstScaleDownAfterSpike - earlier.firstScaleDownAfterSpike).toBeGreaterThanOrEqual(
      scaleDown.stabilizationWindowSeconds / 2 - 15,
    );
  });
});

afterAll(() => {
  const rows = summaries.map(
    (x) =>
      `| ${x.app} | ${x.firstScaleUp} s | ${x.keepUp} pods at ${x.reachedKeepUp} s | ${x.peakReplicas} | ${x.peakWaiting} (~${x.worstDelay} s) | ${x.drained} s | +${x.firstScaleDownAfterSpike} s | +${x.backToMin} s |`,
  );
  console.log(
    [
      '| worker | first scale-up | enough pods to keep up | peak replicas | peak waiting jobs (longest wait) | backlog drained | first scale-down after the spike | back to min after the spike |',
      '|---|---|---|---|---|---|---|---|',
      ...rows,
    ].join('\n'),
  );
});
