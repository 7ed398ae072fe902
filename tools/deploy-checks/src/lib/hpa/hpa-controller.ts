import type { IScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IHPAScalingRules } from 'kubernetes-models/autoscaling/v2/HPAScalingRules';
import { parseQuantity } from './quantity';

/**
 * The HorizontalPodAutoscaler controller's arithmetic (autoscaling/v2), as Kubernetes documents and
 * implements it (pkg/controller/podautoscaler: horizontal.go, replica_calculator.go):
 *
 * - per metric: External AverageValue → ceil(total / targetAverageValue), unless
 *   |total / (target × currentReplicas) − 1| ≤ tolerance (0.1); Resource Utilization → ceil(ratio ×
 *   ready pods) with the same tolerance, not-yet-ready pods counted as 0% when scaling up;
 * - the recommendation is the largest over the metrics;
 * - stabilization: the recommendation is held between the lowest recommendation of the scale-up
 *   window and the highest of the scale-down window (so a scale-down uses the highest recommendation
 *   of the last stabilizationWindowSeconds), every raw recommendation being recorded with its time;
 * - rate limits: each policy allows `value` Pods or Percent per `periodSeconds`, counted from the
 *   replicas at the start of that period (past scale events); selectPolicy Max takes the policy that
 *   allows the largest change, Min the smallest, Disabled none;
 * - the result is kept within [minReplicas, maxReplicas];
 * - a metric the controller cannot get (an External metric the adapter serves no series for, an
 *   error from KEDA's metrics server) is invalid (computeReplicasForMetrics): the recommendation is
 *   the largest over the valid metrics, but when every metric is invalid, or some are and the valid
 *   ones would scale down, the HPA sets ScalingActive=False and leaves the scale as it is; nothing
 *   enters the stabilization history then (reconcileAutoscaler returns before it).
 *
 * Time is in seconds; the caller runs `reconcile` once per sync period (15 s by default).
 */

export type SelectPolicy = 'Max' | 'Min' | 'Disabled';

export interface ScalingPolicy {
  readonly type: 'Pods' | 'Percent';
  readonly value: number;
  readonly periodSeconds: number;
}

export interface ScalingRules {
  readonly stabilizationWindowSeconds: number;
  readonly selectPolicy: SelectPolicy;
  readonly policies: readonly ScalingPolicy[];
}

export type MetricTarget =
  /** An External metric with target type AverageValue: total over the series / pods. */
  | {
      readonly type: 'External';
      readonly name: string;
      readonly selector: Readonly<Record<string, string>>;
      readonly averageValue: number;
    }
  /** A Resource metric with target type Utilization (percent of the pods' requests). */
  | { readonly type: 'Resource'; readonly resource: string; readonly averageUtilization: number };

export interface HpaSettings {
  readonly name: string;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly metrics: readonly MetricTarget[];
  readonly scaleUp: ScalingRules;
  readonly scaleDown: ScalingRules;
}

/** What the metrics pipeline reports at a sync. */
export interface MetricSample {
  /** External metrics by name: the sum over the matching series; undefined when the HPA cannot get it. */
  readonly external: Readonly<Record<string, number | undefined>>;
  /** Per pod: ready or not, and its usage in percent of its request, per resource. */
  readonly pods: ReadonlyArray<{ readonly ready: boolean; readonly utilization: Readonly<Record<string, number>> }>;
}

export const DEFAULT_TOLERANCE = 0.1;
/** --horizontal-pod-autoscaler-downscale-stabilization, used when scaleDown sets no window. */
export const DEFAULT_DOWNSCALE_STABILIZATION_SECONDS = 300;

// Defaults the API server fills into a v2 HPA's behavior (pkg/apis/autoscaling/v2/defaults.go).
const DEFAULT_SCALE_UP: ScalingRules = {
  stabilizationWindowSeconds: 0,
  selectPolicy: 'Max',
  policies: [
    { type: 'Pods', value: 4, periodSeconds: 15 },
    { type: 'Percent', value: 100, periodSeconds: 15 },
  ],
};
const DEFAULT_SCALE_DOWN: ScalingRules = {
  stabilizationWindowSeconds: DEFAULT_DOWNSCALE_STABILIZATION_SECONDS,
  selectPolicy: 'Max',
  policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
};

function rules(given: IHPAScalingRules | undefined, defaults: ScalingRules): ScalingRules {
  return {
    stabilizationWindowSeconds: given?.stabilizationWindowSeconds ?? defaults.stabilizationWindowSeconds,
    selectPolicy: (given?.selectPolicy as SelectPolicy | undefined) ?? defaults.selectPolicy,
    policies: given?.policies?.length
      ? given.policies.map((p) => ({
          type: p.type as ScalingPolicy['type'],
          value: p.value,
          periodSeconds: p.periodSeconds,
        }))
      : defaults.policies,
  };
}

/** The settings of an autoscaling/v2 HPA manifest, with the API server's defaults filled in. */
export function hpaSettingsFromManifest(hpa: IHorizontalPodAutoscaler): HpaSettings {
  const spec = hpa.spec;
  if (!spec) throw new Error(`HPA ${hpa.metadata?.name} has no spec`);
  const metrics: MetricTarget[] = (spec.metrics ?? []).map((metric) => {
    if (
      metric.type === 'External' &&
      metric.external?.target.type === 'AverageValue' &&
      metric.external.target.averageValue !== undefined
    ) {
      return {
        type: 'External',
        name: metric.external.metric.name,
        selector: metric.external.metric.selector?.matchLabels ?? {},
        averageValue: parseQuantity(metric.external.target.averageValue),
      };
    }
    if (
      metric.type === 'Resource' &&
      metric.resource?.target.type === 'Utilization' &&
      metric.resource.target.averageUtilization !== undefined
    ) {
      return {
        type: 'Resource',
        resource: metric.resource.name,
        averageUtilization: metric.resource.target.averageUtilization,
      };
    }
    throw new Error(`HPA ${hpa.metadata?.name}: metric ${JSON.stringify(metric)} is not modelled by the simulation`);
  });
  return {
    name: hpa.metadata?.name ?? '(no name)',
    minReplicas: spec.minReplicas ?? 1,
    maxReplicas: spec.maxReplicas,
    metrics: metrics.length ? metrics : [{ type: 'Resource', resource: 'cpu', averageUtilization: 80 }],
    scaleUp: rules(spec.behavior?.scaleUp, DEFAULT_SCALE_UP),
    scaleDown: rules(spec.behavior?.scaleDown, DEFAULT_SCALE_DOWN),
  };
}

/**
 * The HPA KEDA creates for a ScaledObject: its triggers become External AverageValue metrics
 * (prometheus: threshold) or Resource Utilization metrics (cpu/memory: value), with its behavior.
 */
export function hpaSettingsFromScaledObject(so: IScaledObject): HpaSettings {
  const behavior = so.spec.advanced?.horizontalPodAutoscalerConfig?.behavior;
  // With scalingModifiers KEDA hands the HPA one External metric, the formula over the triggers, with
  // the modifiers' target; cpu and memory triggers stay Resource metrics of their own.
  const modifiers = (
    so.spec.advanced as unknown as { scalingModifiers?: { formula?: string; target?: string } } | undefined
  )?.scalingModifiers;
  const triggers = modifiers
    ? [
        { type: 'composite', name: 'composite-metric', metadata: { threshold: modifiers.target ?? '' } },
        ...so.spec.triggers.filter((t) => t.type === 'cpu' || t.type === 'memory'),
      ]
    : so.spec.triggers;
  const metrics: MetricTarget[] = triggers.map((trigger: (typeof so.spec.triggers)[number]) => {
    if (trigger.type === 'cpu' || trigger.type === 'memory') {
      return { type: 'Resource', resource: trigger.type, averageUtilization: Number(trigger.metadata['value']) };
    }
    if ((trigger.metricType ?? 'AverageValue') !== 'AverageValue') {
      throw new Error(
        `ScaledObject ${so.metadata?.name}: trigger ${trigger.type} with metricType ${trigger.metricType} is not modelled`,
      );
    }
    const threshold =
      trigger.metadata['threshold'] ?? trigger.metadata['listLength'] ?? trigger.metadata['targetValue'];
    return {
      type: 'External',
      name: `s-${trigger.name ?? trigger.type}`,
      selector: {},
      averageValue: parseQuantity(threshold ?? '5'),
    };
  });
  return {
    name: so.metadata?.name ?? '(no name)',
    minReplicas: so.spec.minReplicaCount ?? 0,
    maxReplicas: so.spec.maxReplicaCount ?? 100,
    metrics,
    scaleUp: rules(behavior?.scaleUp as IHPAScalingRules | undefined, DEFAULT_SCALE_UP),
    scaleDown: rules(behavior?.scaleDown as IHPAScalingRules | undefined, DEFAULT_SCALE_DOWN),
  };
}

interface TimedValue {
  readonly at: number;
  readonly value: number;
}

export interface ReconcileResult {
  /** The replicas the controller sets (may equal the current count). */
  readonly desired: number;
  /** The raw recommendation from the metrics, before stabilization and rate limits. */
  readonly recommendation: number;
  /** Per metric proposal, in the order of `settings.metrics`; undefined for a metric it could not get. */
  readonly proposals: ReadonlyArray<number | undefined>;
  readonly reason: string;
  /** The HPA's ScalingActive condition: false when it could not compute a replica count. */
  readonly scalingActive: boolean;
}

export class HpaController {
  private readonly recommendations: TimedValue[] = [];
  private readonly scaleUpEvents: TimedValue[] = [];
  private readonly scaleDownEvents: TimedValue[] = [];

  constructor(
    readonly settings: HpaSettings,
    private readonly tolerance = DEFAULT_TOLERANCE,
  ) {
    if (settings.minReplicas > settings.maxReplicas) throw new Error(`${settings.name}: minReplicas > maxReplicas`);
  }

  /** One sync of the controller at time `now` (seconds) with `currentReplicas` = the scale's replicas. */
  reconcile(now: number, currentReplicas: number, sample: MetricSample): ReconcileResult {
    const { minReplicas, maxReplicas } = this.settings;
    if (currentReplicas === 0 && minReplicas !== 0) {
      return { desired: 0, recommendation: 0, proposals: [], reason: 'ScalingDisabled', scalingActive: false };
    }
    const proposals = this.settings.metrics.map((metric) => this.proposal(metric, currentReplicas, sample));
    const valid = proposals.filter((p): p is number => p !== undefined);
    const recommendation = valid.length ? Math.max(...valid) : currentReplicas;
    let desired: number;
    let reason: string;
    if (currentReplicas > maxReplicas) {
      desired = maxReplicas;
      reason = 'TooManyReplicas';
    } else if (currentReplicas < minReplicas) {
      desired = minReplicas;
      reason = 'TooFewReplicas';
    } else if (valid.length === 0 || (valid.length < proposals.length && recommendation < currentReplicas)) {
      // computeReplicasForMetrics: every metric invalid, or some are and the rest would scale down.
      return {
        desired: currentReplicas,
        recommendation,
        proposals,
        reason: 'FailedGetExternalMetric',
        scalingActive: false,
      };
    } else {
      const stabilized = this.stabilize(now, currentReplicas, recommendation);
      [desired, reason] = this.limitRate(now, currentReplicas, stabilized);
    }
    if (desired !== currentReplicas) this.recordScaleEvent(now, currentReplicas, desired);
    return { desired, recommendation, proposals, reason, scalingActive: true };
  }

  private proposal(metric: MetricTarget, currentReplicas: number, sample: MetricSample): number | undefined {
    if (metric.type === 'External') {
      if (!(metric.name in sample.external)) throw new Error(`no sample for external metric ${metric.name}`);
      const total = sample.external[metric.name];
      if (total === undefined) return undefined;
      // GetExternalPerPodMetricReplicas
      const usageRatio = total / (metric.averageValue * currentReplicas);
      if (Math.abs(1 - usageRatio) <= this.tolerance) return currentReplicas;
      return Math.ceil(total / metric.averageValue);
    }
    return this.resourceProposal(metric.resource, metric.averageUtilization, currentReplicas, sample);
  }

  /** GetResourceReplicas, without the missing-metrics case (every pod in the sample reports). */
  private resourceProposal(resource: string, target: number, currentReplicas: number, sample: MetricSample): number {
    const ready = sample.pods.filter((p) => p.ready).map((p) => p.utilization[resource] ?? 0);
    const unready = sample.pods.filter((p) => !p.ready).length;
    if (ready.length === 0) return currentReplicas;
    const usageRatio = ready.reduce((a, b) => a + b, 0) / ready.length / target;
    const scaleUpWithUnready = unready > 0 && usageRatio > 1;
    if (!scaleUpWithUnready) {
      if (Math.abs(1 - usageRatio) <= this.tolerance) return currentReplicas;
      return Math.ceil(usageRatio * ready.length);
    }
    // Pods not yet ready count as using nothing, so a scale-up is not overestimated.
    const all = [...ready, ...Array<number>(unready).fill(0)];
    const newUsageRatio = all.reduce((a, b) => a + b, 0) / all.length / target;
    if (Math.abs(1 - newUsageRatio) <= this.tolerance || newUsageRatio < 1) return currentReplicas;
    const proposed = Math.ceil(newUsageRatio * all.length);
    return proposed < currentReplicas ? currentReplicas : proposed;
  }

  /** stabilizeRecommendationWithBehaviors */
  private stabilize(now: number, currentReplicas: number, recommendation: number): number {
    const upCutoff = now - this.settings.scaleUp.stabilizationWindowSeconds;
    const downCutoff = now - this.settings.scaleDown.stabilizationWindowSeconds;
    let upRecommendation = recommendation;
    let downRecommendation = recommendation;
    for (const rec of this.recommendations) {
      if (rec.at > upCutoff) upRecommendation = Math.min(rec.value, upRecommendation);
      if (rec.at > downCutoff) downRecommendation = Math.max(rec.value, downRecommendation);
    }
    let stabilized = currentReplicas;
    if (stabilized < upRecommendation) stabilized = upRecommendation;
    if (stabilized > downRecommendation) stabilized = downRecommendation;
    // Keep what any window still needs; older samples can go.
    const keepAfter = Math.min(upCutoff, downCutoff);
    for (let i = this.recommendations.length - 1; i >= 0; i--) {
      if (this.recommendations[i].at <= keepAfter) this.recommendations.splice(i, 1);
    }
    this.recommendations.push({ at: now, value: recommendation });
    return stabilized;
  }

  /** convertDesiredReplicasWithBehaviorRate */
  private limitRate(now: number, currentReplicas: number, desired: number): [number, string] {
    const { minReplicas, maxReplicas, scaleUp, scaleDown } = this.settings;
    if (desired > currentReplicas) {
      const limit = Math.max(this.scaleUpLimit(now, currentReplicas, scaleUp), currentReplicas);
      const allowed = Math.min(maxReplicas, limit);
      if (desired > allowed) return [allowed, limit < maxReplicas ? 'ScaleUpLimit' : 'TooManyReplicas'];
    } else if (desired < currentReplicas) {
      const limit = Math.min(this.scaleDownLimit(now, currentReplicas, scaleDown), currentReplicas);
      const allowed = Math.max(minReplicas, limit);
      if (desired < allowed) return [allowed, limit > minReplicas ? 'ScaleDownLimit' : 'TooFewReplicas'];
    }
    return [desired, 'DesiredWithinRange'];
  }

  private changeInPeriod(events: readonly TimedValue[], now: number, periodSeconds: number): number {
    const cutoff = now - periodSeconds;
    return events.filter((e) => e.at > cutoff).reduce((sum, e) => sum + e.value, 0);
  }

  /** calculateScaleUpLimitWithScalingRules */
  private scaleUpLimit(now: number, currentReplicas: number, scaling: ScalingRules): number {
    if (scaling.selectPolicy === 'Disabled') return currentReplicas;
    const pick = scaling.selectPolicy === 'Min' ? Math.min : Math.max;
    let result = scaling.selectPolicy === 'Min' ? Infinity : -Infinity;
    for (const policy of scaling.policies) {
      const periodStart =
        currentReplicas -
        this.changeInPeriod(this.scaleUpEvents, now, policy.periodSeconds) +
        this.changeInPeriod(this.scaleDownEvents, now, policy.periodSeconds);
      const proposed =
        policy.type === 'Pods' ? periodStart + policy.value : Math.ceil(periodStart * (1 + policy.value / 100));
      result = pick(result, proposed);
    }
    return result;
  }

  /** calculateScaleDownLimitWithBehaviors */
  private scaleDownLimit(now: number, currentReplicas: number, scaling: ScalingRules): number {
    if (scaling.selectPolicy === 'Disabled') return currentReplicas;
    // For scaling down the smallest change is the largest replica count, hence the inversion.
    const pick = scaling.selectPolicy === 'Min' ? Math.max : Math.min;
    let result = scaling.selectPolicy === 'Min' ? -Infinity : Infinity;
    for (const policy of scaling.policies) {
      const periodStart =
        currentReplicas -
        this.changeInPeriod(this.scaleUpEvents, now, policy.periodSeconds) +
        this.changeInPeriod(this.scaleDownEvents, now, policy.periodSeconds);
      const proposed =
        policy.type === 'Pods' ? periodStart - policy.value : Math.trunc(periodStart * (1 - policy.value / 100));
      result = pick(result, proposed);
    }
    return result;
  }

  private recordScaleEvent(now: number, from: number, to: number): void {
    if (to > from) this.scaleUpEvents.push({ at: now, value: to - from });
    else this.scaleDownEvents.push({ at: now, value: from - to });
  }
}
