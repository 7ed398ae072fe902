import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { APPLIED_FOLDERS, CONFIG_FILE, HPA_COMPONENT_FILE, HPA_LINK, loadApplySets } from './lib/apply-sets';
import {
  describeDoc,
  K8S_DIR,
  manifestFiles,
  manifestFolders,
  type ManifestDoc,
  parseManifestText,
  WORKSPACE_ROOT,
} from './lib/k8s-docs';
import { schemaProblems } from './lib/k8s-models';
import { kubectlReadNames } from './lib/kustomize';
import { strictFieldProblems } from './lib/strict-fields';

/**
 * Every document that reaches a cluster (the top level as `kubectl apply -f k8s` reads it, every
 * overlay and autoscaler variant as `kubectl kustomize` renders it, the demo, adapter and monitoring folders) must
 * be a kind we have a model for, in an API version a current cluster serves, valid against the
 * model's JSON schema, and without a field the API server does not know. Plus the layout
 * `kubectl apply -f k8s` relies on.
 */

const sets = loadApplySets();
/** Each distinct document once (most are the same in several sets), with the first set that has it. */
const all: ManifestDoc[] = [];
{
  const seen = new Set<string>();
  for (const set of [...sets.appSets, sets.adapter, sets.monitoring]) {
    for (const doc of set.docs) {
      const key = JSON.stringify(doc.body);
      if (seen.has(key)) continue;
      seen.add(key);
      all.push(doc);
    }
  }
}

describe('k8s manifests: schema', () => {
  it('finds the manifests and renders every overlay', () => {
    expect(all.length).toBeGreaterThan(40);
    expect(Object.keys(sets.overlays)).toEqual(['local', 'production']);
    expect(manifestFolders()).toEqual(
      expect.arrayContaining(['k8s', 'k8s/components/hpa', 'k8s/components/keda', 'k8s/prometheus-adapter']),
    );
  });

  it.each(all.map((doc) => [describeDoc(doc), doc] as const))(
    '%s is valid against its model',
    (_, doc: ManifestDoc) => {
      expect(schemaProblems(doc.body)).toEqual([]);
    },
  );

  it('has no field the API server does not know (strict field validation)', () => {
    expect(strictFieldProblems(all)).toEqual([]);
  }, 60_000);

  describe('fails what a cluster would refuse', () => {
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'x' },
      spec: {
        selector: { matchLabels: { a: 'b' } },
        template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'x', image: 'x' }] } },
      },
    };

    it('a document of an unknown kind', () => {
      expect(schemaProblems({ apiVersion: 'v1', kind: 'Frobnicator', metadata: { name: 'x' } })).toEqual([
        expect.stringContaining('unknown kind v1 Frobnicator'),
      ]);
      expect(schemaProblems({ apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor' })).toEqual([
        expect.stringContaining('unknown kind'),
      ]);
      expect(schemaProblems({ metadata: { name: 'no-kind' } })).toEqual([expect.stringContaining('unknown kind')]);
    });

    it('a removed API version', () => {
      expect(schemaProblems({ apiVersion: 'autoscaling/v2beta2', kind: 'HorizontalPodAutoscaler' })).toEqual([
        expect.stringContaining('removed in Kubernetes 1.26'),
      ]);
      expect(schemaProblems({ apiVersion: 'policy/v1beta1', kind: 'PodDisruptionBudget' })).toEqual([
        expect.stringContaining('no longer served'),
      ]);
      expect(schemaProblems({ ...deployment, apiVersion: 'extensions/v1beta1' })).toEqual([
        expect.stringContaining('no longer served'),
      ]);
    });

    it('a PrometheusRule the Operator CRD refuses (a rule without expr, a `for` that is not a duration string)', () => {
      const rule = (r: Record<string, unknown>) => ({
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PrometheusRule',
        metadata: { name: 'x' },
        spec: { groups: [{ name: 'g', rules: [r] }] },
      });
      expect(schemaProblems(rule({ alert: 'A', expr: 'up == 0', for: '5m' }))).toEqual([]);
      expect(schemaProblems(rule({ alert: 'A', for: 5 }))).toEqual([
        expect.stringMatching(/rules\/0 must have required property expr.*rules\/0\/for must be string/),
      ]);
    });

    it('a schema violation', () => {
      expect(schemaProblems(deployment)).toEqual([]);
      expect(schemaProblems({ ...deployment, spec: { ...deployment.spec, replicas: 'two' } })).toEqual([
        expect.stringContaining('spec/replicas must be integer'),
      ]);
      expect(schemaProblems({ ...deployment, spec: { ...deployment.spec, template: { spec: {} } } })).toEqual([
        expect.stringContaining('containers'),
      ]);
    });

    it('an unknown or misplaced field, with its path', () => {
      const typo = {
        ...deployment,
        spec: {
          ...deployment.spec,
          template: {
            ...deployment.spec.template,
            spec: { containers: [{ name: 'x', image: 'x', readinesProbe: {} }] },
          },
        },
      };
      const misplaced = {
        ...deployment,
        spec: {
          ...deployment.spec,
          template: {
            ...deployment.spec.template,
            spec: { ...deployment.spec.template.spec, securityContext: { allowPrivilegeEscalation: false } },
          },
        },
      };
      const problems = strictFieldProblems([
        { file: 'typo.yaml', index: 0, body: typo },
        { file: 'misplaced.yaml', index: 0, body: misplaced },
      ]);
      expect(problems).toEqual([
        expect.objectContaining({
          doc: 'typo.yaml#0 Deployment/x',
          message: expect.stringMatching(/readinesProbe.*does not exist in type 'IContainer'/),
        }),
        expect.objectContaining({
          doc: 'misplaced.yaml#0 Deployment/x',
          message: expect.stringMatching(/allowPrivilegeEscalation.*does not exist in type 'IPodSecurityContext'/),
        }),
      ]);
    }, 60_000);

    it('YAML that does not parse, and YAML 1.1 booleans where strings belong', () => {
      expect(() => parseManifestText('bad.yaml', 'a: [1, 2\n')).toThrow(/bad.yaml: YAML error/);
      const [cm] = parseManifestText(
        'cm.yaml',
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  DEV_LOGIN: off\n',
      );
      expect(schemaProblems(cm.body)).toEqual([expect.stringContaining('must be string')]);
    });
  });
});

describe('k8s/ layout', () => {
  const top = readdirSync(K8S_DIR);

  it('has no kustomization at the top level (kubectl apply -f k8s would try to apply it)', () => {
    expect(top.filter((name) => /^kustomization(\.ya?ml)?$/i.test(name))).toEqual([]);
  });

  it('holds only manifests and folders at the top level', () => {
    const stray = top.filter((name) => !/\.yaml$/.test(name) && !lstatSync(join(K8S_DIR, name)).isDirectory());
    expect(stray).toEqual([]);
  });

  it(`links every top-level manifest but ${CONFIG_FILE} to the base or, ${HPA_LINK}, to ${HPA_COMPONENT_FILE}`, () => {
    const links = Object.fromEntries(
      manifestFiles(K8S_DIR)
        .filter((name) => `k8s/${name}` !== CONFIG_FILE)
        .map((name) => {
          const path = join(K8S_DIR, name);
          return [name, lstatSync(path).isSymbolicLink() ? readlinkSync(path) : '(not a link)'];
        }),
    );
    const expected = Object.fromEntries(
      Object.keys(links).map((name) => [
        name,
        `k8s/${name}` === HPA_LINK ? HPA_COMPONENT_FILE.replace('k8s/', '') : `base/${name}`,
      ]),
    );
    expect(links).toEqual(expected);
    expect(lstatSync(join(WORKSPACE_ROOT, CONFIG_FILE)).isSymbolicLink()).toBe(false);
  });

  it('kubectl itself reads exactly these objects from k8s/ (following the links)', () => {
    const name = (doc: ManifestDoc) => {
      const group = doc.body.apiVersion?.includes('/') ? `.${doc.body.apiVersion.split('/')[0]}` : '';
      return `${doc.body.kind?.toLowerCase()}${group}/${doc.body.metadata?.name}`;
    };
    expect(kubectlReadNames(K8S_DIR)).toEqual(sets.top.docs.map(name).sort());
  });

  it.each(APPLIED_FOLDERS)('%s: files are named NN-name.yaml, so the apply order is the name order', (folder) => {
    const bad = manifestFiles(join(WORKSPACE_ROOT, folder)).filter((name) => !/^\d{2}-[a-z0-9-]+\.yaml$/.test(name));
    expect(bad).toEqual([]);
  });

  it('creates the namespace first', () => {
    const [first] = manifestFiles(K8S_DIR);
    const docs = sets.top.docs.filter((doc) => doc.file === `k8s/${first}`);
    expect(docs.map((doc) => doc.body.kind)).toEqual(['Namespace']);
  });
});
