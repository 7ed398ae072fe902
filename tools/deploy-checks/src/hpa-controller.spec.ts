import {
  HpaController,
  type HpaSettings,
  hpaSettingsFromManifest,
  type MetricSample,
  type ScalingRules,
} from './lib/hpa/hpa-controller';
import { parseQuantity } from './lib/hpa/quantity';

/**
 * The simulated controller against the behaviour Kubernetes documents for autoscaling/v2
 * ("Horizontal Pod Autoscaling": algorithm details, tolerance, stabilization window, scaling
 * policies, selectPolicy), so the spike simulation rests on the real arithmetic.
 */

const NO_LIMIT: ScalingRules = {
  stabilizationWindowSeconds: 0,
  selectPolicy: 'Max',
  policies: [{ type: 'Percent', value: 10_000, periodSeconds: 15 }],
};

function settings(overrides: Partial<HpaSettings> = {}): HpaSettings {
  return {
    name: 'test',
    minReplicas: 1,
    maxReplicas: 100,
    metrics: [{ type: 'External', name: 'backlog', selector: {}, averageValue: 10 }],
    scaleUp: NO_LIMIT,
    scaleDown: { ...NO_LIMIT, stabilizationWindowSeconds: 0 },
    ...overrides,
  };
}

const backlog = (total: number): MetricSample => ({ external: { backlog: total }, pods: [] });

describe('HPA controller: one metric', () => {
  it('External AverageValue: desired = ceil(total / target per pod)', () => {
    const hpa = new HpaController(settings());
    expect(hpa.reconcile(0, 3, backlog(100)).recommendation).toBe(10);
    expect(hpa.reconcile(15, 3, backlog(101)).desired).toBe(11);
  });

  it('keeps the current count within the 10% tolerance', () => {
    const hpa = new HpaController(settings());
    expect(hpa.reconcile(0, 3, backlog(32)).desired).toBe(3); // 32 / 30 = 1.067
    expect(hpa.reconcile(15, 3, backlog(28)).desired).toBe(3); // 0.933
    expect(hpa.reconcile(30, 3, backlog(34)).desired).toBe(4); // 1.133 → ceil(3.4)
    expect(hpa.reconcile(45, 4, backlog(5)).desired).toBe(1);
  });

  it('CPU Utilization: ceil(ratio × ready pods); pods not ready count as 0% when scaling up', () => {
    const cpu = settings({ metrics: [{ type: 'Resource', resource: 'cpu', averageUtilization: 60 }] });
    const pod = (ready: boolean, cpuPercent: number) => ({ ready, utilization: { cpu: cpuPercent } });
    expect(
      new HpaController(cpu).reconcile(0, 3, { external: {}, pods: [pod(true, 90), pod(true, 90), pod(true, 90)] })
        .desired,
    ).toBe(5);
    // ratio 1.5 over ready pods; with the unready one at 0%: 270 / 4 / 60 = 1.125 → ceil(4.5) = 5
    expect(
      new HpaController(cpu).reconcile(0, 4, {
        external: {},
        pods: [pod(true, 90), pod(true, 90), pod(true, 90), pod(false, 0)],
      }).desired,
    ).toBe(5);
    // ratio 1.05: within tolerance
    expect(new HpaController(cpu).reconcile(0, 2, { external: {}, pods: [pod(true, 63), pod(true, 63)] }).desired).toBe(
      2,
    );
  });

  it('takes the largest recommendation over several metrics', () => {
    const both = settings({
      metrics: [...settings().metrics, { type: 'Resource', resource: 'cpu', averageUtilization: 50 }],
    });
    const result = new HpaController(both).reconcile(0, 2, {
      external: { backlog: 30 },
      pods: [
        { ready: true, utilization: { cpu: 100 } },
        { ready: true, utilization: { cpu: 100 } },
      ],
    });
    expect(result.proposals).toEqual([3, 4]);
    expect(result.desired).toBe(4);
  });

  it('stays within minReplicas and maxReplicas', () => {
    const bounded = new HpaController(settings({ minReplicas: 2, maxReplicas: 5 }));
    expect(bounded.reconcile(0, 3, backlog(1000)).desired).toBe(5);
    expect(bounded.reconcile(15, 5, backlog(0)).desired).toBe(2);
    expect(new HpaController(settings({ maxReplicas: 5 })).reconcile(0, 8, backlog(0))).toMatchObject({
      desired: 5,
      reason: 'TooManyReplicas',
    });
  });
});

describe('HPA controller: a metric it cannot get (computeReplicasForMetrics)', () => {
  const cpu = settings({
    metrics: [...settings().metrics, { type: 'Resource', resource: 'cpu', averageUtilization: 50 }],
  });
  const pods = (n: number, cpuPercent: number) =>
    Array.from({ length: n }, () => ({ ready: true, utilization: { cpu: cpuPercent } }));

  it('every metric invalid: keeps the scale, ScalingActive false', () => {
    expect(new HpaController(settings()).reconcile(0, 6, { external: { backlog: undefined }, pods: [] })).toMatchObject(
      {
        desired: 6,
        scalingActive: false,
      },
    );
  });

  it('one invalid, the others would scale down: keeps the scale', () => {
    const result = new HpaController(cpu).reconcile(0, 6, { external: { backlog: undefined }, pods: pods(6, 10) });
    expect(result).toMatchObject({ desired: 6, scalingActive: false, proposals: [undefined, 2] });
  });

  it('one invalid, the others would scale up: scales up on them', () => {
    const result = new HpaController(cpu).reconcile(0, 4, { external: { backlog: undefined }, pods: pods(4, 100) });
    expect(result).toMatchObject({ desired: 8, scalingActive: true });
  });

  it('records nothing for the stabilization window while it cannot compute', () => {
    const hpa = new HpaController(settings({ scaleDown: { ...NO_LIMIT, stabilizationWindowSeconds: 300 } }));
    expect(hpa.reconcile(0, 10, backlog(100)).desired).toBe(10);
    for (let t = 15; t < 300; t += 15)
      expect(hpa.reconcile(t, 10, { external: { backlog: undefined }, pods: [] }).desired).toBe(10);
    // Only the recommendation of t = 0 is in the window; at t = 300 it has left it.
    expect(hpa.reconcile(300, 10, backlog(20)).desired).toBe(2);
  });
});

describe('HPA controller: scaling policies', () => {
  const up = (selectPolicy: ScalingRules['selectPolicy']): ScalingRules => ({
    stabilizationWindowSeconds: 0,
    selectPolicy,
    policies: [
      { type: 'Percent', value: 100, periodSeconds: 15 },
      { type: 'Pods', value: 4, periodSeconds: 15 },
    ],
  });

  it('Max: the policy allowing the largest change (+4 pods or +100% every 15 s)', () => {
    const hpa = new HpaController(settings({ scaleUp: up('Max') }));
    let replicas = 1;
    const seen: number[] = [];
    for (const t of [0, 15, 30, 45]) {
      replicas = hpa.reconcile(t, replicas, backlog(1000)).desired;
      seen.push(replicas);
    }
    expect(seen).toEqual([5, 10, 20, 40]); // 1+4, then doubling
  });

  it('Min: the policy allowing the smallest change', () => {
    const hpa = new HpaController(settings({ scaleUp: up('Min') }));
    expect(hpa.reconcile(0, 2, backlog(1000)).desired).toBe(4); // +100% = 4 < +4 pods = 6
    expect(hpa.reconcile(15, 4, backlog(1000)).desired).toBe(8); // +100% = 8, +4 = 8
    expect(hpa.reconcile(30, 8, backlog(1000)).desired).toBe(12); // +4 = 12 < 16
  });

  it('Disabled: never in that direction', () => {
    const hpa = new HpaController(settings({ scaleUp: { ...up('Max'), selectPolicy: 'Disabled' } }));
    expect(hpa.reconcile(0, 2, backlog(1000))).toMatchObject({ desired: 2, recommendation: 100 });
  });

  it('counts the changes already made within each policy period', () => {
    const hpa = new HpaController(
      settings({
        scaleUp: {
          stabilizationWindowSeconds: 0,
          selectPolicy: 'Max',
          policies: [{ type: 'Pods', value: 4, periodSeconds: 60 }],
        },
      }),
    );
    expect(hpa.reconcile(0, 2, backlog(1000)).desired).toBe(6);
    expect(hpa.reconcile(15, 6, backlog(1000)).desired).toBe(6); // the period started at 2: 2 + 4 already reached
    expect(hpa.reconcile(60, 6, backlog(1000)).desired).toBe(10); // the t=0 event is out of the period
  });

  it('scale-down: Percent 50 or Pods 4 per 60 s, Min = the smaller change', () => {
    const down: ScalingRules = {
      stabilizationWindowSeconds: 0,
      selectPolicy: 'Min',
      policies: [
        { type: 'Percent', value: 50, periodSeconds: 60 },
        { type: 'Pods', value: 4, periodSeconds: 60 },
      ],
    };
    const hpa = new HpaController(settings({ minReplicas: 1, scaleDown: down }));
    expect(hpa.reconcile(0, 12, backlog(0)).desired).toBe(8); // -50% → 6, -4 → 8: Min keeps 8
    expect(hpa.reconcile(15, 8, backlog(0)).desired).toBe(8); // period start 12: nothing more this minute
    expect(hpa.reconcile(60, 8, backlog(0)).desired).toBe(4); // -50% → 4, -4 → 4
    expect(
      new HpaController(settings({ minReplicas: 1, scaleDown: { ...down, selectPolicy: 'Max' } })).reconcile(
        0,
        12,
        backlog(0),
      ).desired,
    ).toBe(6);
  });
});

describe('HPA controller: stabilization windows', () => {
  it('scale-down uses the highest recommendation of the window', () => {
    const hpa = new HpaController(settings({ scaleDown: { ...NO_LIMIT, stabilizationWindowSeconds: 300 } }));
    expect(hpa.reconcile(0, 10, backlog(100)).desired).toBe(10);
    for (let t = 15; t < 300; t += 15) expect(hpa.reconcile(t, 10, backlog(20)).desired).toBe(10);
    // The window is (now - 300 s, now]: at t = 300 the recommendation of t = 0 has left it.
    expect(hpa.reconcile(300, 10, backlog(20)).desired).toBe(2);
  });

  it('scale-up uses the lowest recommendation of the window', () => {
    const hpa = new HpaController(settings({ scaleUp: { ...NO_LIMIT, stabilizationWindowSeconds: 60 } }));
    expect(hpa.reconcile(0, 2, backlog(20)).desired).toBe(2);
    expect(hpa.reconcile(15, 2, backlog(200)).desired).toBe(2);
    expect(hpa.reconcile(45, 2, backlog(200)).desired).toBe(2);
    expect(hpa.reconcile(60, 2, backlog(200)).desired).toBe(20); // only high recommendations left in (0, 60]
  });
});

describe('HPA settings from a manifest', () => {
  it('fills in the defaults the API server would', () => {
    const s = hpaSettingsFromManifest({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'x' },
      spec: {
        scaleTargetRef: { kind: 'Deployment', name: 'x' },
        maxReplicas: 5,
        behavior: { scaleDown: { stabilizationWindowSeconds: 60 } },
      },
    });
    expect(s).toMatchObject({
      minReplicas: 1,
      metrics: [{ type: 'Resource', resource: 'cpu', averageUtilization: 80 }],
      scaleUp: {
        stabilizationWindowSeconds: 0,
        selectPolicy: 'Max',
        policies: [
          { type: 'Pods', value: 4, periodSeconds: 15 },
          { type: 'Percent', value: 100, periodSeconds: 15 },
        ],
      },
      scaleDown: {
        stabilizationWindowSeconds: 60,
        selectPolicy: 'Max',
        policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
      },
    });
  });

  it('reads quantities', () => {
    expect(parseQuantity('12')).toBe(12);
    expect(parseQuantity('500m')).toBe(0.5);
    expect(parseQuantity('1.5k')).toBe(1500);
    expect(parseQuantity('2Gi')).toBe(2 * 2 ** 30);
    expect(() => parseQuantity('12 pods')).toThrow(/not a Kubernetes quantity/);
  });
});
