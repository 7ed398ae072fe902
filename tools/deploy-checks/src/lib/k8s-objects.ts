import type { IScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
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
export const statefulSets = (set: ApplySet) => ofKind<IStatefulSet>(set, 'StatefulSet');
export const serviceAccounts = (set: ApplySet) => ofKind<IServiceAccount>(set, 'ServiceAccount');
export const services = (set: ApplySet) => ofKind<IService>(set, 'Service');
export const pdbs = (set: ApplySet) => ofKind<IPodDisruptionBudget>(set, 'PodDisruptionBudget');
export const networkPolicies = (set: ApplySet) => ofKind<INetworkPolicy>(set, 'NetworkPolicy');
export const hpas = (set: ApplySet) => ofKind<IHorizontalPodAutoscaler>(set, 'HorizontalPodAutoscaler');
export const scaledObjects = (set: ApplySet) => ofKind<IScaledObject>(set, 'ScaledObject');
export const configMaps = (set: ApplySet) => ofKind<IConfigMap>(set, 'ConfigMap');

/**
 * Something that makes pods, with its pod template: the apps' Deployments and Jobs, and the
 * StatefulSets of an in-cluster data tier (the local overlay's Redis and Postgres).
 */
export interface Workload {
  readonly doc: ManifestDoc;
  readonly kind: 'Deployment' | 'Job' | 'StatefulSet';
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
  for (const { doc, obj } of statefulSets(set)) {
    if (obj.spec?.template)
      out.push({
        doc,
        kind: 'StatefulSet',
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

/** An image reference split up: `[registry/]repository[:tag][@sha256:digest]`. */
export interface ImageRef {
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

export function parseImage(image: string): ImageRef {
  const [named, digest] = image.split('@', 2);
  const slash = named.lastIndexOf('/');
  const colon = named.lastIndexOf(':');
  // A colon before the last slash is a registry port (`registry:5000/x`), not a tag.
  const hasTag = colon > slash;
  return {
    repository: hasTag ? named.slice(0, colon) : named,
    tag: hasTag ? named.slice(colon + 1) : undefined,
    digest,
  };
}

/** The release an image pins, fit for a name: its digest's first 12 hex digits, else its tag. */
export function releaseOfImage(image: string): string | undefined {
  const ref = parseImage(image);
  const hex = ref.digest?.match(/^sha256:([0-9a-f]{64})$/)?.[1];
  return hex ? hex.slice(0, 12) : ref.tag;
}

/** The app a container runs: its image is `[registry/]worker-pattern/<app>[:<tag>][@<digest>]` (image = app = Deployment). */
export function appOfImage(image: string | undefined): string | undefined {
  if (!image) return undefined;
  return parseImage(image).repository.match(/^(?:.*\/)?worker-pattern\/([a-z0-9-]+)$/)?.[1];
}

/** The container the pod exists for (init containers come before it and are not it). */
export function mainContainer(workload: Workload): IContainer | undefined {
  return workload.template.spec?.containers?.[0];
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
