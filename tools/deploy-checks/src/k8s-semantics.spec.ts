import { filterBySelector, kedaDeleteSelector, kedaTopLevelSelector, loadApplySets } from './lib/apply-sets';
import { WORKER_APPS, WORKER_FRAGMENTS } from './lib/app-facts';
import { describeDoc } from './lib/k8s-docs';
import { adapterExternalRules, appSetChecks, autoscalers, checkLabels, checkNames, checkNamespace } from './lib/k8s-checks';
import { hpas, scaledObjects } from './lib/k8s-objects';
import { hpaSettingsFromManifest, hpaSettingsFromScaledObject } from './lib/hpa/hpa-controller';
import { parseSelectorString } from './lib/labels';
import { configMaps, deployments, effectiveEnv, literalEnv } from './lib/k8s-objects';

/**
 * What a server (and a reviewer) would check beyond the schema, for every apply set: the top level,
 * the KEDA variant as its README applies it, the demo add-on, and the adapter's config.
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
      expect.objectContaining({ name: { matches: '^bull_queue_jobs$', as: 'bull_queue_backlog' }, metricsQuery: expect.stringContaining('sum by (queue)') }),
    ]);
  });
});

describe('one autoscaler per worker, in every apply set', () => {
  it('the top level scales every worker with an HPA on its own queue', () => {
    const targets = Object.fromEntries(autoscalers(sets.top).map((a) => [a.target.name, a.kind]));
    expect(targets).toEqual({
      gateway: 'HorizontalPodAutoscaler',
      'profile-worker': 'HorizontalPodAutoscaler',
      'feed-worker': 'HorizontalPodAutoscaler',
      'recommendations-worker': 'HorizontalPodAutoscaler',
    });
    for (const { obj } of hpas(sets.top)) {
      const name = obj.spec!.scaleTargetRef.name as (typeof WORKER_APPS)[number];
      if (!WORKER_APPS.includes(name)) continue;
      expect(obj.spec!.metrics![0].external!.metric.selector!.matchLabels).toEqual({ queue: WORKER_FRAGMENTS[name].queue });
    }
  });

  it('the KEDA variant replaces exactly the worker HPAs, as its README applies it', () => {
    const targets = Object.fromEntries(autoscalers(sets.keda).map((a) => [a.target.name, a.kind]));
    expect(targets).toEqual({ gateway: 'HorizontalPodAutoscaler', 'profile-worker': 'ScaledObject', 'feed-worker': 'ScaledObject', 'recommendations-worker': 'ScaledObject' });
    // What the README's delete removes from the cluster is what its apply leaves out.
    const top = sets.top.docs;
    const deleted = filterBySelector(top, parseSelectorString(kedaDeleteSelector())).map(describeDoc);
    const kept = new Set(filterBySelector(top, parseSelectorString(kedaTopLevelSelector())).map(describeDoc));
    expect(top.map(describeDoc).filter((d) => !kept.has(d))).toEqual(deleted);
    expect(deleted).toEqual(WORKER_APPS.map((app) => expect.stringContaining(`HorizontalPodAutoscaler/${app}`)));
  });

  it('the KEDA variant scales exactly like the HPAs (targets, bounds, behaviour)', () => {
    for (const app of WORKER_APPS) {
      const hpa = hpaSettingsFromManifest(hpas(sets.top).find(({ obj }) => obj.spec!.scaleTargetRef.name === app)!.obj);
      const so = hpaSettingsFromScaledObject(scaledObjects(sets.keda).find(({ obj }) => obj.spec.scaleTargetRef.name === app)!.obj);
      const comparable = (s: typeof hpa) => ({
        min: s.minReplicas,
        max: s.maxReplicas,
        up: s.scaleUp,
        down: s.scaleDown,
        targets: s.metrics.map((m) => (m.type === 'External' ? { backlog: m.averageValue } : { [m.resource]: m.averageUtilization })),
      });
      expect({ app, ...comparable(so) }).toEqual({ app, ...comparable(hpa) });
    }
  });
});

describe('capacity', () => {
  it('prints the Postgres connections the workers can open at their maximum scale', () => {
    const lines: string[] = [];
    let total = 0;
    for (const a of autoscalers(sets.top)) {
      const deployment = deployments(sets.top).find(({ obj }) => obj.metadata?.name === a.target.name)!.obj;
      const container = deployment.spec!.template.spec!.containers[0];
      const env = effectiveEnv(container, sets.top);
      if (!env.has('DATABASE_URL')) continue;
      const pool = Number(literalEnv(env, 'DATABASE_POOL_SIZE') ?? 10);
      total += a.max * pool;
      lines.push(`  ${a.target.name}: ${a.max} pods × ${pool} = ${a.max * pool}`);
    }
    console.log(`Postgres connections at maximum scale (max_connections must exceed this, or use PgBouncer):\n${lines.join('\n')}\n  total: ${total}`);
    expect(configMaps(sets.top).length).toBeGreaterThan(0);
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThanOrEqual(400);
  });
});
