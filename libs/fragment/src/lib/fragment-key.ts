import { createHash } from 'node:crypto';
import type { FragmentDefinition } from './fragment-definition';

/**
 * Canonical JSON: object keys sorted, `undefined` members dropped, no whitespace. Two values that
 * mean the same params always give the same text, and JSON text is injective, so two different
 * params never do.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.keys(value)
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  throw new TypeError(`canonicalJson: unsupported ${typeof value}`);
}

/**
 * The identity of one fragment copy: `<name>:v<version>:<scope part>:<canonical params>`.
 * The name is `[a-z0-9-]`, the version and viewer are integers and the params come last as
 * canonical JSON, so the layout cannot be forged by any param value. A viewer-scoped id always
 * carries the authenticated viewer; a public one never does.
 */
export function fragmentId(definition: FragmentDefinition, viewerId: number | null, params: object): string {
  let scopePart: string;
  if (definition.scope === 'viewer') {
    if (viewerId === null || !Number.isSafeInteger(viewerId) || viewerId < 1) {
      throw new TypeError(`fragment "${definition.name}" is viewer-scoped and needs an authenticated viewer`);
    }
    scopePart = `u${viewerId}`;
  } else {
    scopePart = 'pub';
  }
  return `${definition.name}:v${definition.version}:${scopePart}:${canonicalJson(params)}`;
}

/** The Redis hash holding one fragment copy's data, lease and failure record. */
export function fragmentKey(keyPrefix: string, id: string): string {
  return `${keyPrefix}frag:${id}`;
}

/**
 * Bull job id for one build generation. Derived from the key, so a duplicate enqueue of the same
 * generation is a no-op in Bull too; carrying the generation means a kept completed job of an
 * earlier generation can never block the next build (Bull silently ignores a re-used id).
 */
export function buildJobId(fragmentName: string, key: string, generation: number): string {
  const digest = createHash('sha1').update(key).digest('hex');
  return `${fragmentName}.${digest}.${generation}`;
}

/**
 * The pub/sub channel (and Nest event pattern) on which workers announce that a fragment copy is
 * ready or failed. It is a constant because Nest patterns are static; events of other deployments
 * sharing a Redis carry keys under another prefix and find no listener.
 */
export const FRAGMENT_SETTLED_PATTERN = 'fragment.settled';
