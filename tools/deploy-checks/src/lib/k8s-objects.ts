import type { IScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
import type { IService } from 'kubernetes-models/v1/Service';
import type { KubeObject, ManifestDoc } from './k8s-docs';

/**
 * Typed views of an apply set (the documents one `kubectl apply` sends together). The schema spec
 * has validated every document against its model before the semantic checks use these views.
 */

export interface ApplySet {
  readonly name: string;
  readonly docs: readonly ManifestDoc[];
}

export function ofKind<T>(set: ApplySet, kind: string): Array<{ doc: ManifestDoc; obj: T }> {
  return set.docs.filter((d) => d.body.kind === kind).map((doc) => ({ doc, obj: doc.body as unknown as T }));
}

export const deployments = (set: ApplySet) => ofKind<IDeployment>(set, 'Deployment');
export const jobs = (set: ApplySet) => ofKind<IJob>(set, 'Job');
export const services = (set: ApplySet) => ofKind<IService>(set, 'Service');
export const pdbs = (set: ApplySet) => ofKind<IPodDisruptionBudget>(set, 'PodDisruptionBudget');
export const networkPolicies = (set: ApplySet) => ofKind<INetworkPolicy>(set, 'NetworkPolicy');
export const hpas = (set: ApplySet) => ofKind<IHorizontalPodAutoscaler>(set, 'HorizontalPodAutoscaler');
export const scaledObjects = (set: ApplySet) => ofKind<IScaledObject>(set, 'ScaledObject');
export const configMaps = (set: ApplySet) => ofKind<IConfigMap>(set, 'ConfigMap');

/** A Deployment or a Job: something that makes pods, with its pod template. */
export interface Workload {
  readonly doc: ManifestDoc;
  readonly kind: 'Deployment' | 'Job';
  readonly name: string;
  readonly namespace?: string;
  readonly template: IPodTemplateSpec;
}

export function workloads(set: ApplySet): Workload[] {
  const out: Workload[] = [];
  for (const { doc, obj } of deployments(set)) {
    if (obj.spec?.template)
      out.push({
        doc,
        kind: 'Deployment',
        name: obj.metadata?.name ?? '',
        namespace: obj.metadata?.namespace,
        template: obj.spec.template,
      });
  }
  for (const { doc, obj } of jobs(set)) {
    if (obj.spec?.template)
      out.push({
        doc,
        kind: 'Job',
        name: obj.metadata?.name ?? '',
        namespace: obj.metadata?.namespace,
        template: obj.spec.template,
      });
  }
  return out;
}

export function containersOf(workload: Workload): IContainer[] {
  return [...(workload.template.spec?.initContainers ?? []), ...(workload.template.spec?.containers ?? [])];
}

/** The app a container runs: its image is `worker-pattern/<app>:<tag>` (image = app = Deployment). */
export function appOfImage(image: string | undefined): string | undefined {
  return image?.match(/^(?:.*\/)?worker-pattern\/([a-z0-9-]+)(?::[\w.-]+)?$/)?.[1];
}

export type EnvSource =
  | { readonly kind: 'value'; readonly value: string; readonly from: string }
  | { readonly kind: 'secret'; readonly secret: string; readonly key: string; readonly from: string }
  | {
      readonly kind: 'configMapKey';
      readonly configMap: string;
      readonly key: string;
      readonly value?: string;
      readonly from: string;
    }
  | { readonly kind: 'other'; readonly from: string };

/**
 * The environment a container gets: envFrom first, then env (which wins), as the kubelet builds it.
 * Values from ConfigMaps are resolved within the apply set; a missing ConfigMap is reported.
 */
export function effectiveEnv(container: IContainer, set: ApplySet, problems: string[] = []): Map<string, EnvSource> {
  const env = new Map<string, EnvSource>();
  const maps = new Map(configMaps(set).map(({ obj }) => [obj.metadata?.name ?? '', obj]));
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) {
      const map = maps.get(source.configMapRef.name ?? '');
      if (!map) {
        if (!source.configMapRef.optional)
          problems.push(`envFrom ConfigMap ${source.configMapRef.name} is not in the apply set`);
        continue;
      }
      for (const [key, value] of Object.entries(map.data ?? {})) {
        env.set(`${source.prefix ?? ''}${key}`, { kind: 'value', value, from: `ConfigMap ${map.metadata?.name}` });
      }
    } else if (source.secretRef) {
      problems.push(`envFrom Secret ${source.secretRef.name}: list each secret key with secretKeyRef instead`);
    }
  }
  for (const variable of container.env ?? []) {
    const ref = variable.valueFrom;
    if (ref?.secretKeyRef) {
      env.set(variable.name, {
        kind: 'secret',
        secret: ref.secretKeyRef.name ?? '',
        key: ref.secretKeyRef.key,
        from: 'env',
      });
    } else if (ref?.configMapKeyRef) {
      const map = maps.get(ref.configMapKeyRef.name ?? '');
      const value = map?.data?.[ref.configMapKeyRef.key];
      if (value === undefined && !ref.configMapKeyRef.optional) {
        problems.push(
          `${variable.name}: ConfigMap key ${ref.configMapKeyRef.name}/${ref.configMapKeyRef.key} not found`,
        );
      }
      env.set(variable.name, {
        kind: 'configMapKey',
        configMap: ref.configMapKeyRef.name ?? '',
        key: ref.configMapKeyRef.key,
        value,
        from: 'env',
      });
    } else if (ref) {
      env.set(variable.name, { kind: 'other', from: 'env' });
    } else {
      env.set(variable.name, { kind: 'value', value: variable.value ?? '', from: 'env' });
    }
  }
  return env;
}

/** The literal value of a variable, when it has one in the manifests (not from a Secret). */
export function literalEnv(env: Map<string, EnvSource>, name: string): string | undefined {
  const source = env.get(name);
  if (source?.kind === 'value') return source.value;
  if (source?.kind === 'configMapKey') return source.value;
  return undefined;
}

export function nameOf(obj: KubeObject | { metadata?: { name?: string } }): string {
  return obj.metadata?.name ?? '(no name)';
}
