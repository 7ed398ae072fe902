import { DEFAULT_POOL_SIZE } from '@worker-pattern/db';
import type { IHorizontalPodAutoscalerBehavior } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscalerBehavior';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { INetworkPolicyPeer } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer';
import { parse as parseYaml } from 'yaml';
import {
  appModuleDefaults,
  type App,
  EXTRA_POSTGRES_CONNECTIONS,
  HTTP_APPS,
  isApp,
  isFragmentWorkerApp,
  isWorkerApp,
  LONGEST_BUILD_TIMEOUT_MS,
  longestJobMs,
  NAMESPACE,
  PACKAGE_VERSION,
  PART_OF,
  SECRET_NAME,
  SHARED_WORKER_SETTINGS,
  validateAppEnv,
  WORKER_QUEUES,
  knownEnvNames,
} from './app-facts';
import { describeDoc, type ManifestDoc } from './k8s-docs';
import { modelFor } from './k8s-models';
import { bullQueuePrefix } from '@worker-pattern/fragment';
import {
  appOfImage,
  type ApplySet,
  configMaps,
  jobs,
  mainContainer,
  parseImage,
  releaseOfImage,
  serviceAccounts,
  type EnvSource,
  containersOf,
  deployments,
  effectiveEnv,
  hpas,
  literalEnv,
  networkPolicies,
  pdbs,
  scaledObjects,
  services,
  type Workload,
  workloads,
} from './k8s-objects';
import { parseQuantity } from './hpa/quantity';
import { judgeMissingMetric, workerAutoscaling } from './hpa/missing-metric';
import {
  isDns1035Label,
  isDns1123Label,
  isDns1123Subdomain,
  isEmptySelector,
  isLabelValue,
  isPortName,
  isQualifiedName,
  type LabelSelector,
  selectorMatches,
} from './labels';

/**
 * The checks an API server, an admission chain or a careful reviewer would make, as pure functions:
 * each takes an apply set (what one `kubectl apply` sends) and returns its problems, one line each.
 * The specs assert that the real manifests have none, and that a broken copy has the expected one.
 */

export type Check = (set: ApplySet) => string[];

/** The Secret as a kustomize secretGenerator names it (a hash suffix). */
const GENERATED_SECRET = new RegExp(`^${SECRET_NAME}-[a-z0-9]{10}$`);

const PLACEHOLDER_SECRETS: Readonly<Record<string, string>> = {
  REDIS_URL: 'redis://:password@redis.example:6379',
  DATABASE_URL: 'postgres://worker_pattern:password@postgres.example:5432/worker_pattern',
  JWT_SECRET: 'a-production-secret-of-at-least-32-characters-0123456789',
};

const where = (workload: Workload, container?: IContainer) =>
  `${workload.doc.file} ${workload.kind}/${workload.name}${container ? ` container ${container.name}` : ''}`;

function podLabels(w: Workload) {
  return w.template.metadata?.labels ?? {};
}

function workloadsMatching(
  set: ApplySet,
  namespace: string | undefined,
  selector: LabelSelector | undefined,
): Workload[] {
  return workloads(set).filter((w) => w.namespace === namespace && selectorMatches(selector, podLabels(w)));
}

/** The container port named `management`, which carries MANAGEMENT_PORT in the manifests. */
export const MANAGEMENT_PORT_NAME = 'management';

/** MANAGEMENT_PORT as the container would read it (ConfigMaps included), when set. */
function managementPortOf(c: IContainer, set: ApplySet): number | undefined {
  const value = literalEnv(effectiveEnv(c, set), 'MANAGEMENT_PORT');
  return value === undefined || value === '' ? undefined : Number(value);
}

/** The container port a probe, Service or policy port (name or number) points at. */
function containerPortOf(c: IContainer, port: string | number | undefined): number | undefined {
  if (typeof port === 'number') return port;
  return (c.ports ?? []).find((p) => p.name === port)?.containerPort;
}

/** Names: the API server's rules for object names, labels, annotations, containers and ports. */
export const checkNames: Check = (set) => {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const doc of set.docs) {
    const { kind, metadata } = doc.body;
    const name = metadata?.name;
    const id = describeDoc(doc);
    if (!name) {
      problems.push(`${id}: metadata.name is missing`);
      continue;
    }
    const valid =
      kind === 'Service'
        ? isDns1035Label(name)
        : kind === 'Namespace'
          ? isDns1123Label(name)
          : isDns1123Subdomain(name);
    if (!valid) problems.push(`${id}: "${name}" is not a valid ${kind} name (DNS-1123)`);
    const key = `${kind}/${metadata?.namespace ?? ''}/${name}`;
    if (seen.has(key)) problems.push(`${id}: a second ${kind} named ${name} in the same apply set`);
    seen.add(key);
    for (const [k, v] of Object.entries(metadata?.labels ?? {})) {
      if (!isQualifiedName(k)) problems.push(`${id}: invalid label key "${k}"`);
      if (typeof v !== 'string' || !isLabelValue(v))
        problems.push(`${id}: invalid value of label ${k}: ${JSON.stringify(v)}`);
    }
    for (const k of Object.keys(metadata?.annotations ?? {})) {
      if (!isQualifiedName(k)) problems.push(`${id}: invalid annotation key "${k}"`);
    }
  }
  for (const w of workloads(set)) {
    const names = new Set<string>();
    for (const c of containersOf(w)) {
      if (!isDns1123Label(c.name)) problems.push(`${where(w, c)}: container name is not a DNS-1123 label`);
      if (names.has(c.name)) problems.push(`${where(w, c)}: duplicate container name`);
      names.add(c.name);
      const ports = new Set<string>();
      for (const p of c.ports ?? []) {
        if (p.name !== undefined && !isPortName(p.name)) problems.push(`${where(w, c)}: invalid port name "${p.name}"`);
        if (p.name && ports.has(p.name)) problems.push(`${where(w, c)}: duplicate port name ${p.name}`);
        if (p.name) ports.add(p.name);
      }
    }
    for (const [k, v] of Object.entries(podLabels(w))) {
      if (!isQualifiedName(k) || !isLabelValue(v)) problems.push(`${where(w)}: invalid pod label ${k}=${v}`);
    }
  }
  return problems;
};

/** Every namespaced object states its namespace, and it is the expected one. */
export function checkNamespace(expected: string): Check {
  return (set) =>
    set.docs
      .filter((doc) => modelFor(doc.body)?.namespaced ?? true)
      .filter((doc) => doc.body.metadata?.namespace !== expected)
      .map(
        (doc) =>
          `${describeDoc(doc)}: namespace is ${doc.body.metadata?.namespace ?? '(unset: whatever the kubectl context says)'}, expected ${expected}`,
      );
}

/** The recommended labels (kubernetes.io "Recommended Labels") every object carries. */
export const RECOMMENDED_LABELS = [
  'app.kubernetes.io/name',
  'app.kubernetes.io/instance',
  'app.kubernetes.io/version',
  'app.kubernetes.io/component',
  'app.kubernetes.io/part-of',
  'app.kubernetes.io/managed-by',
];
/** What a pod template carries (managed-by describes the object, not its pods). */
const POD_LABELS = RECOMMENDED_LABELS.filter((key) => key !== 'app.kubernetes.io/managed-by');

/**
 * Labels: every object carries the recommended app.kubernetes.io labels, is part of worker-pattern,
 * and says what it is; a workload's version label is the release its image runs.
 */
export const checkLabels: Check = (set) => {
  const problems: string[] = [];
  for (const doc of set.docs) {
    const labels = doc.body.metadata?.labels ?? {};
    for (const key of RECOMMENDED_LABELS)
      if (!labels[key]) problems.push(`${describeDoc(doc)}: label ${key} is missing`);
    if (labels['app.kubernetes.io/part-of'] && labels['app.kubernetes.io/part-of'] !== PART_OF) {
      problems.push(`${describeDoc(doc)}: app.kubernetes.io/part-of should be ${PART_OF}`);
    }
  }
  for (const w of workloads(set)) {
    const labels = podLabels(w);
    for (const key of POD_LABELS) if (!labels[key]) problems.push(`${where(w)}: pod template label ${key} is missing`);
    // A Job's name carries its release (db-migrate-<release>); its pods' name label does not.
    const name = labels['app.kubernetes.io/name'];
    if (name !== w.name && !(w.kind === 'Job' && name && w.name.startsWith(`${name}-`)))
      problems.push(`${where(w)}: pod label app.kubernetes.io/name should be ${w.name}`);
    const tag = parseImage(mainContainer(w)?.image ?? '').tag;
    const version = labels['app.kubernetes.io/version'];
    if (tag && version && !(tag === version || tag.startsWith(`${version}-`)))
      problems.push(
        `${where(w)}: pod label app.kubernetes.io/version ${version} is not the release its image runs (${tag})`,
      );
  }
  return problems;
};

/** Selectors: every Deployment selects its own pods; every Service, PDB and NetworkPolicy selects some. */
export const checkSelectors: Check = (set) => {
  const problems: string[] = [];
  for (const { doc, obj } of deployments(set)) {
    const selector = obj.spec?.selector;
    if (isEmptySelector(selector)) problems.push(`${describeDoc(doc)}: empty selector`);
    else if (!selectorMatches(selector, obj.spec?.template.metadata?.labels))
      problems.push(`${describeDoc(doc)}: selector does not match the template's labels`);
  }
  for (const { doc, obj } of services(set)) {
    if (!obj.spec?.selector) continue;
    const matched = workloadsMatching(set, obj.metadata?.namespace, { matchLabels: obj.spec.selector });
    if (matched.length === 0) {
      problems.push(
        `${describeDoc(doc)}: selector ${JSON.stringify(obj.spec.selector)} matches no pods of the apply set`,
      );
      continue;
    }
    for (const port of obj.spec.ports ?? []) {
      const target = port.targetPort ?? port.port;
      for (const w of matched) {
        const has = containersOf(w).some((c) =>
          (c.ports ?? []).some((p) => (typeof target === 'string' ? p.name === target : p.containerPort === target)),
        );
        if (!has) problems.push(`${describeDoc(doc)}: targetPort ${target} is not a port of ${where(w)}`);
      }
    }
  }
  const coveredBy = new Map<string, string[]>();
  for (const { doc, obj } of pdbs(set)) {
    if (isEmptySelector(obj.spec?.selector)) {
      problems.push(`${describeDoc(doc)}: empty selector (would cover every pod of the namespace)`);
      continue;
    }
    const matched = workloadsMatching(set, obj.metadata?.namespace, obj.spec?.selector).filter(
      (w) => w.kind === 'Deployment',
    );
    if (matched.length === 0) problems.push(`${describeDoc(doc)}: selector matches no Deployment's pods`);
    for (const w of matched) coveredBy.set(w.name, [...(coveredBy.get(w.name) ?? []), obj.metadata?.name ?? '']);
  }
  for (const [name, budgets] of coveredBy) {
    if (budgets.length > 1)
      problems.push(
        `Deployment/${name}: pods covered by several PodDisruptionBudgets (${budgets.join(', ')}); eviction refuses that`,
      );
  }
  for (const { doc, obj } of deployments(set)) {
    if (!coveredBy.has(obj.metadata?.name ?? ''))
      problems.push(
        `${describeDoc(doc)}: no PodDisruptionBudget covers its pods (a node drain could take them all at once)`,
      );
  }
  for (const { doc, obj } of networkPolicies(set)) {
    const selector = obj.spec?.podSelector;
    const matched = workloadsMatching(set, obj.metadata?.namespace, selector);
    if (!isEmptySelector(selector) && matched.length === 0)
      problems.push(`${describeDoc(doc)}: podSelector matches no pods of the apply set`);
    for (const rule of obj.spec?.ingress ?? []) {
      for (const port of rule.ports ?? []) {
        if (typeof port.port !== 'string') continue;
        for (const w of matched) {
          if (!containersOf(w).some((c) => (c.ports ?? []).some((p) => p.name === port.port))) {
            problems.push(`${describeDoc(doc)}: ingress port "${port.port}" is not a named port of ${where(w)}`);
          }
        }
      }
    }
  }
  return problems;
};

interface Autoscaler {
  readonly doc: ManifestDoc;
  readonly kind: 'HorizontalPodAutoscaler' | 'ScaledObject';
  readonly name: string;
  readonly namespace?: string;
  readonly target: { apiVersion?: string; kind?: string; name: string };
  readonly min: number;
  readonly max: number;
}

export function autoscalers(set: ApplySet): Autoscaler[] {
  return [
    ...hpas(set).map(({ doc, obj }) => ({
      doc,
      kind: 'HorizontalPodAutoscaler' as const,
      name: obj.metadata?.name ?? '',
      namespace: obj.metadata?.namespace,
      target: obj.spec?.scaleTargetRef ?? { name: '' },
      min: obj.spec?.minReplicas ?? 1,
      max: obj.spec?.maxReplicas ?? 0,
    })),
    ...scaledObjects(set).map(({ doc, obj }) => ({
      doc,
      kind: 'ScaledObject' as const,
      name: obj.metadata?.name ?? '',
      namespace: obj.metadata?.namespace,
      target: {
        apiVersion: obj.spec.scaleTargetRef.apiVersion ?? 'apps/v1',
        kind: obj.spec.scaleTargetRef.kind ?? 'Deployment',
        name: obj.spec.scaleTargetRef.name,
      },
      min: obj.spec.minReplicaCount ?? 0,
      max: obj.spec.maxReplicaCount ?? 100,
    })),
  ];
}

/**
 * The app registry (libs/registry/src/lib/apps.ts) deployed whole: each app a Deployment and a
 * Service of its name, each worker an autoscaler on it. A registered app the manifests lack would
 * otherwise run nowhere, and no other check would notice an absence.
 */
export const checkRegistryApps: Check = (set) => {
  const problems: string[] = [];
  const deployed = new Set(deployments(set).map(({ obj }) => obj.metadata?.name));
  const services = new Set(
    set.docs.filter((d) => d.body.kind === 'Service').map((d) => d.body.metadata?.name as string | undefined),
  );
  const scaled = new Set(autoscalers(set).map((a) => a.target.name));
  for (const app of HTTP_APPS) {
    if (!deployed.has(app)) problems.push(`${set.name}: app ${app} of the registry has no Deployment`);
    if (!services.has(app)) problems.push(`${set.name}: app ${app} of the registry has no Service`);
    if (isWorkerApp(app) && !scaled.has(app)) problems.push(`${set.name}: worker ${app} has no autoscaler`);
  }
  return problems;
};

/** Autoscalers: targets exist, min ≤ max, one autoscaler per Deployment, no replicas to fight over. */
export const checkAutoscalers: Check = (set) => {
  const problems: string[] = [];
  const byTarget = new Map<string, Autoscaler[]>();
  const deploymentsByName = new Map(
    deployments(set).map(({ obj }) => [`${obj.metadata?.namespace}/${obj.metadata?.name}`, obj]),
  );
  for (const a of autoscalers(set)) {
    const id = describeDoc(a.doc);
    if (a.target.kind !== 'Deployment' || a.target.apiVersion !== 'apps/v1')
      problems.push(`${id}: scale target should be an apps/v1 Deployment, got ${a.target.apiVersion} ${a.target.kind}`);
    const key = `${a.namespace}/${a.target.name}`;
    const target = deploymentsByName.get(key);
    if (!target)
      problems.push(
        `${id}: scale target Deployment ${a.target.name} does not exist in namespace ${a.namespace} of the apply set`,
      );
    if (a.min > a.max) problems.push(`${id}: min replicas ${a.min} > max replicas ${a.max}`);
    if (a.min < 2)
      problems.push(`${id}: min replicas ${a.min}: keep at least 2 so a node drain never takes an app away`);
    byTarget.set(key, [...(byTarget.get(key) ?? []), a]);
    if (target?.spec?.replicas !== undefined) {
      problems.push(
        `${describeDoc(a.doc)}: Deployment ${a.target.name} sets spec.replicas; every apply would reset what the autoscaler chose`,
      );
    }
  }
  for (const [key, list] of byTarget) {
    if (list.length > 1) {
      problems.push(
        `Deployment ${key} is scaled by ${list.length} autoscalers (${list.map((a) => `${a.kind}/${a.name} in ${a.doc.file}`).join(', ')}): they would fight over its replicas`,
      );
    }
  }
  for (const { doc, obj } of deployments(set)) {
    if (!byTarget.has(`${obj.metadata?.namespace}/${obj.metadata?.name}`))
      problems.push(`${describeDoc(doc)}: no autoscaler targets it`);
  }
  for (const { doc, obj } of pdbs(set)) {
    const minAvailable = obj.spec?.minAvailable;
    if (minAvailable === undefined) continue;
    for (const w of workloadsMatching(set, obj.metadata?.namespace, obj.spec?.selector)) {
      const min = Math.min(
        ...autoscalers(set)
          .filter((a) => a.target.name === w.name)
          .map((a) => a.min),
      );
      if (typeof minAvailable === 'number' && minAvailable >= min) {
        problems.push(
          `${describeDoc(doc)}: minAvailable ${minAvailable} ≥ the ${min} replicas ${w.name} may scale down to: node drains would block`,
        );
      }
    }
  }
  return problems;
};

/** Restricted pod security: non-root, read-only root, no privilege escalation, no capabilities, seccomp. */
export const checkPodSecurity: Check = (set) => {
  const problems: string[] = [];
  for (const w of workloads(set)) {
    const pod = w.template.spec;
    const podCtx = pod?.securityContext;
    if (pod?.automountServiceAccountToken !== false)
      problems.push(
        `${where(w)}: automountServiceAccountToken should be false (the apps never call the Kubernetes API)`,
      );
    if (pod?.hostNetwork || pod?.hostPID || pod?.hostIPC) problems.push(`${where(w)}: uses the host's namespaces`);
    for (const c of containersOf(w)) {
      const ctx = c.securityContext;
      const runAsNonRoot = ctx?.runAsNonRoot ?? podCtx?.runAsNonRoot;
      const runAsUser = ctx?.runAsUser ?? podCtx?.runAsUser;
      const seccomp = ctx?.seccompProfile?.type ?? podCtx?.seccompProfile?.type;
      if (runAsNonRoot !== true) problems.push(`${where(w, c)}: runAsNonRoot is not true`);
      if (runAsUser === 0) problems.push(`${where(w, c)}: runAsUser is 0 (root)`);
      if (ctx?.allowPrivilegeEscalation !== false)
        problems.push(`${where(w, c)}: allowPrivilegeEscalation is not false`);
      if (ctx?.readOnlyRootFilesystem !== true) problems.push(`${where(w, c)}: readOnlyRootFilesystem is not true`);
      if (ctx?.privileged) problems.push(`${where(w, c)}: privileged`);
      if (!(ctx?.capabilities?.drop ?? []).includes('ALL'))
        problems.push(`${where(w, c)}: capabilities.drop does not include ALL`);
      if ((ctx?.capabilities?.add ?? []).length > 0) problems.push(`${where(w, c)}: adds capabilities`);
      if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost')
        problems.push(`${where(w, c)}: seccompProfile is not RuntimeDefault`);
    }
  }
  return problems;
};

/** Every container has CPU and memory requests and limits, requests not above limits. */
export const checkResources: Check = (set) => {
  const problems: string[] = [];
  for (const w of workloads(set)) {
    for (const c of containersOf(w)) {
      for (const resource of ['cpu', 'memory']) {
        const request = c.resources?.requests?.[resource];
        const limit = c.resources?.limits?.[resource];
        if (request === undefined) problems.push(`${where(w, c)}: no ${resource} request`);
        if (limit === undefined) problems.push(`${where(w, c)}: no ${resource} limit`);
        if (request !== undefined && limit !== undefined && parseQuantity(request) > parseQuantity(limit)) {
          problems.push(`${where(w, c)}: ${resource} request ${request} is above its limit ${limit}`);
        }
      }
    }
  }
  return problems;
};

/** Long-running containers have readiness and liveness probes on the apps' health endpoints. */
export const checkProbes: Check = (set) => {
  const problems: string[] = [];
  for (const w of workloads(set).filter((x) => x.kind === 'Deployment')) {
    for (const c of w.template.spec?.containers ?? []) {
      const probes = { readinessProbe: '/health/ready', livenessProbe: '/health/live' } as const;
      for (const [probe, path] of Object.entries(probes) as Array<[keyof typeof probes, string]>) {
        const http = c[probe]?.httpGet;
        if (!http) {
          problems.push(`${where(w, c)}: no ${probe} (httpGet ${path})`);
          continue;
        }
        if (http.path !== path) problems.push(`${where(w, c)}: ${probe} checks ${http.path}, expected ${path}`);
        const declared = (c.ports ?? []).some((p) =>
          typeof http.port === 'string' ? p.name === http.port : p.containerPort === http.port,
        );
        if (!declared) problems.push(`${where(w, c)}: ${probe} port ${http.port} is not a declared container port`);
      }
      // With MANAGEMENT_PORT set the probes answer there only (the app port 404s them).
      const management = managementPortOf(c, set);
      if (management !== undefined) {
        for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe'] as const) {
          const http = c[probe]?.httpGet;
          if (http && containerPortOf(c, http.port) !== management)
            problems.push(
              `${where(w, c)}: ${probe} on port ${http.port}, but MANAGEMENT_PORT is ${management}: the health endpoints answer only there (404 elsewhere)`,
            );
        }
      }
      if (c.startupProbe?.httpGet && c.startupProbe.httpGet.path !== '/health/live') {
        problems.push(
          `${where(w, c)}: startupProbe should check /health/live (readiness depends on Redis and Postgres)`,
        );
      }
    }
  }
  return problems;
};

/**
 * Metrics: every HTTP app's pods carry the prometheus.io annotations that the kubernetes-pods scrape
 * job reads, on the app's http port and /metrics. Without them a queue's bull_queue_jobs is never
 * scraped (the `invalidations` queue is reported by the invalidation-worker pods alone), and the
 * autoscaler on it sees no metric.
 */
export const checkScrapeAnnotations: Check = (set) => {
  const problems: string[] = [];
  for (const w of workloads(set).filter((x) => x.kind === 'Deployment')) {
    const c = w.template.spec?.containers?.[0];
    const app = appOfImage(c?.image);
    if (!c || !app || !(HTTP_APPS as readonly string[]).includes(app)) continue;
    const annotations = w.template.metadata?.annotations ?? {};
    const httpPort = (c.ports ?? []).find((p) => p.name === 'http')?.containerPort;
    // With MANAGEMENT_PORT set /metrics answers only there (the app port 404s it).
    const management = managementPortOf(c, set);
    const metricsPort = management ?? httpPort;
    const portName = management === undefined ? 'http port' : 'management port (MANAGEMENT_PORT)';
    if (annotations['prometheus.io/scrape'] !== 'true')
      problems.push(
        `${where(w)}: pod annotation prometheus.io/scrape is not "true": its /metrics would not be scraped`,
      );
    if (annotations['prometheus.io/port'] !== String(metricsPort))
      problems.push(
        `${where(w)}: pod annotation prometheus.io/port is ${annotations['prometheus.io/port'] ?? '(unset)'}, its ${portName} is ${metricsPort}`,
      );
    if ((annotations['prometheus.io/path'] ?? '/metrics') !== '/metrics')
      problems.push(
        `${where(w)}: pod annotation prometheus.io/path is ${annotations['prometheus.io/path']}, expected /metrics`,
      );
  }
  return problems;
};

/**
 * Management port: an app given MANAGEMENT_PORT declares it as container port `management` (probes,
 * scrapes and policies name it), a `management` port carries MANAGEMENT_PORT, and no Service exposes
 * it, by name or number: /metrics and the queue dashboard stay off every in-cluster address and out
 * of any Ingress built on a Service.
 */
export const checkManagementPort: Check = (set) => {
  const problems: string[] = [];
  for (const w of workloads(set).filter((x) => x.kind === 'Deployment')) {
    const c = mainContainer(w);
    const app = appOfImage(c?.image);
    if (!c || !app || !(HTTP_APPS as readonly string[]).includes(app)) continue;
    const management = managementPortOf(c, set);
    const declared = (c.ports ?? []).find((p) => p.name === MANAGEMENT_PORT_NAME);
    if (management === undefined) {
      if (declared)
        problems.push(
          `${where(w, c)}: declares port ${MANAGEMENT_PORT_NAME} (${declared.containerPort}) but MANAGEMENT_PORT is unset: nothing listens there`,
        );
      continue;
    }
    if (!declared)
      problems.push(
        `${where(w, c)}: MANAGEMENT_PORT is ${management} but no container port is named ${MANAGEMENT_PORT_NAME}`,
      );
    else if (declared.containerPort !== management)
      problems.push(
        `${where(w, c)}: container port ${MANAGEMENT_PORT_NAME} is ${declared.containerPort}, MANAGEMENT_PORT is ${management}`,
      );
    const httpPort = (c.ports ?? []).find((p) => p.name === 'http')?.containerPort;
    if (httpPort === management) problems.push(`${where(w, c)}: MANAGEMENT_PORT ${management} is also its http port`);
  }
  for (const { doc, obj } of services(set)) {
    if (!obj.spec?.selector) continue;
    const matched = workloadsMatching(set, obj.metadata?.namespace, { matchLabels: obj.spec.selector });
    for (const port of obj.spec.ports ?? []) {
      const target = port.targetPort ?? port.port;
      for (const w of matched) {
        const c = mainContainer(w);
        const management = c && managementPortOf(c, set);
        if (management === undefined || !c) continue;
        if (target === MANAGEMENT_PORT_NAME || containerPortOf(c, target) === management)
          problems.push(
            `${describeDoc(doc)}: port ${port.name ?? port.port} exposes the management port (${target}) of ${where(w)}; only Prometheus may reach it, per pod`,
          );
      }
    }
  }
  return problems;
};

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * Images: the apps run `[registry/]worker-pattern/<app>`, pinned to this release by a tag that is the
 * package version (`0.1.0`, or `0.1.0-<commit>`) and/or by a digest, never `latest`; a Deployment
 * runs its own app (image = app = name), its init containers and the Jobs db-cli. A data-tier
 * StatefulSet runs any image, pinned by a tag other than latest, or a digest.
 */
export const checkImages: Check = (set) => {
  const problems: string[] = [];
  for (const w of workloads(set)) {
    for (const c of containersOf(w)) {
      const ref = parseImage(c.image ?? '');
      if (ref.digest !== undefined && !DIGEST.test(ref.digest))
        problems.push(`${where(w, c)}: image ${c.image}: the digest must be sha256:<64 hex digits>`);
      if (w.kind === 'StatefulSet') {
        if ((!ref.tag || ref.tag === 'latest') && !ref.digest)
          problems.push(`${where(w, c)}: image ${c.image} is not pinned (a tag other than latest, or a digest)`);
        continue;
      }
      const app = appOfImage(c.image);
      if (!app || !isApp(app)) {
        problems.push(`${where(w, c)}: image ${c.image} is not one of worker-pattern/<app>`);
        continue;
      }
      const tagged =
        ref.tag !== undefined && (ref.tag === PACKAGE_VERSION || ref.tag.startsWith(`${PACKAGE_VERSION}-`));
      if (ref.tag !== undefined ? !tagged : !ref.digest)
        problems.push(
          `${where(w, c)}: image ${c.image} should be tagged ${PACKAGE_VERSION} or ${PACKAGE_VERSION}-<commit> (package.json version), or pinned by digest; never latest`,
        );
      const isInit = (w.template.spec?.initContainers ?? []).includes(c);
      if (w.kind === 'Deployment' && !isInit && app !== w.name)
        problems.push(`${where(w, c)}: Deployment ${w.name} runs image ${app}; name the Deployment after its app`);
      if (w.kind === 'Deployment' && isInit && app !== 'db-cli')
        problems.push(`${where(w, c)}: an init container should run db-cli (the schema check)`);
      if (w.kind === 'Job' && app !== 'db-cli') problems.push(`${where(w, c)}: a Job should run db-cli`);
    }
  }
  return problems;
};

/** The migration Jobs of a set: db-cli with the single argument `migrate`. */
function migrationJobs(set: ApplySet) {
  return jobs(set).filter(({ obj }) =>
    (obj.spec?.template.spec?.containers ?? []).some(
      (c) => appOfImage(c.image) === 'db-cli' && JSON.stringify(c.args ?? c.command) === '["migrate"]',
    ),
  );
}

const secretRef = (env: Map<string, EnvSource>, name: string) => {
  const source = env.get(name);
  return source?.kind === 'secret' ? `${source.secret}/${source.key}` : undefined;
};

/**
 * Upgrades that cannot half-happen: one migration Job, named after the release it applies
 * (db-migrate-<tag, or the digest's first 12 hex digits>), so a new release is a new Job and
 * re-applying never hits its immutable pod template; every app Deployment waits for that schema in an
 * init container running `db-cli migrate --check` of the same release, against the same database.
 */
export const checkSchemaGate: Check = (set) => {
  const problems: string[] = [];
  const migrations = migrationJobs(set);
  if (migrations.length !== 1) {
    problems.push(`expected exactly one migration Job (db-cli migrate), found ${migrations.length}`);
    return problems;
  }
  const { doc, obj } = migrations[0];
  const job = (obj.spec?.template.spec?.containers ?? []).find((c) => appOfImage(c.image) === 'db-cli');
  if (!job) return problems; // migrationJobs only returns Jobs that run it
  const release = releaseOfImage(job.image ?? '');
  const expectedName = `db-migrate-${release}`;
  if (obj.metadata?.name !== expectedName)
    problems.push(
      `${describeDoc(doc)}: the migration Job must be named ${expectedName} (after the release of ${job.image}): a Job's pod template is immutable, so re-applying a new release under the old name fails`,
    );
  if (expectedName.length > 63) problems.push(`${describeDoc(doc)}: ${expectedName} is longer than 63 characters`);
  // Every other db-cli Job (the demo seed) is immutable the same way: its name carries its release too.
  for (const other of jobs(set).filter((j) => j.obj !== obj)) {
    const cli = (other.obj.spec?.template.spec?.containers ?? []).find((c) => appOfImage(c.image) === 'db-cli');
    if (!cli) continue;
    const suffix = `-${releaseOfImage(cli.image ?? '')}`;
    if (!other.obj.metadata?.name?.endsWith(suffix))
      problems.push(
        `${describeDoc(other.doc)}: Job ${other.obj.metadata?.name} must be named <name>${suffix} (after the release of ${cli.image}): a Job's pod template is immutable, so re-applying a new release under the old name fails`,
      );
  }
  const jobDatabase = secretRef(effectiveEnv(job, set), 'DATABASE_URL');
  for (const w of workloads(set).filter((x) => x.kind === 'Deployment')) {
    const main = mainContainer(w);
    const app = appOfImage(main?.image);
    if (!main || !app || !isApp(app)) continue;
    const gates = (w.template.spec?.initContainers ?? []).filter(
      (c) => appOfImage(c.image) === 'db-cli' && JSON.stringify(c.args) === '["migrate","--check"]',
    );
    if (gates.length !== 1) {
      problems.push(
        `${where(w)}: no init container runs \`db-cli migrate --check\`: its pods could take work before the schema they need is there`,
      );
      continue;
    }
    const gate = gates[0];
    if (gate.image !== job.image)
      problems.push(
        `${where(w, gate)}: checks the schema with ${gate.image}, but the migration Job runs ${job.image}: they must be the same release`,
      );
    const gateDatabase = secretRef(effectiveEnv(gate, set), 'DATABASE_URL');
    const appDatabase = secretRef(effectiveEnv(main, set), 'DATABASE_URL');
    if (!gateDatabase || gateDatabase !== appDatabase || gateDatabase !== jobDatabase)
      problems.push(
        `${where(w, gate)}: checks DATABASE_URL from ${gateDatabase ?? '(not a Secret)'}, the app uses ${appDatabase} and the migration ${jobDatabase}: all three must be the same`,
      );
  }
  return problems;
};

/**
 * Every pod runs under a ServiceAccount of its own workload's app (none shared between apps, never
 * `default`) that exists in the set and mounts no API token.
 */
export const checkServiceAccounts: Check = (set) => {
  const problems: string[] = [];
  const accounts = new Map(serviceAccounts(set).map(({ obj }) => [obj.metadata?.name ?? '', obj]));
  const usedBy = new Map<string, Set<string>>();
  for (const w of workloads(set)) {
    const name = w.template.spec?.serviceAccountName;
    if (!name || name === 'default') {
      problems.push(`${where(w)}: no serviceAccountName (runs as the namespace's default account)`);
      continue;
    }
    const account = accounts.get(name);
    if (!account) problems.push(`${where(w)}: ServiceAccount ${name} is not in the apply set`);
    else if (account.automountServiceAccountToken !== false)
      problems.push(`ServiceAccount/${name}: automountServiceAccountToken should be false`);
    const owner = w.kind === 'Job' ? (appOfImage(mainContainer(w)?.image) ?? w.name) : w.name;
    usedBy.set(name, new Set([...(usedBy.get(name) ?? []), owner]));
  }
  for (const [name, owners] of usedBy)
    if (owners.size > 1) problems.push(`ServiceAccount/${name} is shared by ${[...owners].join(', ')}: one per app`);
  return problems;
};

/**
 * Disruptions: a PDB lets an unhealthy pod go (unhealthyPodEvictionPolicy AlwaysAllow), or a node
 * drain blocks for as long as Redis or Postgres is down (worker readiness includes them); and the
 * app Deployments spread over nodes and zones.
 */
export const checkDisruption: Check = (set) => {
  const problems: string[] = [];
  for (const { doc, obj } of pdbs(set)) {
    if (obj.spec?.unhealthyPodEvictionPolicy !== 'AlwaysAllow')
      problems.push(
        `${describeDoc(doc)}: unhealthyPodEvictionPolicy should be AlwaysAllow (a drain would block while a database is down)`,
      );
  }
  for (const w of workloads(set).filter((x) => x.kind === 'Deployment')) {
    for (const key of ['kubernetes.io/hostname', 'topology.kubernetes.io/zone']) {
      const spread = (w.template.spec?.topologySpreadConstraints ?? []).find((t) => t.topologyKey === key);
      if (!spread) problems.push(`${where(w)}: no topologySpreadConstraint over ${key}`);
      else if (!selectorMatches(spread.labelSelector, podLabels(w)))
        problems.push(`${where(w)}: the ${key} spread constraint does not select its own pods`);
    }
  }
  return problems;
};

function preStopSleepSeconds(c: IContainer): number {
  const command = c.lifecycle?.preStop?.exec?.command ?? [];
  return command[0] === 'sleep' && command[1] !== undefined ? Number(command[1]) : 0;
}

function appEnvOf(
  w: Workload,
  c: IContainer,
  set: ApplySet,
  problems: string[],
): { app?: App; env: Map<string, EnvSource>; values: Record<string, string> } {
  const app = appOfImage(c.image);
  const envProblems: string[] = [];
  const env = effectiveEnv(c, set, envProblems);
  problems.push(...envProblems.map((p) => `${where(w, c)}: ${p}`));
  const values: Record<string, string> = {};
  for (const [name, source] of env) {
    const literal = literalEnv(env, name);
    if (literal !== undefined) values[name] = literal;
    else if (source.kind === 'secret') values[name] = PLACEHOLDER_SECRETS[name] ?? 'secret-placeholder';
  }
  return { app: app && isApp(app) ? app : undefined, env, values };
}

/**
 * Environment: what every app needs is there, secrets come from the Secret (never a literal), names
 * are ones the app reads, and the app's own validation accepts the result.
 */
export const checkEnv: Check = (set) => {
  const problems: string[] = [];
  const allKnown = new Set((['gateway', 'profile-worker', 'db-cli'] as const).flatMap((a) => [...knownEnvNames(a)]));
  for (const { doc, obj } of configMaps(set)) {
    if (obj.metadata?.name?.startsWith('worker-pattern-')) {
      for (const key of Object.keys(obj.data ?? {})) {
        if (!allKnown.has(key)) problems.push(`${describeDoc(doc)}: ${key} is read by no app (typo?)`);
      }
    }
  }
  for (const w of workloads(set)) {
    for (const c of containersOf(w)) {
      const { app, env, values } = appEnvOf(w, c, set, problems);
      if (!app) continue;
      const requireSet = (name: string) => {
        if (!env.has(name)) problems.push(`${where(w, c)}: ${name} is not set`);
      };
      const requireSecret = (name: string) => {
        const source = env.get(name);
        if (!source) problems.push(`${where(w, c)}: ${name} is not set`);
        else if (source.kind !== 'secret')
          problems.push(`${where(w, c)}: ${name} must come from a secretKeyRef, not a literal value`);
        else if (source.secret !== SECRET_NAME && !GENERATED_SECRET.test(source.secret))
          problems.push(`${where(w, c)}: ${name} comes from Secret ${source.secret}, expected ${SECRET_NAME}`);
      };
      // Workers and db-cli need Postgres; so do the gateway's writes (its reads never do).
      requireSecret('DATABASE_URL');
      if (app !== 'db-cli') {
        requireSecret('REDIS_URL');
        requireSet('HOST');
        if (values['HOST'] !== '0.0.0.0')
          problems.push(`${where(w, c)}: HOST is ${values['HOST'] ?? '(unset: 127.0.0.1)'}, must be 0.0.0.0 in a pod`);
        const httpPort = (c.ports ?? []).find((p) => p.name === 'http')?.containerPort;
        const port = values['PORT'] ? Number(values['PORT']) : appModuleDefaults(app).port;
        if (port !== httpPort) problems.push(`${where(w, c)}: listens on ${port}, but its http port is ${httpPort}`);
        if (port !== appModuleDefaults(app).port)
          problems.push(
            `${where(w, c)}: PORT ${port} differs from the app's documented port ${appModuleDefaults(app).port}`,
          );
      }
      if (app === 'gateway') requireSecret('JWT_SECRET');
      if (isWorkerApp(app) && w.kind === 'Deployment' && !(w.template.spec?.initContainers ?? []).includes(c)) {
        for (const name of SHARED_WORKER_SETTINGS) {
          const source = env.get(name);
          if (!source?.from.startsWith('ConfigMap '))
            problems.push(
              `${where(w, c)}: ${name} ${source ? 'is set in the Deployment' : 'is not set'}: every worker must read it from the worker ConfigMap (k8s/base/worker.env), so they agree`,
            );
        }
      }
      if (values['NODE_ENV'] !== 'production')
        problems.push(
          `${where(w, c)}: NODE_ENV is ${values['NODE_ENV'] ?? '(unset: development)'}, expected production`,
        );
      for (const variable of c.env ?? []) {
        if (!knownEnvNames(app).has(variable.name))
          problems.push(`${where(w, c)}: ${variable.name} is not read by ${app} (typo?)`);
      }
      try {
        validateAppEnv(app, values);
      } catch (error) {
        const message = (error instanceof Error ? error.message : String(error)).replace(/\n\s*/g, ' ');
        problems.push(`${where(w, c)}: ${app} would refuse to start: ${message}`);
      }
    }
  }
  return problems;
};

/**
 * Shutdown: after SIGTERM a worker lets in-flight jobs finish (bounded by SHUTDOWN_TIMEOUT_MS);
 * the grace period must cover that plus any preStop sleep, the budget must cover the longest job
 * (a fragment's buildTimeoutMs; for the invalidation worker, its one query's statement timeout),
 * and Bull's lock must outlast a job or the job runs twice.
 */
export const checkShutdownBudget: Check = (set) => {
  const problems: string[] = [];
  for (const w of workloads(set).filter((x) => x.kind === 'Deployment')) {
    for (const c of w.template.spec?.containers ?? []) {
      const { app, values } = appEnvOf(w, c, set, []);
      if (!app || app === 'db-cli') continue;
      let parsed: Record<string, unknown>;
      try {
        parsed = validateAppEnv(app, values);
      } catch {
        continue; // checkEnv reports it
      }
      const graceMs = (w.template.spec?.terminationGracePeriodSeconds ?? 30) * 1000;
      const shutdownMs = Number(parsed['SHUTDOWN_TIMEOUT_MS']);
      const preStopMs = preStopSleepSeconds(c) * 1000;
      if (graceMs <= shutdownMs + preStopMs) {
        problems.push(
          `${where(w, c)}: terminationGracePeriodSeconds ${graceMs / 1000} s does not cover preStop ${preStopMs / 1000} s + SHUTDOWN_TIMEOUT_MS ${shutdownMs} ms`,
        );
      }
      if (isWorkerApp(app)) {
        const job = longestJobMs(app, parsed);
        if (job.ms === Infinity)
          problems.push(
            `${where(w, c)}: ${job.what} is 0: its jobs have no upper bound, so no shutdown budget or Bull lock can cover one`,
          );
        else {
          if (shutdownMs <= job.ms)
            problems.push(
              `${where(w, c)}: SHUTDOWN_TIMEOUT_MS ${shutdownMs} ≤ ${job.what} ${job.ms}: a job in flight at SIGTERM could be cut off`,
            );
          const lock = Number(parsed['BULL_LOCK_DURATION_MS']);
          if (lock <= job.ms)
            problems.push(
              `${where(w, c)}: BULL_LOCK_DURATION_MS ${lock} ≤ ${job.what} ${job.ms}: Bull would call a slow job stalled and run it twice`,
            );
        }
        if (isFragmentWorkerApp(app) && graceMs <= LONGEST_BUILD_TIMEOUT_MS)
          problems.push(
            `${where(w, c)}: terminationGracePeriodSeconds ${graceMs / 1000} s ≤ the longest build (${LONGEST_BUILD_TIMEOUT_MS} ms)`,
          );
      }
    }
  }
  return problems;
};

/** The prometheus-adapter config's external rules, from its ConfigMap. */
export interface AdapterExternalRule {
  seriesQuery: string;
  name?: { matches?: string; as?: string };
  metricsQuery: string;
  resources?: { overrides?: Record<string, { resource: string }>; namespaced?: boolean };
}

export function adapterExternalRules(set: ApplySet): AdapterExternalRule[] {
  return configMaps(set).flatMap(({ obj }) => {
    const text = obj.data?.['config.yaml'];
    if (!text) return [];
    const config = parseYaml(text) as { externalRules?: AdapterExternalRule[] };
    return config.externalRules ?? [];
  });
}

function externalRuleFor(rules: readonly AdapterExternalRule[], metric: string): AdapterExternalRule | undefined {
  return rules.find((rule) => (rule.name?.as ?? rule.seriesQuery.match(/^(\w+)/)?.[1]) === metric);
}

/**
 * The worker autoscalers scale each worker on its own queue's backlog: the metric exists (an adapter
 * rule or a Prometheus query over bull_queue_jobs waiting + active), the selector names the worker's
 * own queue, the per-pod target stays below the pod's concurrency, CPU is a second metric, and the
 * behaviour scales up fast and down slowly. The gateway scales on CPU.
 */
export function checkScalingSignals(adapterRules: readonly AdapterExternalRule[]): Check {
  return (set) => {
    const problems: string[] = [];
    const concurrencyOf = (name: string): number | undefined => {
      const w = workloads(set).find((x) => x.kind === 'Deployment' && x.name === name);
      const c = w?.template.spec?.containers?.[0];
      if (!w || !c || !isWorkerApp(name)) return undefined;
      const literal = literalEnv(effectiveEnv(c, set), 'WORKER_CONCURRENCY');
      return literal !== undefined ? Number(literal) : appModuleDefaults(name).concurrency;
    };
    const checkBehavior = (id: string, behavior: IHorizontalPodAutoscalerBehavior | undefined) => {
      const up = behavior?.scaleUp;
      const down = behavior?.scaleDown;
      if ((up?.stabilizationWindowSeconds ?? 0) > 15)
        problems.push(
          `${id}: scale-up stabilization ${up?.stabilizationWindowSeconds} s is too slow for a bursty queue`,
        );
      const fastUp = (up?.policies ?? []).some(
        (p) =>
          p.periodSeconds <= 15 && ((p.type === 'Percent' && p.value >= 100) || (p.type === 'Pods' && p.value >= 4)),
      );
      if (!fastUp || up?.selectPolicy === 'Disabled')
        problems.push(`${id}: no scale-up policy allows +100% or +4 pods per 15 s`);
      if ((down?.stabilizationWindowSeconds ?? 300) < 120)
        problems.push(
          `${id}: scale-down stabilization ${down?.stabilizationWindowSeconds} s is too short: a queue that empties for a minute would lose its pods`,
        );
      if (!down?.policies?.length) problems.push(`${id}: no scale-down policy limits how fast pods go away`);
    };
    for (const { doc, obj } of hpas(set)) {
      const id = describeDoc(doc);
      const target = obj.spec?.scaleTargetRef.name ?? '';
      const metrics = obj.spec?.metrics ?? [];
      const cpu = metrics.find(
        (m) => m.type === 'Resource' && m.resource?.name === 'cpu' && m.resource.target.type === 'Utilization',
      );
      if (!cpu) problems.push(`${id}: no CPU utilization metric`);
      if (!isWorkerApp(target)) {
        if (metrics.some((m) => m.type === 'External'))
          problems.push(`${id}: the gateway does no queued work; scale it on CPU`);
        continue;
      }
      checkBehavior(id, obj.spec?.behavior);
      const external = metrics.filter((m) => m.type === 'External');
      const ext = external[0]?.external;
      if (external.length !== 1 || !ext) {
        problems.push(`${id}: expected exactly one External metric (its queue's backlog), found ${external.length}`);
        continue;
      }
      const queue = WORKER_QUEUES[target];
      const selector = ext.metric.selector?.matchLabels ?? {};
      if (Object.keys(selector).join() !== 'queue' || selector['queue'] !== queue) {
        problems.push(
          `${id}: the External metric must select exactly queue=${queue} (the worker's own queue), got ${JSON.stringify(selector)}`,
        );
      }
      if (ext.target.type !== 'AverageValue' || ext.target.averageValue === undefined) {
        problems.push(`${id}: the backlog target must be an AverageValue per pod`);
        continue;
      }
      const perPod = parseQuantity(ext.target.averageValue);
      const concurrency = concurrencyOf(target);
      if (concurrency !== undefined && perPod >= concurrency) {
        problems.push(
          `${id}: backlog target ${perPod} per pod ≥ WORKER_CONCURRENCY ${concurrency}: the HPA would settle with a standing queue`,
        );
      }
      const rule = externalRuleFor(adapterRules, ext.metric.name);
      if (!rule) {
        problems.push(`${id}: no prometheus-adapter external rule serves ${ext.metric.name}`);
      } else {
        if (!rule.seriesQuery.includes('bull_queue_jobs'))
          problems.push(`${id}: adapter rule for ${ext.metric.name} does not read bull_queue_jobs`);
        if (!/state=~"waiting\|active"/.test(rule.metricsQuery))
          problems.push(`${id}: adapter rule for ${ext.metric.name} must count state waiting|active`);
        if (!/sum by \(queue\)/.test(rule.metricsQuery))
          problems.push(`${id}: adapter rule for ${ext.metric.name} must group by queue (the HPA selects on it)`);
        if (!rule.resources?.overrides?.['namespace'])
          problems.push(
            `${id}: adapter rule for ${ext.metric.name} should map the namespace label (each HPA sees its own namespace)`,
          );
        // The rule must admit this HPA's own series: a matcher on queue (or state, or namespace) that
        // leaves it out serves an empty metric, and the HPA would never scale on the backlog.
        for (const state of ['waiting', 'active']) {
          const labels = { __name__: 'bull_queue_jobs', namespace: obj.metadata?.namespace ?? '', queue, state };
          for (const [part, text] of [
            ['seriesQuery', rule.seriesQuery],
            ['metricsQuery', rule.metricsQuery],
          ] as const) {
            const refused = promMatchers(text).find((m) => !matcherAdmits(m, labels));
            if (refused)
              problems.push(
                `${id}: adapter rule for ${ext.metric.name} does not admit ${JSON.stringify(labels)}: its ${part} has ${refused.text}`,
              );
          }
        }
      }
    }
    // The workers' Bull prefix, as their ConfigMap sets it (the apps' default is `bull`).
    const bullPrefix =
      configMaps(set)
        .map(({ obj }) => obj.data?.['BULL_PREFIX'])
        .find((v) => v !== undefined) ?? 'bull';
    for (const { doc, obj } of scaledObjects(set)) {
      const id = describeDoc(doc);
      const target = obj.spec.scaleTargetRef.name;
      if (!isWorkerApp(target)) continue;
      checkBehavior(
        id,
        obj.spec.advanced?.horizontalPodAutoscalerConfig?.behavior as IHorizontalPodAutoscalerBehavior | undefined,
      );
      const queue = WORKER_QUEUES[target];
      const concurrency = concurrencyOf(target);
      const min = obj.spec.minReplicaCount ?? 0;
      const max = obj.spec.maxReplicaCount ?? 100;
      const fallback = obj.spec.fallback;
      // A backlog that cannot be read must neither drop the worker to its minimum nor pin it at its maximum.
      if (!fallback) problems.push(`${id}: no fallback: KEDA would stop scaling on the backlog when it cannot read it`);
      else {
        if (!(fallback.failureThreshold >= 1)) problems.push(`${id}: fallback.failureThreshold must be at least 1`);
        if (!(fallback.replicas > min && fallback.replicas < max))
          problems.push(
            `${id}: fallback.replicas ${fallback.replicas} should lie strictly between min ${min} and max ${max}`,
          );
      }
      if (!obj.spec.triggers.some((t) => t.type === 'cpu')) problems.push(`${id}: no cpu trigger`);
      const backlog = obj.spec.triggers.filter((t) => t.type !== 'cpu' && t.type !== 'memory');
      const modifiers = (
        obj.spec.advanced as unknown as {
          scalingModifiers?: { formula?: string; target?: string; metricType?: string };
        }
      )?.scalingModifiers;
      if (modifiers) {
        // Redis-direct: the queue's wait and active lists, added up into one per-pod target.
        const listOf = (suffix: string) => `${bullQueuePrefix(bullPrefix, queue)}:${queue}:${suffix}`;
        for (const suffix of ['wait', 'active']) {
          const trigger = backlog.find((t) => t.type === 'redis' && t.metadata['listName'] === listOf(suffix));
          if (!trigger) {
            problems.push(`${id}: no redis trigger on the list ${listOf(suffix)}`);
            continue;
          }
          if (!trigger.name || !new RegExp(`\\b${trigger.name}\\b`).test(modifiers.formula ?? ''))
            problems.push(`${id}: scalingModifiers.formula "${modifiers.formula}" leaves out the ${suffix} list`);
        }
        if (backlog.length !== 2)
          problems.push(`${id}: expected two backlog triggers (wait, active), found ${backlog.length}`);
        if (!/^\s*\w+\s*\+\s*\w+\s*$/.test(modifiers.formula ?? ''))
          problems.push(`${id}: scalingModifiers.formula must add the two lists, got "${modifiers.formula}"`);
        if ((modifiers.metricType ?? 'AverageValue') !== 'AverageValue')
          problems.push(`${id}: scalingModifiers.metricType must be AverageValue (a target per pod)`);
        const threshold = Number(modifiers.target);
        if (concurrency !== undefined && !(threshold < concurrency))
          problems.push(`${id}: backlog target ${modifiers.target} per pod ≥ WORKER_CONCURRENCY ${concurrency}`);
        continue;
      }
      if (backlog.length !== 1) {
        problems.push(`${id}: expected exactly one backlog trigger, found ${backlog.length}`);
        continue;
      }
      const trigger = backlog[0];
      if (trigger.type === 'prometheus') {
        const query = trigger.metadata['query'] ?? '';
        if (!query.includes(`queue="${queue}"`))
          problems.push(`${id}: the Prometheus query must select queue="${queue}"`);
        if (!query.includes(`namespace="${obj.metadata?.namespace}"`))
          problems.push(`${id}: the Prometheus query must select namespace="${obj.metadata?.namespace}"`);
        if (!query.includes('bull_queue_jobs') || !query.includes('state=~"waiting|active"'))
          problems.push(`${id}: the query must count bull_queue_jobs waiting|active`);
        if (!/max by \(state\)/.test(query))
          problems.push(
            `${id}: every pod reports the same queue counts: take the max per state, never the sum over pods`,
          );
        if (trigger.metadata['ignoreNullValues'] !== 'false')
          problems.push(
            `${id}: ignoreNullValues must be "false": by default an empty result reads as a backlog of 0 and scales the worker down`,
          );
      } else {
        problems.push(
          `${id}: trigger type ${trigger.type} is not the queue backlog (prometheus, or redis with scalingModifiers)`,
        );
      }
      const threshold = Number(trigger.metadata['threshold']);
      if (concurrency !== undefined && !(threshold < concurrency))
        problems.push(`${id}: backlog threshold ${threshold} per pod ≥ WORKER_CONCURRENCY ${concurrency}`);
    }
    return problems;
  };
}

/**
 * Autoscaling that holds when the backlog metric vanishes: each worker autoscaler of the set, simulated
 * with its own settings (lib/hpa/missing-metric.ts), must not scale the worker to its minimum while the
 * metric is missing during a backlog, must scale down again once it is back and the backlog is gone,
 * and (KEDA) must lift a worker caught at its minimum to its fallback.
 */
export function checkMissingMetric(adapterRules: readonly AdapterExternalRule[]): Check {
  return (set) => workerAutoscaling(set, adapterRules).flatMap((w) => judgeMissingMetric(w).problems);
}

/** A PromQL label matcher, e.g. `queue!=""` or `state=~"waiting|active"`. */
export interface PromMatcher {
  readonly label: string;
  readonly op: '=' | '!=' | '=~' | '!~';
  readonly value: string;
  readonly text: string;
}

/**
 * The label matchers inside the `{…}` selectors of a PromQL (or adapter template) expression;
 * template placeholders such as `<<.LabelMatchers>>` are left out (the adapter fills them with the
 * HPA's own namespace and selector).
 */
export function promMatchers(query: string): PromMatcher[] {
  const matchers: PromMatcher[] = [];
  for (const block of query.matchAll(/\{([^{}]*)\}/g)) {
    for (const m of block[1].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)) {
      matchers.push({ label: m[1], op: m[2] as PromMatcher['op'], value: m[3].replace(/\\(.)/g, '$1'), text: m[0] });
    }
  }
  return matchers;
}

/** Whether a series with these labels passes the matcher (PromQL regexes are fully anchored). */
export function matcherAdmits(matcher: PromMatcher, labels: Readonly<Record<string, string>>): boolean {
  const value = labels[matcher.label] ?? '';
  switch (matcher.op) {
    case '=':
      return value === matcher.value;
    case '!=':
      return value !== matcher.value;
    case '=~':
      return new RegExp(`^(?:${matcher.value})$`).test(value);
    case '!~':
      return !new RegExp(`^(?:${matcher.value})$`).test(value);
  }
}

function peerAllowsMonitoring(peer: INetworkPolicyPeer): boolean {
  return (
    peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'monitoring' &&
    !peer.podSelector &&
    !peer.ipBlock
  );
}

/**
 * Expected egress ports per app (53 for DNS everywhere). The gateway reaches Postgres for its writes
 * (its reads never need it); every worker reaches Redis and Postgres; the migration only Postgres.
 */
const EGRESS: Readonly<Record<App, readonly number[]>> = {
  gateway: [53, 5432, 6379],
  'profile-worker': [53, 5432, 6379],
  'feed-worker': [53, 5432, 6379],
  'recommendations-worker': [53, 5432, 6379],
  'invalidation-worker': [53, 5432, 6379],
  'db-cli': [53, 5432],
};

/**
 * Network: default deny; only the gateway takes traffic from anywhere, and never on its management
 * port; Prometheus may scrape every app (on the management port when there is one); egress is DNS plus Redis and/or Postgres as each app needs, nothing more.
 */
export const checkNetworkPolicies: Check = (set) => {
  const problems: string[] = [];
  const policies = networkPolicies(set);
  const defaultDeny = policies.find(
    ({ obj }) =>
      isEmptySelector(obj.spec?.podSelector) &&
      (obj.spec?.policyTypes ?? []).includes('Ingress') &&
      (obj.spec?.policyTypes ?? []).includes('Egress') &&
      !(obj.spec?.ingress ?? []).length &&
      !(obj.spec?.egress ?? []).length,
  );
  if (!defaultDeny) problems.push('no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules)');
  for (const w of workloads(set)) {
    const app = appOfImage(mainContainer(w)?.image);
    if (!app || !isApp(app)) continue;
    const selecting = policies.filter(
      ({ obj }) => obj.metadata?.namespace === w.namespace && selectorMatches(obj.spec?.podSelector, podLabels(w)),
    );
    const ingress = selecting.flatMap(({ obj }) =>
      (obj.spec?.policyTypes ?? ['Ingress']).includes('Ingress') ? (obj.spec?.ingress ?? []) : [],
    );
    const egress = selecting.flatMap(({ obj }) =>
      (obj.spec?.policyTypes ?? []).includes('Egress') ? (obj.spec?.egress ?? []) : [],
    );
    const openIngress = ingress.filter((rule) => !rule.from || rule.from.length === 0);
    const c = mainContainer(w);
    const management = c && (HTTP_APPS as readonly string[]).includes(app) ? managementPortOf(c, set) : undefined;
    if (c && management !== undefined) {
      const coversManagement = (ports: (typeof ingress)[number]['ports']) =>
        !ports || ports.length === 0 || ports.some((p) => containerPortOf(c, p.port) === management);
      if (openIngress.some((rule) => coversManagement(rule.ports)))
        problems.push(
          `${where(w)}: ingress from anywhere reaches its management port (${management}); only Prometheus (namespace monitoring) may`,
        );
      if (!ingress.some((rule) => (rule.from ?? []).some(peerAllowsMonitoring) && coversManagement(rule.ports)))
        problems.push(
          `${where(w)}: Prometheus (namespace monitoring) cannot scrape /metrics on its management port (${management})`,
        );
    }
    if (app === 'gateway') {
      if (openIngress.length === 0)
        problems.push(`${where(w)}: the gateway must be reachable from outside the namespace`);
    } else {
      if (openIngress.length > 0) problems.push(`${where(w)}: only the gateway may take traffic from anywhere`);
      for (const rule of ingress) {
        if (!(rule.from ?? []).every(peerAllowsMonitoring))
          problems.push(
            `${where(w)}: ingress allowed from ${JSON.stringify(rule.from)}, only Prometheus (namespace monitoring) may scrape it`,
          );
      }
      if (
        (HTTP_APPS as readonly string[]).includes(app) &&
        !ingress.some((rule) => (rule.from ?? []).some(peerAllowsMonitoring))
      ) {
        problems.push(`${where(w)}: Prometheus (namespace monitoring) cannot scrape /metrics`);
      }
    }
    const ports = [...new Set(egress.flatMap((rule) => (rule.ports ?? []).map((p) => Number(p.port))))].sort(
      (a, b) => a - b,
    );
    if (egress.some((rule) => !rule.ports || rule.ports.length === 0))
      problems.push(`${where(w)}: an egress rule without ports allows everything`);
    if (ports.join() !== [...EGRESS[app]].sort((a, b) => a - b).join()) {
      problems.push(`${where(w)}: egress to ports [${ports.join(', ')}], expected [${EGRESS[app].join(', ')}]`);
    }
  }
  return problems;
};

/** The Namespace annotation that states how many Postgres connections the apps may open at most. */
export const CONNECTION_BUDGET_ANNOTATION = 'worker-pattern/postgres-connection-budget';
/** db-cli's pool (apps/db-cli/src/cli.ts): the migration Job's connections while it runs. */
const DB_CLI_CONNECTIONS = 2;

export interface ConnectionRow {
  readonly app: string;
  readonly pods: number;
  readonly perPod: number;
  /** Connections of its own beyond the pool (the invalidation worker's LISTEN). */
  readonly extra: number;
}

/** Postgres connections at maximum scale: per Deployment that reaches Postgres, its autoscaler's max × (pool + extra). */
export function postgresConnectionsAtMaxScale(set: ApplySet): ConnectionRow[] {
  const rows: ConnectionRow[] = [];
  for (const a of autoscalers(set)) {
    const w = workloads(set).find((x) => x.kind === 'Deployment' && x.name === a.target.name);
    const container = w && mainContainer(w);
    if (!container) continue;
    const env = effectiveEnv(container, set);
    if (!env.has('DATABASE_URL')) continue;
    const pool = Number(literalEnv(env, 'DATABASE_POOL_SIZE') ?? DEFAULT_POOL_SIZE);
    const extra = isApp(a.target.name) ? (EXTRA_POSTGRES_CONNECTIONS[a.target.name] ?? 0) : 0;
    rows.push({ app: a.target.name, pods: a.max, perPod: pool, extra });
  }
  return rows;
}

export function totalConnections(rows: readonly ConnectionRow[]): number {
  return rows.reduce((sum, r) => sum + r.pods * (r.perPod + r.extra), DB_CLI_CONNECTIONS);
}

/**
 * The connection budget: every app at its autoscaler's maximum, plus a migration, stays within the
 * connections the Namespace says the Postgres primary (or PgBouncer's max_client_conn) allows.
 */
export const checkConnectionBudget: Check = (set) => {
  const namespace = set.docs.find((d) => d.body.kind === 'Namespace' && d.body.metadata?.name === NAMESPACE);
  if (!namespace) return [];
  const raw = namespace.body.metadata?.annotations?.[CONNECTION_BUDGET_ANNOTATION];
  const budget = Number(raw);
  if (!raw || !Number.isInteger(budget) || budget < 1)
    return [
      `${describeDoc(namespace)}: annotation ${CONNECTION_BUDGET_ANNOTATION} must state the Postgres connections the apps may open (a positive integer), got ${raw ?? '(none)'}`,
    ];
  const rows = postgresConnectionsAtMaxScale(set);
  const total = totalConnections(rows);
  if (total <= budget) return [];
  const parts = rows.map((r) => `${r.app} ${r.pods} × ${r.perPod + r.extra}`).join(', ');
  return [
    `Postgres connections at maximum scale: ${total} (${parts}, db-cli ${DB_CLI_CONNECTIONS}) exceed the budget of ${budget} (${CONNECTION_BUDGET_ANNOTATION}): lower DATABASE_POOL_SIZE or a maximum, or raise Postgres' max_connections and the budget`,
  ];
};

/** The checks every apply set of the app's namespace gets. */
export function appSetChecks(adapterRules: readonly AdapterExternalRule[]): Array<[string, Check]> {
  return [
    ['names', checkNames],
    ['registry apps', checkRegistryApps],
    ['namespace', checkNamespace(NAMESPACE)],
    ['labels', checkLabels],
    ['selectors', checkSelectors],
    ['autoscalers', checkAutoscalers],
    ['pod security', checkPodSecurity],
    ['resources', checkResources],
    ['probes', checkProbes],
    ['scrape annotations', checkScrapeAnnotations],
    ['management port', checkManagementPort],
    ['images', checkImages],
    ['schema gate', checkSchemaGate],
    ['service accounts', checkServiceAccounts],
    ['disruption', checkDisruption],
    ['environment', checkEnv],
    ['shutdown budget', checkShutdownBudget],
    ['scaling signals', checkScalingSignals(adapterRules)],
    ['missing backlog metric', checkMissingMetric(adapterRules)],
    ['network policies', checkNetworkPolicies],
    ['connection budget', checkConnectionBudget],
  ];
}
