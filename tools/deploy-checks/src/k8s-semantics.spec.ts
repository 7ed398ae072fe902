import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import {
  CONFIG_FILE,
  filterBySelector,
  HPA_LINK,
  kedaDeleteSelector,
  loadApplySets,
  OVERLAYS_DIR,
} from './lib/apply-sets';
import {
  ALL_APPS,
  appModuleSource,
  gatewayReadPathProblems,
  HTTP_APPS,
  registryDefaultsProblems,
  WORKER_APPS,
  WORKER_QUEUES,
} from './lib/app-facts';
import { describeDoc, type ManifestDoc } from './lib/k8s-docs';
import {
  adapterExternalRules,
  appSetChecks,
  autoscalers,
  checkConnectionBudget,
  checkLabels,
  checkNames,
  checkNamespace,
  postgresConnectionsAtMaxScale,
  totalConnections,
} from './lib/k8s-checks';
import { hpas, scaledObjects } from './lib/k8s-objects';
import { hpaSettingsFromManifest, hpaSettingsFromScaledObject } from './lib/hpa/hpa-controller';
import { renderKustomizationText } from './lib/kustomize';
import { parseSelectorString } from './lib/labels';
import { deployments, effectiveEnv } from './lib/k8s-objects';

/**
 * What a server (and a reviewer) would check beyond the schema, for every apply set: the top level
 * (`kubectl apply -f k8s`), every overlay and the KEDA variants as `kubectl kustomize` renders them,
 * the demo add-on, and the adapter's config.
 */

const sets = loadApplySets();
const adapterRules = adapterExternalRules(sets.adapter);

describe.each(sets.appSets.map((set) => [set.name, set] as const))('apply set `%s`', (_, set) => {
  it.each(appSetChecks(adapterRules))('%s: no problems', (_name, check) => {
    expect(check(set)).toEqual([]);
  });
});

describe('apply set `kubectl apply -f k8s/prometheus-adapter`', () => {
  it.each([
    ['names', checkNames],
    ['labels', checkLabels],
    ['namespace (the adapter`s)', checkNamespace('monitoring')],
  ] as const)('%s: no problems', (_name, check) => {
    expect(check(sets.adapter)).toEqual([]);
  });

  it('serves bull_queue_backlog from bull_queue_jobs waiting + active, by queue', () => {
    expect(adapterRules).toEqual([
      expect.objectContaining({
        name: { matches: '^bull_queue_jobs$', as: 'bull_queue_backlog' },
        metricsQuery: expect.stringContaining('sum by (queue)'),
      }),
    ]);
  });
});

describe('`kubectl apply -f k8s` applies the default set', () => {
  const byId = (docs: readonly ManifestDoc[]) =>
    Object.fromEntries(docs.map((d) => [`${d.body.kind}/${d.body.metadata?.name}`, d.body]));

  /** A generated ConfigMap under its plain name (kustomize appends a hash of its content). */
  const generic = (id: string) => id.replace(/^(ConfigMap\/worker-pattern-\w+)-[a-z0-9]{10}$/, '$1');
  const withoutHash = (docs: readonly ManifestDoc[]) =>
    Object.fromEntries(
      Object.entries(byId(docs)).map(([id, body]) => [
        generic(id),
        body.kind === 'ConfigMap' ? { ...body, metadata: { ...body.metadata, name: generic(id).split('/')[1] } } : body,
      ]),
    );
  /** Every reference to a generated ConfigMap, back to its plain name. */
  const unhash = (docs: readonly ManifestDoc[]) =>
    JSON.parse(JSON.stringify(withoutHash(docs)).replace(/"(worker-pattern-(?:common|worker))-[a-z0-9]{10}"/g, '"$1"'));

  it(`the kustomize base (k8s/base) is every top-level manifest but ${HPA_LINK}, ${CONFIG_FILE} the ConfigMaps it generates`, () => {
    expect(unhash(sets.base.docs)).toEqual(unhash(sets.top.docs.filter((d) => d.file !== HPA_LINK)));
  });

  it('the production overlay has the same objects, its ConfigMaps generated (named by their content)', () => {
    const production = Object.keys(byId(sets.overlays['production'].docs));
    expect(production.filter((id) => id.startsWith('ConfigMap/'))).toEqual([
      expect.stringMatching(/^ConfigMap\/worker-pattern-common-[a-z0-9]{10}$/),
      expect.stringMatching(/^ConfigMap\/worker-pattern-worker-[a-z0-9]{10}$/),
    ]);
    expect(production.map(generic).sort()).toEqual(Object.keys(byId(sets.top.docs)).sort());
  });
});

describe('one autoscaler per worker, in every apply set', () => {
  it('the top level scales every worker with an HPA on its own queue', () => {
    const targets = Object.fromEntries(autoscalers(sets.top).map((a) => [a.target.name, a.kind]));
    expect(targets).toEqual({
      gateway: 'HorizontalPodAutoscaler',
      ...Object.fromEntries(WORKER_APPS.map((app) => [app, 'HorizontalPodAutoscaler'])),
    });
    expect(WORKER_APPS).toEqual(expect.arrayContaining(['profile-worker', 'feed-worker', 'invalidation-worker']));
    for (const { obj } of hpas(sets.top)) {
      const name = obj.spec!.scaleTargetRef.name as (typeof WORKER_APPS)[number];
      if (!WORKER_APPS.includes(name)) continue;
      expect(obj.spec!.metrics![0].external!.metric.selector!.matchLabels).toEqual({ queue: WORKER_QUEUES[name] });
    }
    expect(WORKER_QUEUES['invalidation-worker']).toBe('invalidations');
  });

  it.each([
    ['components/keda', () => sets.keda],
    ['components/keda + components/keda-redis', () => sets.kedaRedis],
  ])('%s instead of components/hpa replaces exactly the worker HPAs', (_, set) => {
    const targets = Object.fromEntries(autoscalers(set()).map((a) => [a.target.name, a.kind]));
    expect(targets).toEqual({
      gateway: 'HorizontalPodAutoscaler',
      ...Object.fromEntries(WORKER_APPS.map((app) => [app, 'ScaledObject'])),
    });
  });

  it("docs/deploy.md's delete command, for a live cluster switching to KEDA, removes exactly the worker HPAs", () => {
    const deleted = filterBySelector(sets.top.docs, parseSelectorString(kedaDeleteSelector())).map(describeDoc);
    expect(deleted).toEqual(WORKER_APPS.map((app) => expect.stringContaining(`HorizontalPodAutoscaler/${app}`)));
  });

  it.each([
    ['components/keda', () => sets.keda],
    ['components/keda-redis', () => sets.kedaRedis],
  ])('%s scales exactly like the HPAs (targets, bounds, behaviour)', (_, set) => {
    for (const app of WORKER_APPS) {
      const hpa = hpaSettingsFromManifest(hpas(sets.top).find(({ obj }) => obj.spec!.scaleTargetRef.name === app)!.obj);
      const so = hpaSettingsFromScaledObject(
        scaledObjects(set()).find(({ obj }) => obj.spec.scaleTargetRef.name === app)!.obj,
      );
      const comparable = (s: typeof hpa) => ({
        min: s.minReplicas,
        max: s.maxReplicas,
        up: s.scaleUp,
        down: s.scaleDown,
        targets: s.metrics.map((m) =>
          m.type === 'External' ? { backlog: m.averageValue } : { [m.resource]: m.averageUtilization },
        ),
      });
      expect({ app, ...comparable(so) }).toEqual({ app, ...comparable(hpa) });
    }
  });
});

describe('reads never need Postgres; writes do', () => {
  it('the gateway gets DATABASE_URL for its writes, but neither its start nor its readiness depends on Postgres', () => {
    const gateway = deployments(sets.top).find(({ obj }) => obj.metadata?.name === 'gateway')!.obj;
    expect(effectiveEnv(gateway.spec!.template.spec!.containers[0], sets.top).get('DATABASE_URL')).toEqual(
      expect.objectContaining({ kind: 'secret', key: 'DATABASE_URL' }),
    );
    expect(gatewayReadPathProblems()).toEqual([]);
  });

  it.each<[string, string | RegExp, string, RegExp]>([
    [
      'readiness that checks Postgres',
      /readiness:\s*\{\s*redis:\s*FRAGMENT_REDIS_READINESS\s*\}/,
      'readiness: { redis: FRAGMENT_REDIS_READINESS, postgres: true }',
      /\/health\/ready checks Postgres/,
    ],
    [
      'an eager database connection',
      'WritesModule.forRootLazy(',
      'WritesModule.forRoot(',
      /connects to Postgres eagerly/,
    ],
  ])('fails with %s in the gateway module', (_, from, to, expected) => {
    const source = appModuleSource('gateway');
    const broken = source.replace(from, to);
    expect(broken).not.toBe(source);
    expect(gatewayReadPathProblems(broken)).toEqual([expect.stringMatching(expected)]);
  });
});

describe('the apps take their defaults from the registry (libs/registry), which the checks read', () => {
  it.each(HTTP_APPS.map((app) => [app]))('%s', (app) => {
    expect(registryDefaultsProblems(app)).toEqual([]);
  });

  it('names a root module that does not take its defaults from its registry entry', () => {
    const source = appModuleSource('feed-worker');
    for (const broken of [
      source.replace("app: APPS['feed-worker']", "app: { ...APPS['feed-worker'], port: 3002 }"),
      source.replace("app: APPS['feed-worker']", "app: APPS['profile-worker']"),
    ]) {
      expect(broken).not.toBe(source);
      expect(registryDefaultsProblems('feed-worker', broken)).toEqual([
        expect.stringMatching(/feed-worker: its root module does not pass its registry entry/),
      ]);
    }
    const gateway = appModuleSource('gateway');
    expect(registryDefaultsProblems('gateway', gateway.replace('APPS.gateway.port', '3000'))).toEqual([
      expect.stringMatching(/gateway: its root module's defaultPort/),
    ]);
  });
});

describe('capacity', () => {
  it('prints the Postgres connections the apps can open at their maximum scale, within the budget', () => {
    const rows = postgresConnectionsAtMaxScale(sets.top);
    const total = totalConnections(rows);
    const lines = rows.map(
      (r) =>
        `  ${r.app}: ${r.pods} pods × ${r.extra ? `(${r.perPod} + ${r.extra})` : r.perPod} = ${r.pods * (r.perPod + r.extra)}`,
    );
    console.log(
      `Postgres connections at maximum scale (max_connections must exceed this, or use PgBouncer):\n${lines.join('\n')}\n  db-cli (a migration): 2\n  total: ${total}`,
    );
    // Everything that talks to Postgres is counted: the gateway (writes), every worker, and the
    // invalidation worker's LISTEN connection.
    expect(rows.map((r) => r.app).sort()).toEqual(['gateway', ...WORKER_APPS].sort());
    expect(rows.find((r) => r.app === 'invalidation-worker')?.extra).toBe(1);
    // One row as the manifests state it (a worker added later has rows of its own).
    expect(rows.find((r) => r.app === 'profile-worker')).toMatchObject({ pods: 12, perPod: 16, extra: 0 });
    expect(total).toBe(rows.reduce((sum, r) => sum + r.pods * (r.perPod + r.extra), 2));
    expect(checkConnectionBudget(sets.top)).toEqual([]);
  });
});

describe('images pinned by digest', () => {
  it('an overlay that pins every image of the production overlay by digest in `images:` passes every check', () => {
    const digest = `sha256:${'a1'.repeat(32)}`;
    const kustomization = (fromHere: (path: string) => string) => ({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: [fromHere(join(OVERLAYS_DIR, 'production'))],
      images: ALL_APPS.map((app) => ({ name: `registry.example.com/worker-pattern/${app}`, digest })),
      patches: [
        {
          target: { kind: 'Job', name: 'db-migrate-0.1.0' },
          patch: JSON.stringify([{ op: 'replace', path: '/metadata/name', value: `db-migrate-${'a1'.repeat(6)}` }]),
        },
      ],
    });
    const name = 'k8s/overlays/production pinned by digest';
    const set = { name, docs: renderKustomizationText((fromHere) => stringifyYaml(kustomization(fromHere)), name) };
    const images = deployments(set).flatMap(({ obj }) => obj.spec!.template.spec!.containers.map((c) => c.image));
    expect(images.sort()).toEqual(
      ALL_APPS.filter((a) => a !== 'db-cli')
        .map((app) => `registry.example.com/worker-pattern/${app}@${digest}`)
        .sort(),
    );
    for (const [checkName, check] of appSetChecks(adapterRules))
      expect({ checkName, problems: check(set) }).toEqual({ checkName, problems: [] });
  });
});
