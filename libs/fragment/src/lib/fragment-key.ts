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

/** A copy's id and the key it lives under: what the gateway derives and a worker checks a job against. */
export function fragmentLocation(
  keyPrefix: string,
  definition: FragmentDefinition,
  viewerId: number | null,
  params: object,
): { readonly id: string; readonly key: string } {
  const id = fragmentId(definition, viewerId, params);
  return { id, key: fragmentKey(keyPrefix, fragmentTag(definition, viewerId, params, id), id) };
}

/**
 * The hash tag that places a copy in a Redis Cluster slot. Copies about one user share `u<id>`: a
 * viewer's own fragments by the viewer, a public one by `locality` (a profile by its user), so a
 * viewer's whole page is one script call on one shard, and so are that viewer's rate-limit counters.
 * A public copy about no one user gets a tag of its own, derived from its id.
 */
export function fragmentTag(
  definition: FragmentDefinition,
  viewerId: number | null,
  params: object,
  id: string,
): string {
  if (definition.scope === 'viewer' && viewerId !== null) return userTag(viewerId);
  const user = definition.locality?.(params as never);
  if (user !== undefined) return userTag(user);
  return `${definition.name}:${createHash('sha1').update(id).digest('hex').slice(0, 16)}`;
}

/** The hash tag of everything about one user. */
export function userTag(userId: number): string {
  if (!Number.isSafeInteger(userId) || userId < 1) throw new TypeError(`not a user id: ${userId}`);
  return `u${userId}`;
}

/**
 * The Redis hash holding one fragment copy's data, leases and failure record; also the name of the
 * sharded pub/sub channel its readiness events travel on, so both live on the copy's shard.
 */
export function fragmentKey(keyPrefix: string, tag: string, id: string): string {
  return `${keyPrefix}frag:{${tag}}:${id}`;
}

/**
 * The hash tag of a key (the text between its first `{` and the next `}`), which decides its
 * Cluster slot: keys with the same tag can go to one script call. Undefined for untagged keys.
 */
export function hashTagOf(key: string): string | undefined {
  const open = key.indexOf('{');
  if (open < 0) return undefined;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : undefined;
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
 * The Nest event pattern of readiness events. Each event travels on its copy's own sharded channel
 * (the copy's key), and its envelope names this pattern, so the gateway's `@EventPattern` handler
 * receives events of exactly the copies it subscribed to.
 */
export const FRAGMENT_SETTLED_PATTERN = 'fragment.settled';
