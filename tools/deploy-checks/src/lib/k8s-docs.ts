import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';

/**
 * Reads the manifests exactly as `kubectl apply -f <folder>` would: the .yaml/.yml/.json files of one
 * folder (not its subfolders), in name order, every non-empty YAML document of each. YAML 1.1, like
 * the Go YAML library behind kubectl, so `yes`/`on` are booleans here too.
 */

export const WORKSPACE_ROOT = join(__dirname, '../../../..');
export const K8S_DIR = join(WORKSPACE_ROOT, 'k8s');

/** kubectl reads files with these extensions from a folder and ignores the rest (README.md, …). */
export const KUBECTL_EXTENSIONS = ['.yaml', '.yml', '.json'];

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** Any Kubernetes object, before a model has checked it. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [field: string]: unknown;
}

export interface ManifestDoc {
  /** Path from the repository root, e.g. `k8s/30-gateway.yaml`. */
  readonly file: string;
  /** Position of the document in its file, from 0. */
  readonly index: number;
  readonly body: KubeObject;
}

export function describeDoc(doc: ManifestDoc): string {
  return `${doc.file}#${doc.index} ${doc.body.kind ?? '?'}/${doc.body.metadata?.name ?? '?'}`;
}

/** Parses one manifest file's text; throws on any YAML error (kubectl would refuse the file). */
export function parseManifestText(file: string, text: string): ManifestDoc[] {
  const docs: ManifestDoc[] = [];
  parseAllDocuments(text, { version: '1.1' }).forEach((document, index) => {
    if (document.errors.length > 0) {
      throw new Error(`${file}: YAML error in document ${index}: ${document.errors.map((e) => e.message).join('; ')}`);
    }
    const body: unknown = document.toJS({ maxAliasCount: 100 });
    if (body === null || body === undefined) return; // an empty document: kubectl skips it too
    if (typeof body !== 'object' || Array.isArray(body)) {
      throw new Error(`${file}: document ${index} is not a mapping`);
    }
    docs.push({ file, index, body: body as KubeObject });
  });
  return docs;
}

/** Files `kubectl apply -f <folder>` reads, in its order (lexical). */
export function manifestFiles(folder: string): string[] {
  return readdirSync(folder)
    .filter((name) => KUBECTL_EXTENSIONS.some((ext) => name.endsWith(ext)))
    .filter((name) => statSync(join(folder, name)).isFile())
    .sort();
}

export function loadFolder(folder: string): ManifestDoc[] {
  return manifestFiles(folder).flatMap((name) => {
    const path = join(folder, name);
    return parseManifestText(relative(WORKSPACE_ROOT, path), readFileSync(path, 'utf8'));
  });
}

/** `k8s` and every folder below it, as paths relative to the repository root. */
export function manifestFolders(root = K8S_DIR): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    found.push(relative(WORKSPACE_ROOT, dir));
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
    }
  };
  if (existsSync(root)) walk(root);
  return found;
}
