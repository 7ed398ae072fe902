import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { type ManifestDoc, parseManifestText, WORKSPACE_ROOT } from './k8s-docs';

/**
 * Renders kustomizations with the real kustomize: `kubectl kustomize DIR`, offline, exactly what
 * `kubectl apply -k DIR` would send. No reimplementation: patches, generators (with their hash
 * suffixes and the references they rename), components and `images:` behave as on a cluster.
 */

export const KUBECTL = process.env['KUBECTL'] ?? 'kubectl';

export class KubectlMissingError extends Error {}

export function kustomizeBuild(dir: string): string {
  try {
    return execFileSync(KUBECTL, ['kustomize', dir], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT')
      throw new KubectlMissingError(
        `${KUBECTL} not found: the deploy checks render every overlay with \`kubectl kustomize\` (kubectl 1.27 or later: Debian 12's kubernetes-client, 1.20, is too old). Install it or set KUBECTL to its path.`,
      );
    throw new Error(
      `kubectl kustomize ${relative(WORKSPACE_ROOT, dir) || dir} failed: ${e.stderr?.trim() || e.message}`,
    );
  }
}

/** The documents `kubectl apply -k DIR` would apply, labelled with that command. */
export function renderKustomization(dir: string, label = `kubectl kustomize ${relative(WORKSPACE_ROOT, dir)}`) {
  return parseManifestText(label, kustomizeBuild(dir));
}

interface KustomizationFile {
  resources?: string[];
  components?: string[];
  [key: string]: unknown;
}

/**
 * Renders an overlay with its `components:` list changed, the way an operator switches the worker
 * autoscaler (one line of the overlay). The overlay's files are copied to a temporary folder and its
 * paths to other folders rewritten from there; `edit` gets and returns absolute paths. Nothing in the
 * repository is written.
 */
export function renderOverlayWithComponents(
  overlayDir: string,
  edit: (components: string[]) => string[],
  label: string,
): ManifestDoc[] {
  const tmp = mkdtempSync(join(tmpdir(), 'deploy-checks-overlay-'));
  try {
    for (const name of readdirSync(overlayDir)) {
      const path = join(overlayDir, name);
      if (statSync(path).isFile()) copyFileSync(path, join(tmp, name));
    }
    const text = readFileSync(join(overlayDir, 'kustomization.yaml'), 'utf8');
    const k = parseYaml(text) as KustomizationFile;
    // kustomize refuses absolute roots: folders are given relative to the temporary copy.
    const fromCopy = (entry: string) => {
      const path = isAbsolute(entry) ? entry : resolve(overlayDir, entry);
      return statSync(path).isDirectory() ? relative(tmp, path) : entry;
    };
    k.resources = (k.resources ?? []).map(fromCopy);
    k.components = edit((k.components ?? []).map((c) => resolve(overlayDir, c))).map((c) => relative(tmp, c));
    writeFileSync(join(tmp, 'kustomization.yaml'), stringifyYaml(k));
    return parseManifestText(label, kustomizeBuild(tmp));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Renders a kustomization written in a temporary folder; `make` gets a function that turns an
 * absolute path into one relative to that folder (kustomize refuses absolute roots).
 */
export function renderKustomizationText(make: (fromHere: (path: string) => string) => string, label: string) {
  const tmp = mkdtempSync(join(tmpdir(), 'deploy-checks-kustomization-'));
  try {
    writeFileSync(
      join(tmp, 'kustomization.yaml'),
      make((path) => relative(tmp, path)),
    );
    return parseManifestText(label, kustomizeBuild(tmp));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The objects `kubectl apply -f DIR` would send, as kubectl itself reads the folder (offline: a
 * local label edit, printed by name, e.g. `deployment.apps/gateway`).
 */
export function kubectlReadNames(dir: string): string[] {
  const out = execFileSync(KUBECTL, ['label', '--local', '-f', dir, 'deploy-checks=read', '-o', 'name'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return out.split('\n').filter(Boolean).sort();
}
