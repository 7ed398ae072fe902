import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  describeDoc,
  K8S_DIR,
  loadAllManifests,
  manifestFiles,
  manifestFolders,
  type ManifestDoc,
  parseManifestText,
  WORKSPACE_ROOT,
} from './lib/k8s-docs';
import { schemaProblems } from './lib/k8s-models';
import { strictFieldProblems } from './lib/strict-fields';

/**
 * Every YAML document under k8s/ (top level and subfolders) must be a kind we have a model for, in
 * an API version a current cluster serves, valid against the model's JSON schema, and without a
 * field the API server does not know. Plus the layout `kubectl apply -f k8s` relies on.
 */

const all = loadAllManifests();

describe('k8s manifests: schema', () => {
  it('finds the manifests', () => {
    expect(all.length).toBeGreaterThan(20);
    expect(manifestFolders()).toEqual(expect.arrayContaining(['k8s', 'k8s/keda', 'k8s/prometheus-adapter']));
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
    expect(top.filter((name) => /^kustomization\.ya?ml$|^Kustomization$/i.test(name))).toEqual([]);
  });

  it('holds only manifests at the top level; variants live in subfolders', () => {
    const stray = top.filter(
      (name) =>
        !/\.yaml$/.test(name) &&
        !readdirSync(K8S_DIR, { withFileTypes: true })
          .find((d) => d.name === name)
          ?.isDirectory(),
    );
    expect(stray).toEqual([]);
  });

  it.each(manifestFolders())('%s: files are named NN-name.yaml, so the apply order is the name order', (folder) => {
    const bad = manifestFiles(join(WORKSPACE_ROOT, folder)).filter((name) => !/^\d{2}-[a-z0-9-]+\.yaml$/.test(name));
    expect(bad).toEqual([]);
  });

  it('creates the namespace first', () => {
    const [first] = manifestFiles(K8S_DIR);
    const docs = all.filter((doc) => doc.file === `k8s/${first}`);
    expect(docs.map((doc) => doc.body.kind)).toEqual(['Namespace']);
  });
});
