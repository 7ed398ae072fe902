import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { PodMonitor, PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { CronJob, Job } from 'kubernetes-models/batch/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import type { KubeObject } from './k8s-docs';

/**
 * The kinds a manifest of ours may have, each with the kubernetes-models class that validates it
 * (JSON schema of the Kubernetes OpenAPI spec, or of KEDA's and the Prometheus Operator's CRDs) and the TypeScript interface the
 * strict field check compiles it against. A document of any other kind fails the tests: add its model
 * here first, so nothing reaches a cluster unchecked.
 */
export interface KindModel {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespaced: boolean;
  /** Builds the model and runs its JSON schema validation; throws with every problem found. */
  readonly validate: (body: KubeObject) => void;
  /** Module and interface for the strict (unknown field) check. */
  readonly typeModule: string;
  readonly typeName: string;
  /** Fields newer than the model, as a TypeScript type intersected with its interface. */
  readonly typeExtension?: string;
}

interface ModelClass {
  new (data: never): { validate(): void };
}

function entry(
  apiVersion: string,
  kind: string,
  model: ModelClass,
  typeModule: string,
  namespaced = true,
  typeExtension?: string,
): KindModel {
  return {
    apiVersion,
    kind,
    namespaced,
    validate: (body) => new model(body as never).validate(),
    typeModule,
    typeName: `I${kind}`,
    typeExtension,
  };
}

/**
 * KEDA 2.12 added `advanced.scalingModifiers`; @kubernetes-models/keda 0.4 (the last release for
 * kubernetes-models 4) predates it. Its shape, from KEDA's ScaledObject CRD.
 */
const SCALING_MODIFIERS = `{ spec: { advanced?: { scalingModifiers?: { formula: string; target: string; activationTarget?: string; metricType?: 'AverageValue' | 'Value' } } } }`;

function withUnwrappedData(body: KubeObject): KubeObject {
  const data = body['data'] as Record<string, string> | undefined;
  if (!data) return body;
  return { ...body, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v.replace(/[\r\n]/g, '')])) };
}

export const KIND_MODELS: readonly KindModel[] = [
  entry('v1', 'Namespace', Namespace, 'kubernetes-models/v1/Namespace', false),
  entry('v1', 'ConfigMap', ConfigMap, 'kubernetes-models/v1/ConfigMap'),
  {
    ...entry('v1', 'Secret', Secret, 'kubernetes-models/v1/Secret'),
    // kustomize wraps long base64 values over lines; the API server's decoder (Go's base64) skips
    // line breaks, the model's "byte" format does not: validate them as the server reads them.
    validate: (body) => new Secret(withUnwrappedData(body) as never).validate(),
  },
  entry('v1', 'Service', Service, 'kubernetes-models/v1/Service'),
  entry('v1', 'ServiceAccount', ServiceAccount, 'kubernetes-models/v1/ServiceAccount'),
  entry('apps/v1', 'Deployment', Deployment, 'kubernetes-models/apps/v1/Deployment'),
  entry('apps/v1', 'StatefulSet', StatefulSet, 'kubernetes-models/apps/v1/StatefulSet'),
  entry('batch/v1', 'Job', Job, 'kubernetes-models/batch/v1/Job'),
  entry('batch/v1', 'CronJob', CronJob, 'kubernetes-models/batch/v1/CronJob'),
  entry('policy/v1', 'PodDisruptionBudget', PodDisruptionBudget, 'kubernetes-models/policy/v1/PodDisruptionBudget'),
  entry('networking.k8s.io/v1', 'NetworkPolicy', NetworkPolicy, 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy'),
  entry('networking.k8s.io/v1', 'Ingress', Ingress, 'kubernetes-models/networking.k8s.io/v1/Ingress'),
  entry(
    'autoscaling/v2',
    'HorizontalPodAutoscaler',
    HorizontalPodAutoscaler,
    'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler',
  ),
  entry(
    'keda.sh/v1alpha1',
    'ScaledObject',
    ScaledObject,
    '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject',
    true,
    SCALING_MODIFIERS,
  ),
  entry(
    'keda.sh/v1alpha1',
    'TriggerAuthentication',
    TriggerAuthentication,
    '@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication',
  ),
  entry(
    'monitoring.coreos.com/v1',
    'PrometheusRule',
    PrometheusRule,
    '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule',
  ),
  entry(
    'monitoring.coreos.com/v1',
    'PodMonitor',
    PodMonitor,
    '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor',
  ),
];

export function modelFor(body: KubeObject): KindModel | undefined {
  return KIND_MODELS.find((m) => m.apiVersion === body.apiVersion && m.kind === body.kind);
}

/**
 * API versions a current API server no longer serves (Kubernetes' deprecation guide). The models
 * still ship some of them, so schema validation alone would let them through.
 */
export const REMOVED_API_VERSIONS: ReadonlyArray<{ group: string; versions: readonly string[]; removedIn: string }> = [
  { group: 'extensions', versions: ['v1beta1'], removedIn: '1.16/1.22' },
  { group: 'apps', versions: ['v1beta1', 'v1beta2'], removedIn: '1.16' },
  { group: 'networking.k8s.io', versions: ['v1beta1'], removedIn: '1.22' },
  { group: 'policy', versions: ['v1beta1'], removedIn: '1.25' },
  { group: 'autoscaling', versions: ['v2beta1'], removedIn: '1.25' },
  { group: 'autoscaling', versions: ['v2beta2'], removedIn: '1.26' },
  { group: 'batch', versions: ['v1beta1', 'v2alpha1'], removedIn: '1.25' },
  { group: 'rbac.authorization.k8s.io', versions: ['v1alpha1', 'v1beta1'], removedIn: '1.22' },
  { group: 'apiextensions.k8s.io', versions: ['v1beta1'], removedIn: '1.22' },
  { group: 'apiregistration.k8s.io', versions: ['v1beta1'], removedIn: '1.22' },
  { group: 'admissionregistration.k8s.io', versions: ['v1beta1'], removedIn: '1.22' },
  { group: 'certificates.k8s.io', versions: ['v1beta1'], removedIn: '1.22' },
  { group: 'coordination.k8s.io', versions: ['v1beta1'], removedIn: '1.22' },
  { group: 'scheduling.k8s.io', versions: ['v1alpha1', 'v1beta1'], removedIn: '1.22' },
  { group: 'storage.k8s.io', versions: ['v1beta1'], removedIn: '1.22/1.27' },
  { group: 'discovery.k8s.io', versions: ['v1beta1'], removedIn: '1.25' },
  { group: 'events.k8s.io', versions: ['v1beta1'], removedIn: '1.25' },
  { group: 'node.k8s.io', versions: ['v1beta1'], removedIn: '1.25' },
  { group: 'flowcontrol.apiserver.k8s.io', versions: ['v1beta1', 'v1beta2'], removedIn: '1.26/1.29' },
  { group: 'authentication.k8s.io', versions: ['v1beta1'], removedIn: '1.22' },
  { group: 'authorization.k8s.io', versions: ['v1beta1'], removedIn: '1.22' },
];

export function removedApiVersion(apiVersion: string | undefined): string | undefined {
  if (!apiVersion?.includes('/')) return undefined;
  const [group, version] = apiVersion.split('/');
  const hit = REMOVED_API_VERSIONS.find((r) => r.group === group && r.versions.includes(version));
  return hit ? `${apiVersion} is no longer served (removed in Kubernetes ${hit.removedIn})` : undefined;
}

/** Schema problems of one document: removed API, unknown kind, or the model's validation errors. */
export function schemaProblems(body: KubeObject): string[] {
  const removed = removedApiVersion(body.apiVersion);
  if (removed) return [removed];
  const model = modelFor(body);
  if (!model)
    return [
      `unknown kind ${body.apiVersion ?? '(no apiVersion)'} ${body.kind ?? '(no kind)'}: no model to validate it`,
    ];
  try {
    model.validate(body);
    return [];
  } catch (error) {
    return [error instanceof Error ? error.message : String(error)];
  }
}
