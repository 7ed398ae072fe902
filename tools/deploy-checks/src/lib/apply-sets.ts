import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { K8S_DIR, loadFolder, type ManifestDoc, manifestFolders, WORKSPACE_ROOT } from './k8s-docs';
import type { ApplySet } from './k8s-objects';
import { type LabelSelector, selectorMatches } from './labels';
import { renderKustomization, renderOverlayWithComponents } from './kustomize';

/**
 * What gets applied together, each as the command that applies it:
 *
 * - `kubectl apply -f k8s`: the top-level files, read as kubectl reads them. The default set: links
 *   to the kustomize base's manifests (k8s/base/NN-*.yaml) and to components/hpa
 *   (61-hpa-workers.yaml), and 10-config.yaml, the ConfigMaps the base generates from its .env files.
 * - `kubectl apply -k k8s/overlays/<name>`: every overlay, rendered by `kubectl kustomize`.
 * - the production overlay with components/keda, and with components/keda + components/keda-redis,
 *   instead of components/hpa: the one-line switch docs/deploy.md describes.
 * - `k8s/demo`: added on top of the top level. `k8s/prometheus-adapter`: the adapter's, on its own;
 *   its `helm/` folder holds Helm values, not manifests (kubectl apply -f does not descend into it).
 * - `k8s/monitoring`: optional, on top of the app, where the Prometheus Operator's CRDs exist.
 *
 * A new folder must be classified here, or the tests fail.
 */

export const BASE_DIR = join(K8S_DIR, 'base');
export const OVERLAYS_DIR = join(K8S_DIR, 'overlays');
export const COMPONENTS_DIR = join(K8S_DIR, 'components');
export const DEPLOY_DOC = 'docs/deploy.md';

/** Folders `kubectl apply -f` reads: their files are manifests, applied in name order. */
export const APPLIED_FOLDERS = ['k8s', 'k8s/demo', 'k8s/prometheus-adapter', 'k8s/monitoring'];
/** Folders of Helm values files: read by the checks, never applied. */
export const HELM_VALUES_DIR = 'k8s/prometheus-adapter/helm';
const KUSTOMIZE_FOLDERS = [/^k8s\/base$/, /^k8s\/overlays(\/[a-z0-9-]+)?$/, /^k8s\/components(\/[a-z0-9-]+)?$/];

/** The top-level file that links to components/hpa, so `kubectl apply -f k8s` includes the HPAs. */
export const HPA_LINK = 'k8s/61-hpa-workers.yaml';
export const HPA_COMPONENT_FILE = 'k8s/components/hpa/hpa-workers.yaml';
/** The one real top-level file: the ConfigMaps, which the base generates instead. */
export const CONFIG_FILE = 'k8s/10-config.yaml';

/** The `-l` selector of docs/deploy.md's `kubectl -n worker-pattern delete hpa -l …` (switching to KEDA). */
export function kedaDeleteSelector(doc = readFileSync(join(WORKSPACE_ROOT, DEPLOY_DOC), 'utf8')): string {
  const m = doc.match(/^\s*kubectl -n worker-pattern delete hpa -l ([^\s]+)\s*$/m);
  if (!m) throw new Error(`${DEPLOY_DOC} has no line "kubectl -n worker-pattern delete hpa -l <selector>"`);
  return m[1];
}

export function filterBySelector(docs: readonly ManifestDoc[], selector: LabelSelector): ManifestDoc[] {
  return docs.filter((doc) => selectorMatches(selector, doc.body.metadata?.labels));
}

export function overlayNames(): string[] {
  return readdirSync(OVERLAYS_DIR)
    .filter((name) => statSync(join(OVERLAYS_DIR, name)).isDirectory())
    .sort();
}

export function componentNames(): string[] {
  return readdirSync(COMPONENTS_DIR)
    .filter((name) => statSync(join(COMPONENTS_DIR, name)).isDirectory())
    .sort();
}

export interface ApplySets {
  readonly top: ApplySet;
  readonly demo: ApplySet;
  readonly adapter: ApplySet;
  /** `kubectl apply -f k8s/monitoring`: the PodMonitor and the alert rules (Prometheus Operator). */
  readonly monitoring: ApplySet;
  /** `kubectl kustomize k8s/base`: the base alone (no worker autoscaler), never applied by itself. */
  readonly base: ApplySet;
  /** Every overlay, by folder name. */
  readonly overlays: Readonly<Record<string, ApplySet>>;
  /** The production overlay with components/keda instead of components/hpa. */
  readonly keda: ApplySet;
  /** The production overlay with components/keda and components/keda-redis. */
  readonly kedaRedis: ApplySet;
  /** Every set made of the app's manifests (the adapter set is another namespace). */
  readonly appSets: readonly ApplySet[];
}

function swapHpaFor(...names: string[]) {
  return (components: string[]) => {
    const hpa = join(COMPONENTS_DIR, 'hpa');
    if (!components.includes(hpa)) throw new Error('k8s/overlays/production does not use components/hpa');
    return components.flatMap((c) => (c === hpa ? names.map((n) => join(COMPONENTS_DIR, n)) : [c]));
  };
}

let cached: ApplySets | undefined;

/** Renders every set once per test file (kubectl kustomize takes a moment). */
export function loadApplySets(): ApplySets {
  if (cached) return cached;
  const unknown = manifestFolders()
    .filter((f) => !APPLIED_FOLDERS.includes(f) && f !== HELM_VALUES_DIR)
    .filter((f) => !KUSTOMIZE_FOLDERS.some((re) => re.test(f)));
  if (unknown.length)
    throw new Error(`unclassified manifest folder(s) ${unknown.join(', ')}: say in apply-sets.ts how they are applied`);
  const folder = (name: string) =>
    existsSync(join(WORKSPACE_ROOT, name)) ? loadFolder(join(WORKSPACE_ROOT, name)) : [];
  const top: ApplySet = { name: 'kubectl apply -f k8s', docs: loadFolder(K8S_DIR) };
  const overlays = Object.fromEntries(
    overlayNames().map((name) => {
      const dir = join(OVERLAYS_DIR, name);
      const command = `kubectl apply -k ${relative(WORKSPACE_ROOT, dir)}`;
      return [name, { name: command, docs: renderKustomization(dir, command) }];
    }),
  );
  const production = join(OVERLAYS_DIR, 'production');
  const variant = (components: string[]) => {
    const name = `kubectl apply -k k8s/overlays/production (components/${components.join(' + components/')} instead of components/hpa)`;
    return { name, docs: renderOverlayWithComponents(production, swapHpaFor(...components), name) };
  };
  const keda = variant(['keda']);
  const kedaRedis = variant(['keda', 'keda-redis']);
  const demo = {
    name: 'kubectl apply -f k8s && kubectl apply -f k8s/demo',
    docs: [...top.docs, ...folder('k8s/demo')],
  };
  cached = {
    top,
    demo,
    adapter: { name: 'kubectl apply -f k8s/prometheus-adapter', docs: folder('k8s/prometheus-adapter') },
    monitoring: { name: 'kubectl apply -f k8s/monitoring', docs: folder('k8s/monitoring') },
    base: { name: 'kubectl kustomize k8s/base', docs: renderKustomization(BASE_DIR, 'kubectl kustomize k8s/base') },
    overlays,
    keda,
    kedaRedis,
    appSets: [top, demo, ...Object.values(overlays), keda, kedaRedis],
  };
  return cached;
}

/** Top-level folder entries (files kubectl reads, the Kustomization it skips, subfolders). */
export function topLevelEntries(): string[] {
  return readdirSync(K8S_DIR).sort();
}
