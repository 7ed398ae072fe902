import type { IScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { HTTP_APPS, isWorkerApp } from './lib/app-facts';
import { loadApplySets } from './lib/apply-sets';
import {
  adapterExternalRules,
  checkAutoscalers,
  checkConnectionBudget,
  checkDisruption,
  checkEnv,
  checkImages,
  checkLabels,
  checkManagementPort,
  checkMissingMetric,
  checkNames,
  checkRegistryApps,
  checkNamespace,
  checkNetworkPolicies,
  checkPodSecurity,
  checkProbes,
  checkResources,
  checkScrapeAnnotations,
  checkScalingSignals,
  checkSchemaGate,
  checkSelectors,
  checkServiceAccounts,
  checkShutdownBudget,
} from './lib/k8s-checks';
import type { ApplySet } from './lib/k8s-objects';

/**
 * Every semantic check must be able to fail. Each case breaks one thing in a copy of the real
 * manifests, the way a careless edit would, and expects the check to name it. (The real manifests
 * pass the same checks in k8s-semantics.spec.ts.)
 */

const sets = loadApplySets();
const adapterRules = adapterExternalRules(sets.adapter);
const checkSignals = checkScalingSignals(adapterRules);
const checkMissing = checkMissingMetric(adapterRules);

function mutate<T>(set: ApplySet, kind: string, name: string, edit: (obj: T) => void): ApplySet {
  let found = false;
  const docs = set.docs.map((doc) => {
    if (doc.body.kind !== kind || doc.body.metadata?.name !== name) return doc;
    found = true;
    const body = structuredClone(doc.body);
    edit(body as unknown as T);
    return { ...doc, body };
  });
  if (!found) throw new Error(`no ${kind}/${name} in ${set.name}`);
  return { name: `${set.name} (broken)`, docs };
}

const container = (d: IDeployment): IContainer => d.spec!.template.spec!.containers[0];
const envVar = (d: IDeployment, name: string) => container(d).env!.find((e) => e.name === name)!;
const top = sets.top;

describe('the registry’s apps (libs/registry) all deployed', () => {
  it.each(HTTP_APPS.map((app) => [app]))('names %s when its Deployment, Service or autoscaler is gone', (app) => {
    const without = { name: `${top.name} without ${app}`, docs: top.docs.filter((d) => d.body.metadata?.name !== app) };
    const expected = [
      `${without.name}: app ${app} of the registry has no Deployment`,
      `${without.name}: app ${app} of the registry has no Service`,
      ...(isWorkerApp(app) ? [`${without.name}: worker ${app} has no autoscaler`] : []),
    ];
    expect(checkRegistryApps(without)).toEqual(expected);
    expect(checkRegistryApps(top)).toEqual([]);
  });
});

describe('each check catches what it is for', () => {
  it.each<[string, () => string[], RegExp]>([
    // names
    [
      'an invalid Service name',
      () => checkNames(mutate<IService>(top, 'Service', 'gateway', (s) => (s.metadata!.name = 'Gateway_1'))),
      /"Gateway_1" is not a valid Service name/,
    ],
    [
      'an invalid label value',
      () =>
        checkNames(
          mutate<IService>(
            top,
            'Service',
            'gateway',
            (s) => (s.metadata!.labels!['app.kubernetes.io/name'] = 'not valid!'),
          ),
        ),
      /invalid value of label/,
    ],
    // namespace and labels
    [
      'a namespaced object without namespace',
      () =>
        checkNamespace('worker-pattern')(
          mutate<IConfigMap>(top, 'ConfigMap', 'worker-pattern-common', (c) => delete c.metadata!.namespace),
        ),
      /namespace is \(unset/,
    ],
    [
      'a missing part-of label',
      () =>
        checkLabels(
          mutate<IPodDisruptionBudget>(
            top,
            'PodDisruptionBudget',
            'feed-worker',
            (p) => delete p.metadata!.labels!['app.kubernetes.io/part-of'],
          ),
        ),
      /part-of is missing/,
    ],
    // selectors
    [
      'a Service selecting no pods',
      () =>
        checkSelectors(
          mutate<IService>(
            top,
            'Service',
            'feed-worker',
            (s) => (s.spec!.selector!['app.kubernetes.io/name'] = 'feed-wroker'),
          ),
        ),
      /matches no pods/,
    ],
    [
      'a Service targeting a port the pods do not have',
      () => checkSelectors(mutate<IService>(top, 'Service', 'gateway', (s) => (s.spec!.ports![0].targetPort = 'web'))),
      /targetPort web is not a port/,
    ],
    [
      'a Deployment selector that misses its own pods',
      () =>
        checkSelectors(
          mutate<IDeployment>(
            top,
            'Deployment',
            'gateway',
            (d) => (d.spec!.selector.matchLabels!['app.kubernetes.io/name'] = 'gw'),
          ),
        ),
      /selector does not match the template's labels/,
    ],
    [
      'a Deployment without PDB',
      () =>
        checkSelectors({
          name: 'no pdb',
          docs: top.docs.filter(
            (d) => !(d.body.kind === 'PodDisruptionBudget' && d.body.metadata?.name === 'invalidation-worker'),
          ),
        }),
      /Deployment\/invalidation-worker: no PodDisruptionBudget covers its pods/,
    ],
    [
      'a PDB selecting nothing',
      () =>
        checkSelectors(
          mutate<IPodDisruptionBudget>(
            top,
            'PodDisruptionBudget',
            'feed-worker',
            (p) => (p.spec!.selector!.matchLabels!['app.kubernetes.io/name'] = 'feed'),
          ),
        ),
      /selector matches no Deployment's pods/,
    ],
    [
      'a NetworkPolicy selecting nothing',
      () =>
        checkSelectors(
          mutate<INetworkPolicy>(
            top,
            'NetworkPolicy',
            'workers',
            (n) => (n.spec!.podSelector.matchLabels!['app.kubernetes.io/component'] = 'workers'),
          ),
        ),
      /podSelector matches no pods/,
    ],
    [
      'a NetworkPolicy on a port name the pods lack',
      () =>
        checkSelectors(
          mutate<INetworkPolicy>(
            top,
            'NetworkPolicy',
            'workers',
            (n) => (n.spec!.ingress![0].ports![0].port = 'metrics'),
          ),
        ),
      /ingress port "metrics" is not a named port/,
    ],
    // autoscalers
    [
      'an HPA whose target does not exist',
      () =>
        checkAutoscalers(
          mutate<IHorizontalPodAutoscaler>(
            top,
            'HorizontalPodAutoscaler',
            'feed-worker',
            (h) => (h.spec!.scaleTargetRef.name = 'feed'),
          ),
        ),
      /scale target Deployment feed does not exist/,
    ],
    [
      'minReplicas above maxReplicas',
      () =>
        checkAutoscalers(
          mutate<IHorizontalPodAutoscaler>(
            top,
            'HorizontalPodAutoscaler',
            'feed-worker',
            (h) => (h.spec!.minReplicas = 20),
          ),
        ),
      /min replicas 20 > max replicas 12/,
    ],
    [
      'a scaled Deployment that sets replicas',
      () => checkAutoscalers(mutate<IDeployment>(top, 'Deployment', 'feed-worker', (d) => (d.spec!.replicas = 3))),
      /sets spec.replicas/,
    ],
    [
      'an HPA and a ScaledObject on one Deployment (components/hpa and components/keda in one overlay)',
      () =>
        checkAutoscalers({
          name: 'k8s + components/keda',
          docs: [...top.docs, ...sets.keda.docs.filter((d) => d.body.kind === 'ScaledObject')],
        }),
      /feed-worker is scaled by 2 autoscalers \(HorizontalPodAutoscaler\/feed-worker in k8s\/61-hpa-workers.yaml, ScaledObject\/feed-worker in kubectl apply -k k8s\/overlays\/production \(components\/keda instead/,
    ],
    [
      'a Deployment without autoscaler',
      () =>
        checkAutoscalers({
          name: 'no hpa',
          docs: top.docs.filter(
            (d) => !(d.body.kind === 'HorizontalPodAutoscaler' && d.body.metadata?.name === 'gateway'),
          ),
        }),
      /Deployment\/gateway: no autoscaler targets it/,
    ],
    // pod security
    [
      'a writable root filesystem',
      () =>
        checkPodSecurity(
          mutate<IDeployment>(
            top,
            'Deployment',
            'feed-worker',
            (d) => (container(d).securityContext!.readOnlyRootFilesystem = false),
          ),
        ),
      /readOnlyRootFilesystem is not true/,
    ],
    [
      'privilege escalation',
      () =>
        checkPodSecurity(
          mutate<IDeployment>(
            top,
            'Deployment',
            'gateway',
            (d) => delete container(d).securityContext!.allowPrivilegeEscalation,
          ),
        ),
      /allowPrivilegeEscalation is not false/,
    ],
    [
      'kept capabilities',
      () =>
        checkPodSecurity(
          mutate<IDeployment>(
            top,
            'Deployment',
            'gateway',
            (d) => (container(d).securityContext!.capabilities = { drop: ['NET_RAW'] }),
          ),
        ),
      /drop does not include ALL/,
    ],
    [
      'running as root allowed',
      () =>
        checkPodSecurity(
          mutate<IDeployment>(top, 'Deployment', 'gateway', (d) => {
            delete container(d).securityContext!.runAsNonRoot;
            delete d.spec!.template.spec!.securityContext!.runAsNonRoot;
          }),
        ),
      /runAsNonRoot is not true/,
    ],
    [
      'no seccomp profile',
      () =>
        checkPodSecurity(
          mutate<IDeployment>(top, 'Deployment', 'gateway', (d) => {
            delete container(d).securityContext!.seccompProfile;
            delete d.spec!.template.spec!.securityContext!.seccompProfile;
          }),
        ),
      /seccompProfile is not RuntimeDefault/,
    ],
    // resources and probes
    [
      'no memory limit',
      () =>
        checkResources(
          mutate<IDeployment>(
            top,
            'Deployment',
            'feed-worker',
            (d) => delete container(d).resources!.limits!['memory'],
          ),
        ),
      /no memory limit/,
    ],
    [
      'a request above its limit',
      () =>
        checkResources(
          mutate<IDeployment>(
            top,
            'Deployment',
            'feed-worker',
            (d) => (container(d).resources!.requests!['cpu'] = '2'),
          ),
        ),
      /cpu request 2 is above its limit 1/,
    ],
    [
      'no readiness probe',
      () =>
        checkProbes(
          mutate<IDeployment>(top, 'Deployment', 'recommendations-worker', (d) => delete container(d).readinessProbe),
        ),
      /no readinessProbe/,
    ],
    [
      'liveness on the readiness endpoint',
      () =>
        checkProbes(
          mutate<IDeployment>(
            top,
            'Deployment',
            'gateway',
            (d) => (container(d).livenessProbe!.httpGet!.path = '/health/ready'),
          ),
        ),
      /livenessProbe checks \/health\/ready/,
    ],
    [
      'probes left on the app port, which 404s them once MANAGEMENT_PORT is set',
      () =>
        checkProbes(
          mutate<IDeployment>(
            top,
            'Deployment',
            'gateway',
            (d) => (container(d).readinessProbe!.httpGet!.port = 'http'),
          ),
        ),
      /Deployment\/gateway.*: readinessProbe on port http, but MANAGEMENT_PORT is 9464/,
    ],
    // management port
    [
      'a Service exposing the management port by name',
      () =>
        checkManagementPort(
          mutate<IService>(top, 'Service', 'gateway', (s) =>
            s.spec!.ports!.push({ name: 'metrics', port: 9464, targetPort: 'management', protocol: 'TCP' }),
          ),
        ),
      /Service\/gateway.*: port metrics exposes the management port \(management\) of .*Deployment\/gateway/,
    ],
    [
      'a Service exposing the management port by number',
      () =>
        checkManagementPort(
          mutate<IService>(top, 'Service', 'feed-worker', (s) => (s.spec!.ports![0]!.targetPort = 9464)),
        ),
      /Service\/feed-worker.*: port http exposes the management port \(9464\) of .*Deployment\/feed-worker/,
    ],
    [
      'MANAGEMENT_PORT without a container port named management',
      () =>
        checkManagementPort(
          mutate<IDeployment>(
            top,
            'Deployment',
            'profile-worker',
            (d) => (container(d).ports = container(d).ports!.filter((p) => p.name !== 'management')),
          ),
        ),
      /MANAGEMENT_PORT is 9464 but no container port is named management/,
    ],
    [
      'a management container port that is not MANAGEMENT_PORT',
      () =>
        checkManagementPort(
          mutate<IDeployment>(
            top,
            'Deployment',
            'gateway',
            (d) => (container(d).ports!.find((p) => p.name === 'management')!.containerPort = 9465),
          ),
        ),
      /container port management is 9465, MANAGEMENT_PORT is 9464/,
    ],
    // metrics
    [
      'an invalidation worker scraped on the wrong port',
      () =>
        checkScrapeAnnotations(
          mutate<IDeployment>(
            top,
            'Deployment',
            'invalidation-worker',
            (d) => (d.spec!.template.metadata!.annotations!['prometheus.io/port'] = '3004'),
          ),
        ),
      /invalidation-worker: pod annotation prometheus.io\/port is 3004, its management port \(MANAGEMENT_PORT\) is 9464/,
    ],
    [
      'a worker left out of scraping',
      () =>
        checkScrapeAnnotations(
          mutate<IDeployment>(
            top,
            'Deployment',
            'invalidation-worker',
            (d) => delete d.spec!.template.metadata!.annotations,
          ),
        ),
      /invalidation-worker: pod annotation prometheus.io\/scrape is not "true"/,
    ],
    // images
    [
      'a latest tag',
      () =>
        checkImages(
          mutate<IDeployment>(
            top,
            'Deployment',
            'gateway',
            (d) => (container(d).image = 'worker-pattern/gateway:latest'),
          ),
        ),
      /should be tagged/,
    ],
    [
      'a Deployment running another app',
      () =>
        checkImages(
          mutate<IDeployment>(
            top,
            'Deployment',
            'feed-worker',
            (d) => (container(d).image = container(d).image!.replace('feed', 'profile')),
          ),
        ),
      /runs image profile-worker/,
    ],
    // environment
    [
      'HOST left at 127.0.0.1',
      () => checkEnv(mutate<IConfigMap>(top, 'ConfigMap', 'worker-pattern-common', (c) => delete c.data!['HOST'])),
      /HOST is not set/,
    ],
    [
      'a secret as a literal value',
      () =>
        checkEnv(
          mutate<IDeployment>(top, 'Deployment', 'feed-worker', (d) => {
            const e = envVar(d, 'REDIS_URL');
            delete e.valueFrom;
            e.value = 'redis://:hunter2@redis:6379';
          }),
        ),
      /REDIS_URL must come from a secretKeyRef/,
    ],
    [
      'the gateway without a database (its writes need one)',
      () =>
        checkEnv(
          mutate<IDeployment>(
            top,
            'Deployment',
            'gateway',
            (d) => (container(d).env = container(d).env!.filter((e) => e.name !== 'DATABASE_URL')),
          ),
        ),
      /Deployment\/gateway container gateway: DATABASE_URL is not set/,
    ],
    [
      "the gateway's DATABASE_URL as a literal",
      () =>
        checkEnv(
          mutate<IDeployment>(top, 'Deployment', 'gateway', (d) => {
            const e = envVar(d, 'DATABASE_URL');
            delete e.valueFrom;
            e.value = 'postgres://wp:hunter2@pg:5432/wp';
          }),
        ),
      /gateway: DATABASE_URL must come from a secretKeyRef/,
    ],
    [
      'the invalidation worker without DATABASE_URL',
      () =>
        checkEnv(
          mutate<IDeployment>(
            top,
            'Deployment',
            'invalidation-worker',
            (d) => (container(d).env = container(d).env!.filter((e) => e.name !== 'DATABASE_URL')),
          ),
        ),
      /invalidation-worker: DATABASE_URL is not set/,
    ],
    [
      'the invalidation worker on another port',
      () =>
        checkEnv(
          mutate<IDeployment>(top, 'Deployment', 'invalidation-worker', (d) => (envVar(d, 'PORT').value = '3003')),
        ),
      /listens on 3003, but its http port is 3004/,
    ],
    [
      'the gateway without JWT_SECRET',
      () =>
        checkEnv(
          mutate<IDeployment>(
            top,
            'Deployment',
            'gateway',
            (d) => (container(d).env = container(d).env!.filter((e) => e.name !== 'JWT_SECRET')),
          ),
        ),
      /JWT_SECRET is not set/,
    ],
    [
      'a worker without DATABASE_URL',
      () =>
        checkEnv(
          mutate<IDeployment>(
            top,
            'Deployment',
            'profile-worker',
            (d) => (container(d).env = container(d).env!.filter((e) => e.name !== 'DATABASE_URL')),
          ),
        ),
      /DATABASE_URL is not set/,
    ],
    [
      'a misspelt variable',
      () =>
        checkEnv(
          mutate<IDeployment>(
            top,
            'Deployment',
            'feed-worker',
            (d) => (envVar(d, 'WORKER_CONCURRENCY').name = 'WORKER_CONCURENCY'),
          ),
        ),
      /WORKER_CONCURENCY is not read by feed-worker/,
    ],
    [
      'a value the app refuses at start',
      () =>
        checkEnv(
          mutate<IConfigMap>(top, 'ConfigMap', 'worker-pattern-common', (c) => (c.data!['LOG_LEVEL'] = 'verbose')),
        ),
      /would refuse to start: .*LOG_LEVEL: must be one of/,
    ],
    [
      'dev login in production',
      () => checkEnv(mutate<IDeployment>(top, 'Deployment', 'gateway', (d) => (envVar(d, 'DEV_LOGIN').value = 'true'))),
      /DEV_LOGIN cannot be enabled/,
    ],
    [
      'a port that is not the container port',
      () => checkEnv(mutate<IDeployment>(top, 'Deployment', 'feed-worker', (d) => (envVar(d, 'PORT').value = '8080'))),
      /listens on 8080, but its http port is 3002/,
    ],
    [
      'a missing ConfigMap',
      () =>
        checkEnv({
          name: 'no config',
          docs: top.docs.filter((d) => d.body.metadata?.name !== 'worker-pattern-worker'),
        }),
      /envFrom ConfigMap worker-pattern-worker is not in the apply set/,
    ],
    // shutdown
    [
      'a grace period shorter than the drain',
      () =>
        checkShutdownBudget(
          mutate<IDeployment>(
            top,
            'Deployment',
            'recommendations-worker',
            (d) => (d.spec!.template.spec!.terminationGracePeriodSeconds = 30),
          ),
        ),
      /terminationGracePeriodSeconds 30 s does not cover .* SHUTDOWN_TIMEOUT_MS 40000/,
    ],
    [
      'a drain budget shorter than a build',
      () =>
        checkShutdownBudget(
          mutate<IDeployment>(
            top,
            'Deployment',
            'recommendations-worker',
            (d) => (envVar(d, 'SHUTDOWN_TIMEOUT_MS').value = '25000'),
          ),
        ),
      /SHUTDOWN_TIMEOUT_MS 25000 ≤ its builds' buildTimeoutMs 30000/,
    ],
    [
      'a Bull lock shorter than a build',
      () =>
        checkShutdownBudget(
          mutate<IDeployment>(
            top,
            'Deployment',
            'recommendations-worker',
            (d) => (container(d).env = container(d).env!.filter((e) => e.name !== 'BULL_LOCK_DURATION_MS')),
          ),
        ),
      /BULL_LOCK_DURATION_MS 30000 ≤ its builds' buildTimeoutMs 30000/,
    ],
    [
      'an invalidation Bull lock shorter than its statement timeout',
      () =>
        checkShutdownBudget(
          mutate<IDeployment>(top, 'Deployment', 'invalidation-worker', (d) =>
            container(d).env!.push({ name: 'BULL_LOCK_DURATION_MS', value: '10000' }),
          ),
        ),
      /invalidation-worker: BULL_LOCK_DURATION_MS 10000 ≤ DATABASE_STATEMENT_TIMEOUT_MS .* 15000/,
    ],
    [
      "an invalidation drain budget below its one query's statement timeout",
      () =>
        checkShutdownBudget(
          mutate<IDeployment>(
            top,
            'Deployment',
            'invalidation-worker',
            (d) => (envVar(d, 'SHUTDOWN_TIMEOUT_MS').value = '10000'),
          ),
        ),
      /invalidation-worker: SHUTDOWN_TIMEOUT_MS 10000 ≤ DATABASE_STATEMENT_TIMEOUT_MS .* 15000/,
    ],
    [
      'an invalidation worker without statement timeout (unbounded jobs)',
      () =>
        checkShutdownBudget(
          mutate<IDeployment>(top, 'Deployment', 'invalidation-worker', (d) =>
            container(d).env!.push({ name: 'DATABASE_STATEMENT_TIMEOUT_MS', value: '0' }),
          ),
        ),
      /invalidation-worker: DATABASE_STATEMENT_TIMEOUT_MS .* is 0: its jobs have no upper bound/,
    ],
    [
      'an invalidation grace period shorter than its drain',
      () =>
        checkShutdownBudget(
          mutate<IDeployment>(
            top,
            'Deployment',
            'invalidation-worker',
            (d) => (d.spec!.template.spec!.terminationGracePeriodSeconds = 20),
          ),
        ),
      /invalidation-worker: terminationGracePeriodSeconds 20 s does not cover .* SHUTDOWN_TIMEOUT_MS 20000/,
    ],
    [
      'a gateway grace period that ignores its preStop sleep',
      () =>
        checkShutdownBudget(
          mutate<IDeployment>(
            top,
            'Deployment',
            'gateway',
            (d) => (d.spec!.template.spec!.terminationGracePeriodSeconds = 28),
          ),
        ),
      /does not cover preStop 5 s \+ SHUTDOWN_TIMEOUT_MS 25000/,
    ],
    // scaling signals
    [
      'a worker scaled on another queue',
      () =>
        checkSignals(
          mutate<IHorizontalPodAutoscaler>(
            top,
            'HorizontalPodAutoscaler',
            'feed-worker',
            (h) => (h.spec!.metrics![0].external!.metric.selector!.matchLabels!['queue'] = 'profile'),
          ),
        ),
      /must select exactly queue=feed/,
    ],
    [
      'the invalidation worker scaled on a queue it only produces to',
      () =>
        checkSignals(
          mutate<IHorizontalPodAutoscaler>(
            top,
            'HorizontalPodAutoscaler',
            'invalidation-worker',
            (h) => (h.spec!.metrics![0].external!.metric.selector!.matchLabels!['queue'] = 'feed'),
          ),
        ),
      /invalidation-worker: the External metric must select exactly queue=invalidations/,
    ],
    [
      'an invalidation target at its concurrency',
      () =>
        checkSignals(
          mutate<IHorizontalPodAutoscaler>(
            top,
            'HorizontalPodAutoscaler',
            'invalidation-worker',
            (h) => (h.spec!.metrics![0].external!.target.averageValue = '8'),
          ),
        ),
      /backlog target 8 per pod ≥ WORKER_CONCURRENCY 8/,
    ],
    [
      'an adapter rule that leaves out the invalidations queue',
      () =>
        checkScalingSignals(
          adapterRules.map((r) => ({
            ...r,
            seriesQuery: 'bull_queue_jobs{namespace!="",queue=~"profile|feed|recommendations"}',
          })),
        )(top),
      /HorizontalPodAutoscaler\/invalidation-worker: adapter rule for bull_queue_backlog does not admit .*"queue":"invalidations".*seriesQuery has queue=~"profile\|feed\|recommendations"/,
    ],
    [
      'an adapter rule that counts only waiting jobs',
      () =>
        checkScalingSignals(
          adapterRules.map((r) => ({
            ...r,
            metricsQuery: r.metricsQuery.replace('state=~"waiting|active"', 'state="waiting",state=~"waiting|active"'),
          })),
        )(top),
      /does not admit .*"state":"active".*metricsQuery has state="waiting"/,
    ],
    [
      'a target at the concurrency',
      () =>
        checkSignals(
          mutate<IHorizontalPodAutoscaler>(
            top,
            'HorizontalPodAutoscaler',
            'recommendations-worker',
            (h) => (h.spec!.metrics![0].external!.target.averageValue = '4'),
          ),
        ),
      /backlog target 4 per pod ≥ WORKER_CONCURRENCY 4/,
    ],
    [
      'a slow scale-up',
      () =>
        checkSignals(
          mutate<IHorizontalPodAutoscaler>(
            top,
            'HorizontalPodAutoscaler',
            'feed-worker',
            (h) => (h.spec!.behavior!.scaleUp!.stabilizationWindowSeconds = 120),
          ),
        ),
      /scale-up stabilization 120 s is too slow/,
    ],
    [
      'a hasty scale-down',
      () =>
        checkSignals(
          mutate<IHorizontalPodAutoscaler>(
            top,
            'HorizontalPodAutoscaler',
            'feed-worker',
            (h) => (h.spec!.behavior!.scaleDown!.stabilizationWindowSeconds = 30),
          ),
        ),
      /scale-down stabilization 30 s is too short/,
    ],
    [
      'no CPU metric',
      () =>
        checkSignals(
          mutate<IHorizontalPodAutoscaler>(
            top,
            'HorizontalPodAutoscaler',
            'feed-worker',
            (h) => (h.spec!.metrics = h.spec!.metrics!.slice(0, 1)),
          ),
        ),
      /no CPU utilization metric/,
    ],
    [
      'a metric no adapter rule serves',
      () => checkScalingSignals([])(top),
      /no prometheus-adapter external rule serves bull_queue_backlog/,
    ],
    [
      'a KEDA query that sums over pods',
      () =>
        checkSignals(
          mutate<IScaledObject>(
            sets.keda,
            'ScaledObject',
            'feed-worker',
            (s) =>
              (s.spec.triggers[0].metadata['query'] =
                'sum(bull_queue_jobs{namespace="worker-pattern",queue="feed",state=~"waiting|active"})'),
          ),
        ),
      /take the max per state/,
    ],
    [
      'a KEDA trigger for the invalidation worker on a fragment queue',
      () =>
        checkSignals(
          mutate<IScaledObject>(
            sets.keda,
            'ScaledObject',
            'invalidation-worker',
            (s) =>
              (s.spec.triggers[0].metadata['query'] = s.spec.triggers[0].metadata['query'].replace(
                '"invalidations"',
                '"feed"',
              )),
          ),
        ),
      /must select queue="invalidations"/,
    ],
    [
      'a KEDA trigger on another queue',
      () =>
        checkSignals(
          mutate<IScaledObject>(
            sets.keda,
            'ScaledObject',
            'profile-worker',
            (s) =>
              (s.spec.triggers[0].metadata['query'] = s.spec.triggers[0].metadata['query'].replace(
                '"profile"',
                '"feed"',
              )),
          ),
        ),
      /must select queue="profile"/,
    ],
    // network
    [
      'no default deny',
      () =>
        checkNetworkPolicies({ name: 'open', docs: top.docs.filter((d) => d.body.metadata?.name !== 'default-deny') }),
      /no default-deny NetworkPolicy/,
    ],
    [
      'a worker open to everyone',
      () =>
        checkNetworkPolicies(
          mutate<INetworkPolicy>(top, 'NetworkPolicy', 'workers', (n) => delete n.spec!.ingress![0].from),
        ),
      /only the gateway may take traffic from anywhere/,
    ],
    [
      'the gateway cut off from Postgres (its writes would fail)',
      () =>
        checkNetworkPolicies(
          mutate<INetworkPolicy>(
            top,
            'NetworkPolicy',
            'gateway',
            (n) => (n.spec!.egress![0].ports = n.spec!.egress![0].ports!.filter((p) => p.port !== 5432)),
          ),
        ),
      /Deployment\/gateway: egress to ports \[53, 6379\], expected \[53, 5432, 6379\]/,
    ],
    [
      'the workers cut off from Postgres',
      () =>
        checkNetworkPolicies(
          mutate<INetworkPolicy>(
            top,
            'NetworkPolicy',
            'workers',
            (n) => (n.spec!.egress![0].ports = n.spec!.egress![0].ports!.filter((p) => p.port !== 5432)),
          ),
        ),
      /Deployment\/invalidation-worker: egress to ports \[53, 6379\], expected \[53, 5432, 6379\]/,
    ],
    [
      'the invalidation worker outside the workers policy',
      () =>
        checkNetworkPolicies(
          mutate<IDeployment>(
            top,
            'Deployment',
            'invalidation-worker',
            (d) => (d.spec!.template.metadata!.labels!['app.kubernetes.io/component'] = 'invalidation'),
          ),
        ),
      /Deployment\/invalidation-worker: Prometheus \(namespace monitoring\) cannot scrape/,
    ],
    [
      "the gateway's management port open to everyone",
      () =>
        checkNetworkPolicies(
          mutate<INetworkPolicy>(top, 'NetworkPolicy', 'gateway', (n) =>
            n.spec!.ingress![0].ports!.push({ protocol: 'TCP', port: 'management' }),
          ),
        ),
      /Deployment\/gateway: ingress from anywhere reaches its management port \(9464\)/,
    ],
    [
      "Prometheus locked out of the gateway's management port",
      () =>
        checkNetworkPolicies(
          mutate<INetworkPolicy>(top, 'NetworkPolicy', 'gateway', (n) => n.spec!.ingress!.splice(1, 1)),
        ),
      /Deployment\/gateway: Prometheus \(namespace monitoring\) cannot scrape \/metrics on its management port/,
    ],
    [
      "Prometheus allowed on the workers' app port only",
      () =>
        checkNetworkPolicies(
          mutate<INetworkPolicy>(
            top,
            'NetworkPolicy',
            'workers',
            (n) => (n.spec!.ingress![0].ports![0]!.port = 'http'),
          ),
        ),
      /Deployment\/feed-worker: Prometheus \(namespace monitoring\) cannot scrape \/metrics on its management port/,
    ],
    [
      'Prometheus locked out of the workers',
      () =>
        checkNetworkPolicies(mutate<INetworkPolicy>(top, 'NetworkPolicy', 'workers', (n) => delete n.spec!.ingress)),
      /Prometheus \(namespace monitoring\) cannot scrape/,
    ],
    // labels
    [
      'a missing version label',
      () =>
        checkLabels(
          mutate<IDeployment>(
            top,
            'Deployment',
            'feed-worker',
            (d) => delete d.spec!.template.metadata!.labels!['app.kubernetes.io/version'],
          ),
        ),
      /Deployment\/feed-worker: pod template label app.kubernetes.io\/version is missing/,
    ],
    [
      'a version label that is not the release the image runs',
      () =>
        checkLabels(
          mutate<IDeployment>(
            top,
            'Deployment',
            'feed-worker',
            (d) => (d.spec!.template.metadata!.labels!['app.kubernetes.io/version'] = '0.0.9'),
          ),
        ),
      /version 0.0.9 is not the release its image runs \(0.1.0\)/,
    ],
    // images
    [
      'a malformed digest',
      () =>
        checkImages(
          mutate<IDeployment>(
            top,
            'Deployment',
            'gateway',
            (d) => (container(d).image = 'worker-pattern/gateway@sha256:abc'),
          ),
        ),
      /the digest must be sha256:<64 hex digits>/,
    ],
    // upgrades
    [
      'a migration Job whose name does not carry the release',
      () => checkSchemaGate(mutate<IJob>(top, 'Job', 'db-migrate-0.1.0', (j) => (j.metadata!.name = 'db-migrate'))),
      /must be named db-migrate-0.1.0/,
    ],
    [
      'an image bump that forgets to rename the migration Job',
      () =>
        checkSchemaGate(
          mutate<IJob>(
            top,
            'Job',
            'db-migrate-0.1.0',
            (j) => (j.spec!.template.spec!.containers[0].image = 'worker-pattern/db-cli:0.1.0-3f2c1ab'),
          ),
        ),
      /must be named db-migrate-0.1.0-3f2c1ab/,
    ],
    [
      'an app without the schema check',
      () =>
        checkSchemaGate(
          mutate<IDeployment>(top, 'Deployment', 'feed-worker', (d) => delete d.spec!.template.spec!.initContainers),
        ),
      /Deployment\/feed-worker: no init container runs `db-cli migrate --check`/,
    ],
    [
      'a schema check of another release than the migration',
      () =>
        checkSchemaGate(
          mutate<IDeployment>(
            top,
            'Deployment',
            'gateway',
            (d) => (d.spec!.template.spec!.initContainers![0].image = 'worker-pattern/db-cli:0.1.0-old'),
          ),
        ),
      /checks the schema with worker-pattern\/db-cli:0.1.0-old, but the migration Job runs worker-pattern\/db-cli:0.1.0/,
    ],
    [
      'a schema check that only runs migrate (it would race the Job)',
      () =>
        checkSchemaGate(
          mutate<IDeployment>(
            top,
            'Deployment',
            'gateway',
            (d) => (d.spec!.template.spec!.initContainers![0].args = ['migrate']),
          ),
        ),
      /Deployment\/gateway: no init container runs `db-cli migrate --check`/,
    ],
    // service accounts and disruptions
    [
      'a pod on the default ServiceAccount',
      () =>
        checkServiceAccounts(
          mutate<IDeployment>(top, 'Deployment', 'gateway', (d) => delete d.spec!.template.spec!.serviceAccountName),
        ),
      /Deployment\/gateway: no serviceAccountName/,
    ],
    [
      'a ServiceAccount shared by two apps',
      () =>
        checkServiceAccounts(
          mutate<IDeployment>(
            top,
            'Deployment',
            'feed-worker',
            (d) => (d.spec!.template.spec!.serviceAccountName = 'profile-worker'),
          ),
        ),
      /ServiceAccount\/profile-worker is shared by profile-worker, feed-worker/,
    ],
    [
      'a ServiceAccount that mounts a token',
      () =>
        checkServiceAccounts(
          mutate<IServiceAccount>(top, 'ServiceAccount', 'gateway', (a) => (a.automountServiceAccountToken = true)),
        ),
      /ServiceAccount\/gateway: automountServiceAccountToken should be false/,
    ],
    [
      'a PDB that blocks drains while a database is down',
      () =>
        checkDisruption(
          mutate<IPodDisruptionBudget>(
            top,
            'PodDisruptionBudget',
            'feed-worker',
            (p) => delete p.spec!.unhealthyPodEvictionPolicy,
          ),
        ),
      /PodDisruptionBudget\/feed-worker: unhealthyPodEvictionPolicy should be AlwaysAllow/,
    ],
    [
      'no zone spread',
      () =>
        checkDisruption(
          mutate<IDeployment>(
            top,
            'Deployment',
            'gateway',
            (d) =>
              (d.spec!.template.spec!.topologySpreadConstraints =
                d.spec!.template.spec!.topologySpreadConstraints!.filter(
                  (t) => t.topologyKey !== 'topology.kubernetes.io/zone',
                )),
          ),
        ),
      /Deployment\/gateway: no topologySpreadConstraint over topology.kubernetes.io\/zone/,
    ],
    // KEDA when the backlog cannot be read
    [
      'a KEDA Prometheus trigger that reads an empty result as 0',
      () =>
        checkSignals(
          mutate<IScaledObject>(
            sets.keda,
            'ScaledObject',
            'feed-worker',
            (s) => delete s.spec.triggers[0].metadata['ignoreNullValues'],
          ),
        ),
      /ignoreNullValues must be "false"/,
    ],
    [
      'a ScaledObject without fallback',
      () =>
        checkSignals(mutate<IScaledObject>(sets.keda, 'ScaledObject', 'feed-worker', (s) => delete s.spec.fallback)),
      /no fallback/,
    ],
    [
      'a fallback that pins the worker at its maximum',
      () =>
        checkSignals(
          mutate<IScaledObject>(sets.keda, 'ScaledObject', 'feed-worker', (s) => (s.spec.fallback!.replicas = 12)),
        ),
      /fallback.replicas 12 should lie strictly between min 2 and max 12/,
    ],
    [
      'a Redis trigger on the list without the hash-tagged queue prefix',
      () =>
        checkSignals(
          mutate<IScaledObject>(
            sets.kedaRedis,
            'ScaledObject',
            'feed-worker',
            (s) => (s.spec.triggers[0].metadata['listName'] = 'bull:feed:wait'),
          ),
        ),
      /no redis trigger on the list bull:\{feed\}:feed:wait/,
    ],
    [
      'a Redis formula that leaves out the active jobs',
      () =>
        checkSignals(
          mutate<IScaledObject>(
            sets.kedaRedis,
            'ScaledObject',
            'feed-worker',
            (s) =>
              ((s.spec.advanced as unknown as { scalingModifiers: { formula: string } }).scalingModifiers.formula =
                'wait'),
          ),
        ),
      /formula "wait" leaves out the active list/,
    ],
    // settings every worker must agree on, and the demo seed Job
    [
      'a FANOUT_* setting missing from the worker ConfigMap',
      () =>
        checkEnv(
          mutate<IConfigMap>(
            top,
            'ConfigMap',
            'worker-pattern-worker',
            (c) => delete c.data!['FANOUT_CELEBRITY_FOLLOWERS'],
          ),
        ),
      /Deployment\/feed-worker.*FANOUT_CELEBRITY_FOLLOWERS is not set: every worker must read it from the worker ConfigMap/,
    ],
    [
      'a FANOUT_* setting set in one worker Deployment only',
      () =>
        checkEnv(
          mutate<IDeployment>(top, 'Deployment', 'invalidation-worker', (d) =>
            container(d).env!.push({ name: 'FANOUT_PAGE_SIZE', value: '500' }),
          ),
        ),
      /Deployment\/invalidation-worker.*FANOUT_PAGE_SIZE is set in the Deployment/,
    ],
    [
      'a demo seed Job whose name does not carry the release',
      () => checkSchemaGate(mutate<IJob>(sets.demo, 'Job', 'db-seed-0.1.0', (j) => (j.metadata!.name = 'db-seed'))),
      /Job db-seed must be named <name>-0\.1\.0/,
    ],
    // the backlog metric vanishes during a backlog (simulated, lib/hpa/missing-metric.ts)
    [
      'a KEDA trigger that reads a vanished backlog as 0',
      () =>
        checkMissing(
          mutate<IScaledObject>(
            sets.keda,
            'ScaledObject',
            'feed-worker',
            (s) => (s.spec.triggers[0].metadata['ignoreNullValues'] = 'true'),
          ),
        ),
      /ScaledObject\/feed-worker .*metric missing for 15 min during a backlog it scaled down from 12 to \d \(minReplicas 2, fallback 6\): an empty result reads as 0/,
    ],
    [
      'a ScaledObject without fallback, the metric lost as a backlog starts',
      () =>
        checkMissing(mutate<IScaledObject>(sets.keda, 'ScaledObject', 'feed-worker', (s) => delete s.spec.fallback)),
      /ScaledObject\/feed-worker .*stayed at minReplicas 2 for 15 min: no fallback/,
    ],
    [
      'a Redis-direct ScaledObject without fallback, Redis unreachable as a backlog starts',
      () =>
        checkMissing(
          mutate<IScaledObject>(sets.kedaRedis, 'ScaledObject', 'profile-worker', (s) => delete s.spec.fallback),
        ),
      /ScaledObject\/profile-worker .*stayed at minReplicas 2 for 15 min: no fallback/,
    ],
    [
      'a fallback at the maximum, the metric lost as a backlog starts',
      () =>
        checkMissing(
          mutate<IScaledObject>(sets.keda, 'ScaledObject', 'feed-worker', (s) => (s.spec.fallback!.replicas = 12)),
        ),
      /ScaledObject\/feed-worker .*the fallback pinned the worker at its maximum 12/,
    ],
    [
      'an adapter rule that serves 0 when the series vanish (`or vector(0)`)',
      () =>
        checkMissingMetric(adapterRules.map((r) => ({ ...r, metricsQuery: `${r.metricsQuery} or vector(0)` })))(top),
      /HorizontalPodAutoscaler\/feed-worker .*scaled down from 12 to \d \(minReplicas 2\): the adapter rule serves 0 when the series are absent/,
    ],
    [
      'an HPA that never scales down after the metric is back',
      () =>
        checkMissing(
          mutate<IHorizontalPodAutoscaler>(
            top,
            'HorizontalPodAutoscaler',
            'feed-worker',
            (h) => (h.spec!.behavior!.scaleDown!.selectPolicy = 'Disabled'),
          ),
        ),
      /HorizontalPodAutoscaler\/feed-worker .*still runs 12 replicas \(its maximum\), not minReplicas 2/,
    ],
    [
      'a ScaledObject that never scales down after the metric is back',
      () =>
        checkMissing(
          mutate<IScaledObject>(
            sets.keda,
            'ScaledObject',
            'feed-worker',
            (s) => (s.spec.advanced!.horizontalPodAutoscalerConfig!.behavior!.scaleDown!.selectPolicy = 'Disabled'),
          ),
        ),
      /ScaledObject\/feed-worker .*still runs 12 replicas \(its maximum\), not minReplicas 2/,
    ],
    // capacity
    [
      'a maximum that would take Postgres past its connection budget',
      () =>
        checkConnectionBudget(
          mutate<IHorizontalPodAutoscaler>(
            top,
            'HorizontalPodAutoscaler',
            'feed-worker',
            (h) => (h.spec!.maxReplicas = 14),
          ),
        ),
      // The budget as the Namespace states it (a generated worker's workspace may have raised it).
      /Postgres connections at maximum scale: \d+ \(.*feed-worker 14 × 16.*\) exceed the budget of \d+ /,
    ],
    [
      'no connection budget stated',
      () =>
        checkConnectionBudget(
          mutate<INamespace>(
            top,
            'Namespace',
            'worker-pattern',
            (n) => delete n.metadata!.annotations!['worker-pattern/postgres-connection-budget'],
          ),
        ),
      /annotation worker-pattern\/postgres-connection-budget must state/,
    ],
  ])('%s', (_, run, expected) => {
    const problems = run();
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(expected)]));
  });
});
