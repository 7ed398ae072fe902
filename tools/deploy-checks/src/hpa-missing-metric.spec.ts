import { loadApplySets } from './lib/apply-sets';
import { WORKER_APPS } from './lib/app-facts';
import { adapterExternalRules } from './lib/k8s-checks';
import {
  judgeMissingMetric,
  OUTAGE_SECONDS,
  outageFloor,
  type OutageRun,
  workerAutoscaling,
} from './lib/hpa/missing-metric';
import { formatTimeline } from './lib/hpa/queue-simulation';

/**
 * The backlog metric vanishes during a backlog, for each worker and each autoscaler variant, with the
 * settings of the rendered manifests (lib/hpa/missing-metric.ts says what the controllers do then).
 * The same simulation runs as the `missing backlog metric` check on every apply set
 * (k8s-semantics.spec.ts); k8s-checks-catch.spec.ts shows it fails without the settings that protect it.
 */

const sets = loadApplySets();
const adapterRules = adapterExternalRules(sets.adapter);

const timeline = (title: string, run: OutageRun) =>
  formatTimeline(title, run.steps, run.lostAt, run.backAt, {
    [run.lostAt]: '  <- backlog metric gone',
    [run.backAt]: '  <- metric back, spike over',
  });

describe.each([
  ['HPA + prometheus-adapter (kubectl apply -f k8s)', sets.top],
  ['KEDA, Prometheus trigger (components/keda)', sets.keda],
  ['KEDA, Redis triggers (components/keda + keda-redis)', sets.kedaRedis],
] as const)('%s', (variant, set) => {
  const workers = workerAutoscaling(set, adapterRules);

  it('covers every worker', () => {
    expect(workers.map((w) => w.app).sort()).toEqual([...WORKER_APPS].sort());
  });

  describe.each(workers.map((w) => [w.app, w] as const))('%s', (app, w) => {
    const verdict = judgeMissingMetric(w);
    const { midBacklog, atStart } = verdict;
    const { minReplicas } = w.settings;
    const during = (run: OutageRun) => run.steps.filter((s) => s.t >= run.lostAt && s.t < run.backAt);

    beforeAll(() => {
      if (app !== 'feed-worker') return;
      console.log(
        [
          timeline(
            `${variant}, ${app}: the metric gone a minute into a 10x spike, for ${OUTAGE_SECONDS / 60} min`,
            midBacklog,
          ),
          timeline(`${variant}, ${app}: the metric gone as the spike starts`, atStart),
        ].join('\n'),
      );
    });

    it('the metric really goes missing: the HPA sees no backlog while it is gone', () => {
      const syncs = during(midBacklog).filter((s) => s.sync);
      expect(syncs.length).toBeGreaterThan(0);
      const first = syncs[0].sync!;
      expect(first.seenBacklog).toBeUndefined();
    });

    it('is not scaled to its minimum while the metric is missing during the backlog: it keeps its replicas, or the KEDA fallback', () => {
      const lowest = Math.min(...during(midBacklog).map((s) => s.replicas));
      expect(lowest).toBeGreaterThan(minReplicas);
      expect(lowest).toBeGreaterThanOrEqual(outageFloor(w, midBacklog));
    });

    it('is not stuck at its maximum afterwards: back to minReplicas once the metric is back and the backlog gone', () => {
      expect(midBacklog.steps[midBacklog.steps.length - 1].replicas).toBe(minReplicas);
      expect(atStart.steps[atStart.steps.length - 1].replicas).toBe(minReplicas);
    });

    if (w.keda) {
      it('KEDA: a worker at its minimum when the metric goes is lifted to fallback.replicas', () => {
        expect(Math.max(...during(atStart).map((s) => s.replicas))).toBeGreaterThanOrEqual(w.keda!.fallback!.replicas);
      });
    }

    it('the check reports no problem', () => {
      expect(verdict.problems).toEqual([]);
    });
  });
});
