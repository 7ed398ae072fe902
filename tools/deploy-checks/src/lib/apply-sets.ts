import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { K8S_DIR, loadFolder, type ManifestDoc, manifestFolders, WORKSPACE_ROOT } from './k8s-docs';
import type { ApplySet } from './k8s-objects';
import { type LabelSelector, parseSelectorString, selectorMatches } from './labels';

/**
 * What gets applied together. `kubectl apply -f k8s` reads the top level only; each subfolder is a
 * variant or an add-on with its own instructions:
 *
 * - `keda/`: replaces the worker HPAs. Its README's commands delete them and re-apply the top level
 *   with a label selector that leaves them out; the apply set is built from that very command, so
 *   the test and the documentation cannot drift apart.
 * - `demo/`: added on top of the top level.
 * - `prometheus-adapter/`: the adapter's configuration, in the adapter's namespace, on its own.
 *
 * A new subfolder must be classified here, or the tests fail.
 */

export const KEDA_README = 'k8s/keda/README.md';

const ADDITIVE = ['k8s/demo'];
const REPLACING = ['k8s/keda'];
const STANDALONE = ['k8s/prometheus-adapter'];

/** The `-l` selector of the README's `kubectl apply -f k8s -l '…'` line. */
export function kedaTopLevelSelector(readme = readFileSync(join(WORKSPACE_ROOT, KEDA_README), 'utf8')): string {
  const m = readme.match(/^\s*kubectl apply -f k8s -l '([^']+)'\s*$/m);
  if (!m) throw new Error(`${KEDA_README} has no line "kubectl apply -f k8s -l '<selector>'"`);
  return m[1];
}

/** The `-l` selector of the README's `kubectl … delete hpa -l …` line (what it removes from a cluster). */
export function kedaDeleteSelector(readme = readFileSync(join(WORKSPACE_ROOT, KEDA_README), 'utf8')): string {
  const m = readme.match(/^\s*kubectl -n worker-pattern delete hpa -l ([^\s]+)\s*$/m);
  if (!m) throw new Error(`${KEDA_README} has no line "kubectl -n worker-pattern delete hpa -l <selector>"`);
  return m[1];
}

export function filterBySelector(docs: readonly ManifestDoc[], selector: LabelSelector): ManifestDoc[] {
  return docs.filter((doc) => selectorMatches(selector, doc.body.metadata?.labels));
}

export interface ApplySets {
  readonly top: ApplySet;
  readonly keda: ApplySet;
  readonly demo: ApplySet;
  readonly adapter: ApplySet;
  /** Every set made of the app's manifests (the adapter set is another namespace). */
  readonly appSets: readonly ApplySet[];
}

export function loadApplySets(): ApplySets {
  const folders = manifestFolders().filter((f) => f !== 'k8s');
  const unknown = folders.filter((f) => ![...ADDITIVE, ...REPLACING, ...STANDALONE].includes(f));
  if (unknown.length)
    throw new Error(`unclassified manifest folder(s) ${unknown.join(', ')}: say in apply-sets.ts how they are applied`);
  const top = loadFolder(K8S_DIR);
  const folder = (name: string) =>
    existsSync(join(WORKSPACE_ROOT, name)) ? loadFolder(join(WORKSPACE_ROOT, name)) : [];
  const kedaTop = filterBySelector(top, parseSelectorString(kedaTopLevelSelector()));
  const sets = {
    top: { name: 'kubectl apply -f k8s', docs: top },
    keda: {
      name: `kubectl apply -f k8s -l '${kedaTopLevelSelector()}' && kubectl apply -f k8s/keda`,
      docs: [...kedaTop, ...folder('k8s/keda')],
    },
    demo: { name: 'kubectl apply -f k8s && kubectl apply -f k8s/demo', docs: [...top, ...folder('k8s/demo')] },
    adapter: { name: 'kubectl apply -f k8s/prometheus-adapter', docs: folder('k8s/prometheus-adapter') },
  };
  return { ...sets, appSets: [sets.top, sets.keda, sets.demo] };
}

/** Top-level folder entries that are not manifests kubectl reads (a kustomization, stray files). */
export function topLevelEntries(): string[] {
  return readdirSync(K8S_DIR).sort();
}
